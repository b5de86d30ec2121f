//! The level a log line declares (`ERROR`, `[warn]`, `level=error`, `fatal:`), as a [`Severity`].
//!
//! A level word counts only where logs put levels, so that "parity error corrected" stays info:
//! - in capitals as a token of its own: `ERROR`, `WARN`, `[FATAL]`, `<ERROR>`, `ERROR:`;
//! - in any case when bracketed (`[error]`, `(warn)`, `<crit>`), followed by a colon (`error:`,
//!   `Warning :`), or as the value of a level key (`level=error`, `"severity":"warning"`).
//!
//! The first level word of the line wins (the header comes first). Mapping: fatal, panic, emerg,
//! emergency, alert, crit, critical → critical; error, err, severe → major; warn, warning →
//! warning; info, notice, debug, trace, verbose, fine → info.

use crate::model::Severity;

/// The severity of a level word (any case), if it is one.
fn level_word(word: &str) -> Option<Severity> {
    if word.is_empty() || word.len() > 9 {
        return None;
    }
    let mut buf = [0u8; 9];
    let lower = &mut buf[..word.len()];
    lower.copy_from_slice(word.as_bytes());
    lower.make_ascii_lowercase();
    Some(match &*lower {
        b"fatal" | b"panic" | b"emerg" | b"emergency" | b"alert" | b"crit" | b"critical" => Severity::Critical,
        b"error" | b"err" | b"severe" => Severity::Major,
        b"warn" | b"warning" => Severity::Warning,
        b"info" | b"notice" | b"debug" | b"trace" | b"verbose" | b"fine" => Severity::Info,
        _ => return None,
    })
}

/// Keys whose value is a level.
fn is_level_key(key: &str) -> bool {
    matches!(
        key.to_ascii_lowercase().as_str(),
        "level" | "lvl" | "severity" | "loglevel" | "log.level" | "levelname" | "log_level"
    )
}

/// The level `line` declares, or `None` when it declares none.
pub fn detect_level(line: &str) -> Option<Severity> {
    if line.contains('"') {
        if let Some(level) = json_level(line) {
            return Some(level);
        }
    }
    let mut tokens = line.split_whitespace().peekable();
    while let Some(token) = tokens.next() {
        let next_is_colon = tokens.peek().is_some_and(|t| *t == ":");
        if let Some(level) = token_level(token, next_is_colon) {
            return Some(level);
        }
    }
    None
}

/// `"level": "error"` and the like, as JSON loggers write it: the first level key's value.
fn json_level(line: &str) -> Option<Severity> {
    let mut rest = line;
    while let Some(open) = rest.find('"') {
        let after = &rest[open + 1..];
        let close = after.find('"')?;
        let key = &after[..close];
        let tail = after[close + 1..].trim_start();
        if is_level_key(key) {
            if let Some(value) = tail.strip_prefix(':').map(str::trim_start).and_then(|v| v.strip_prefix('"')) {
                let end = value.find('"')?;
                return level_word(&value[..end]);
            }
        }
        rest = &after[close + 1..];
    }
    None
}

fn token_level(token: &str, next_is_colon: bool) -> Option<Severity> {
    // key=value and "key":"value" (JSON): the value of a level key.
    for sep in ['=', ':'] {
        if let Some(i) = token.find(sep) {
            let key = token[..i].trim_matches(|c| matches!(c, '"' | '\'' | '{' | ',' | '['));
            let value = token[i + 1..].trim_matches(|c| matches!(c, '"' | '\'' | ',' | '}' | ']'));
            if !value.is_empty() && is_level_key(key) {
                return level_word(value);
            }
        }
    }
    let bracketed = (token.starts_with('[') && token.ends_with(']'))
        || (token.starts_with('(') && token.ends_with(')'))
        || (token.starts_with('<') && token.ends_with('>'));
    let colon = token.ends_with(':') || next_is_colon;
    let word = token.trim_matches(|c: char| !c.is_ascii_alphabetic());
    // Only surrounding punctuation may be trimmed: `error-prone` or `errors` are not levels.
    let level = level_word(word)?;
    let capitals = word.bytes().all(|c| c.is_ascii_uppercase());
    (capitals || bracketed || colon).then_some(level)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capital_level_tokens() {
        assert_eq!(detect_level("081109 203615 148 INFO dfs.DataNode: x"), Some(Severity::Info));
        assert_eq!(detect_level("2015-10-18 18:01:47,978 WARN [main] x"), Some(Severity::Warning));
        assert_eq!(detect_level("RAS KERNEL FATAL data TLB error interrupt"), Some(Severity::Critical));
        assert_eq!(detect_level("E [ERROR] disk"), Some(Severity::Major));
        assert_eq!(detect_level("SEVERE: lost"), Some(Severity::Major));
    }

    #[test]
    fn bracketed_colon_and_key_value_levels_in_any_case() {
        assert_eq!(detect_level("[Sun Dec 04 04:47:44 2005] [error] mod_jk child"), Some(Severity::Major));
        assert_eq!(detect_level("sshd[1]: error: Received disconnect"), Some(Severity::Major));
        assert_eq!(detect_level("fatal: Write failed"), Some(Severity::Critical));
        assert_eq!(detect_level("host:80 error : Could not connect"), Some(Severity::Major));
        assert_eq!(detect_level("ts=1 level=warn msg=slow"), Some(Severity::Warning));
        assert_eq!(detect_level(r#"{"time":"x","level":"error","msg":"boom"}"#), Some(Severity::Major));
        assert_eq!(detect_level("Warning: can't get client address"), Some(Severity::Warning));
    }

    #[test]
    fn level_words_in_prose_are_not_levels() {
        assert_eq!(detect_level("instruction cache parity error corrected"), None);
        assert_eq!(detect_level("connection attempt failed with error 10061"), None);
        assert_eq!(detect_level("errors=3 error-prone Errors"), None);
        assert_eq!(detect_level(""), None);
    }

    #[test]
    fn first_level_wins() {
        assert_eq!(detect_level("INFO retrying after ERROR"), Some(Severity::Info));
    }
}
