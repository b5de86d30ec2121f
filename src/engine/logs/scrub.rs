//! Credentials out of log lines before they are mined, counted or kept.
//!
//! Log lines reach the journal (a bounded sample of raw lines, and the templates mined from
//! them), and faultline never journals a secret. Applications do log them: `password=hunter2`,
//! `"api_key": "…"`, `Authorization: Bearer eyJ…`, `postgres://app:s3cret@db/orders`. So before a
//! line meets the miner, the value after a key that names a credential, the token after `Bearer`
//! or `Basic`, and the password in a URL's user info become `****`. The key stays, so a line still
//! says what it was about, and the template it mines to is the same for every secret.
//!
//! A key names a credential when, lowercased, it contains one of [`SECRET_WORDS`]; the value runs
//! to the next space, quote, comma, semicolon or `&`. This is a rule over words, not a scanner of
//! secret formats: a credential logged with no key in front of it (a bare token) is not found.

use std::borrow::Cow;

/// What replaces a credential.
pub const MASK: &str = "****";

/// Parts of key names that name credentials.
pub const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "access_key",
    "accesskey",
    "private_key",
    "credential",
    "authorization",
    "cookie",
    "session_id",
    "sessionid",
];

/// `line` with credentials masked (borrowed when there were none).
pub fn scrub(line: &str) -> Cow<'_, str> {
    let b = line.as_bytes();
    // Spans (start, end) of values to mask, in order, not overlapping.
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'=' | b':' => {
                if let Some(span) = keyed_value(b, i) {
                    spans.push(span);
                    i = span.1;
                    continue;
                }
                if b[i] == b':' && b[i..].starts_with(b"://") {
                    if let Some(span) = url_password(b, i + 3) {
                        spans.push(span);
                        i = span.1;
                        continue;
                    }
                }
            }
            b'B' | b'b' => {
                if let Some(span) = scheme_token(b, i) {
                    spans.push(span);
                    i = span.1;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    if spans.is_empty() {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut last = 0;
    for (start, end) in spans {
        out.push_str(&line[last..start]);
        out.push_str(MASK);
        last = end;
    }
    out.push_str(&line[last..]);
    Cow::Owned(out)
}

fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')
}

fn ends_value(c: u8) -> bool {
    c.is_ascii_whitespace() || matches!(c, b'"' | b'\'' | b',' | b';' | b'&' | b'}' | b')' | b']')
}

/// The value after the `=` or `:` at `sep` when the key before it names a credential.
fn keyed_value(b: &[u8], sep: usize) -> Option<(usize, usize)> {
    // The key: word bytes just before the separator, skipping a closing quote (`"password":`).
    let mut end = sep;
    if end > 0 && matches!(b[end - 1], b'"' | b'\'') {
        end -= 1;
    }
    let mut start = end;
    while start > 0 && end - start < 40 && is_key_byte(b[start - 1]) {
        start -= 1;
    }
    if start == end {
        return None;
    }
    let key = std::str::from_utf8(&b[start..end]).ok()?.to_ascii_lowercase();
    if !SECRET_WORDS.iter().any(|w| key.contains(w)) {
        return None;
    }
    // The value: after optional spaces and an opening quote, up to its end.
    let mut v = sep + 1;
    while v < b.len() && b[v] == b' ' {
        v += 1;
    }
    let quote = (v < b.len() && matches!(b[v], b'"' | b'\'')).then(|| b[v]);
    if quote.is_some() {
        v += 1;
    }
    // `Authorization: Bearer x`: mask the token, keep the scheme word.
    if let Some(span) = scheme_token(b, v) {
        return Some(span);
    }
    let mut e = v;
    match quote {
        // A quoted value runs to its closing quote, spaces and all.
        Some(q) => {
            while e < b.len() && b[e] != q {
                e += 1;
            }
        }
        None => {
            while e < b.len() && !ends_value(b[e]) {
                e += 1;
            }
        }
    }
    (e > v).then_some((v, e))
}

/// The token after `Bearer ` or `Basic ` starting at `at` (case-insensitive, at a word start).
fn scheme_token(b: &[u8], at: usize) -> Option<(usize, usize)> {
    if at > 0 && is_key_byte(b[at - 1]) {
        return None;
    }
    let rest = &b[at..];
    let word = [b"bearer ".as_slice(), b"basic ".as_slice()]
        .into_iter()
        .find(|w| rest.len() > w.len() && rest[..w.len()].eq_ignore_ascii_case(w))?;
    let v = at + word.len();
    let mut e = v;
    while e < b.len() && !ends_value(b[e]) {
        e += 1;
    }
    // A token is long; "basic auth failed" is a phrase, not a credential.
    (e - v >= 8).then_some((v, e))
}

/// The password of `user:password@host` starting at `at` (just after `://`).
fn url_password(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut i = at;
    let mut colon = None;
    while i < b.len() && !ends_value(b[i]) && b[i] != b'/' {
        match b[i] {
            b':' if colon.is_none() => colon = Some(i),
            b'@' => return colon.map(|c| (c + 1, i)).filter(|(s, e)| e > s),
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_after_keys_tokens_and_url_passwords_are_masked() {
        let cases = [
            ("login ok user=bob password=hunter2 from 10.0.0.1", "login ok user=bob password=**** from 10.0.0.1"),
            (r#"{"api_key": "AKIA123456", "region": "eu"}"#, r#"{"api_key": "****", "region": "eu"}"#),
            ("GET /x Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc", "GET /x Authorization: Bearer ****"),
            (
                "connecting to postgres://app:s3cret@db-1:5432/orders",
                "connecting to postgres://app:****@db-1:5432/orders",
            ),
            ("DB_PASSWD='x y' ok", "DB_PASSWD='****' ok"),
            ("session_id=abc123; path=/", "session_id=****; path=/"),
            ("curl -H 'authorization: basic dXNlcjpwYXNz'", "curl -H 'authorization: basic ****'"),
        ];
        for (line, want) in cases {
            assert_eq!(scrub(line), want, "{line}");
        }
    }

    #[test]
    fn lines_without_credentials_are_left_as_they_are() {
        for line in [
            "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=10.1.2.3 user=root",
            "basic auth failed for user bob",
            "token bucket refilled: 20 tokens",
            "http://example.com/a?b=c",
            "keys=3 took 12ms",
        ] {
            assert!(matches!(scrub(line), Cow::Borrowed(_)), "{line} -> {}", scrub(line));
        }
    }

    #[test]
    fn the_same_line_with_different_secrets_scrubs_to_the_same_text() {
        assert_eq!(scrub("password=a1"), scrub("password=zz9"));
    }
}
