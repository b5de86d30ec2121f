//! Masking: the variable parts of a log line become `<*>` before the line meets the template tree.
//!
//! One pass over the tokens (separated by ASCII whitespace), no regular expressions. What is masked:
//! - whole values: URLs (`scheme://…`), e-mail addresses, UUIDs and file paths (`/a/b`, `~/a`,
//!   `./a`, `C:\a`), alone or as the value of `key=value`;
//! - inside a token, starting at a word boundary (the start, or after a character that is not a
//!   letter or digit): IPv4 addresses, IPv6 addresses (with `::` or all eight groups), MAC
//!   addresses, `0x` hex numbers, hex ids (6 or more hex digits with at least one digit and one
//!   letter), and numbers (a run of digits, with a sign when the sign itself starts a word; with a
//!   unit of at most three letters glued to it, as in `16K`, `126MB`, `30ms`);
//! - across tokens: a number and an abbreviated unit (`5 ms`, `<1 sec`, `1.5 GB`) are one
//!   variable; a value restated in other units in parentheses after a quantity is dropped
//!   (`1190 bytes (1.16 KB) sent` reads `<*> bytes sent`); month and weekday names in a date
//!   (`Fri Jun 17 07:07:00`, `17 Jun 2005`) are variables.
//!
//! Punctuation around a masked part stays, so `10.1.2.3:50010` becomes `<*>:<*>`, `blk_-42`
//! becomes `blk_<*>` and `uid=0` becomes `uid=<*>`. Digits glued to the end of a word stay as
//! they are (`ssh2`, `tty1`, `e820`): they name things more often than they count them. Units
//! spelled out (`seconds`, `bytes`) stay words.

/// The marker of a variable part, in masked lines and in templates.
pub const WILDCARD: &str = "<*>";

/// Byte classes, looked up once per byte while splitting the line.
const SPACE: u8 = 1;
const DIGIT: u8 = 2;
const LETTER: u8 = 4;
const NON_ASCII: u8 = 8;
/// `/`, `\`: paths, URLs.
const SLASH: u8 = 16;
const COLON: u8 = 32;
const STAR: u8 = 64;
/// `@`: e-mail addresses.
const AT: u8 = 128;

static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        table[i] = if c.is_ascii_whitespace() {
            SPACE
        } else if c.is_ascii_digit() {
            DIGIT
        } else if c.is_ascii_alphabetic() {
            LETTER
        } else if c >= 0x80 {
            NON_ASCII
        } else if c == b'/' || c == b'\\' {
            SLASH
        } else if c == b'@' {
            AT
        } else if c == b':' {
            COLON
        } else if c == b'*' {
            STAR
        } else {
            0
        };
        i += 1;
    }
    table
};

/// Hex digit values for [`variable_at`]'s runs: 1 for a decimal digit, 2 for `a-f` and `A-F`,
/// 0 for other bytes (one lookup instead of the range tests).
static HEX: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        table[i] = if c.is_ascii_digit() {
            1
        } else if c.is_ascii_hexdigit() {
            2
        } else {
            0
        };
        i += 1;
    }
    table
};

/// Masks lines, reusing its buffers.
#[derive(Debug, Default)]
pub struct Masker {
    /// The current line's tokens: byte range and the classes of their bytes.
    raw: Vec<(usize, usize, u8)>,
    /// The masked tokens, one after the other (tokens masking left alone stay in the line).
    out: String,
    /// Per token: its byte range, in `out` when the start has [`IN_OUT`], else in the line, and
    /// whether a `<*>` is in it.
    spans: Vec<(u32, u32, bool)>,
}

/// Marks a span of [`Masker`] as one in its own buffer.
const IN_OUT: u32 = 1 << 31;

/// One masked line: its tokens, borrowed from the line where masking left them alone.
#[derive(Debug, Clone, Copy)]
pub struct MaskedLine<'a> {
    line: &'a str,
    out: &'a str,
    spans: &'a [(u32, u32, bool)],
}

impl<'a> MaskedLine<'a> {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Token `i` (panics when `i >= len()`).
    #[inline]
    pub fn token(&self, i: usize) -> &'a str {
        let (start, end, _) = self.spans[i];
        if start & IN_OUT != 0 {
            &self.out[(start & !IN_OUT) as usize..end as usize]
        } else {
            &self.line[start as usize..end as usize]
        }
    }

    /// The bytes of token `i`, without `str`'s character boundary checks (panics when
    /// `i >= len()`).
    #[inline]
    pub fn token_bytes(&self, i: usize) -> &'a [u8] {
        let (start, end, _) = self.spans[i];
        if start & IN_OUT != 0 {
            &self.out.as_bytes()[(start & !IN_OUT) as usize..end as usize]
        } else {
            &self.line.as_bytes()[start as usize..end as usize]
        }
    }

    /// Whether token `i` holds a `<*>` (panics when `i >= len()`).
    pub fn is_variable(&self, i: usize) -> bool {
        self.spans[i].2
    }

    /// The tokens separated by single spaces.
    pub fn joined(&self) -> String {
        (0..self.len()).map(|i| self.token(i)).collect::<Vec<_>>().join(" ")
    }
}

impl Masker {
    /// Masks `line`; the result borrows the line and the masker until the next line.
    pub fn mask_line<'a>(&'a mut self, line: &'a str) -> MaskedLine<'a> {
        self.out.clear();
        self.spans.clear();
        self.raw.clear();
        let b = line.as_bytes();
        let n = b.len();
        let mut i = 0;
        loop {
            while i < n && CLASS[b[i] as usize] == SPACE {
                i += 1;
            }
            if i == n {
                break;
            }
            let start = i;
            let mut classes = 0;
            while i < n {
                let class = CLASS[b[i] as usize];
                if class == SPACE {
                    break;
                }
                classes |= class;
                i += 1;
            }
            self.raw.push((start, i, classes));
        }
        let raw_tokens = &self.raw;
        let raw = |i: usize| -> Option<&str> { raw_tokens.get(i).map(|(s, e, _)| &line[*s..*e]) };
        let out = &mut self.out;
        let spans = &mut self.spans;
        let mut i = 0;
        while let Some(token) = raw(i) {
            let (token_start, token_end, classes) = raw_tokens[i];
            let first = token.as_bytes()[0];
            // Most tokens are words: no rule below applies to a word that cannot start a date name
            // (see `may_be_date_name`). (A restated value and a spaced quantity have a digit.)
            if classes & (DIGIT | COLON | SLASH | AT | STAR) == 0
                && !first.is_ascii_uppercase()
                && !matches!(first, b'(' | b'[')
            {
                spans.push((token_start as u32, token_end as u32, false));
                i += 1;
                continue;
            }
            // A value restated in other units: dropped, its trailing punctuation kept.
            if let Some((taken, trail)) = if first == b'(' { restatement(token, raw(i + 1)) } else { None } {
                if let (Some(before), Some(last)) = (raw(i.wrapping_sub(1)), spans.last_mut()) {
                    if is_quantity_word(before) {
                        if last.0 & IN_OUT == 0 {
                            // The quantity word was the line's: it moves to `out` to take the trail.
                            let word = &line[last.0 as usize..last.1 as usize];
                            *last = (out.len() as u32 | IN_OUT, 0, last.2);
                            out.push_str(word);
                        }
                        out.push_str(trail);
                        last.1 = out.len() as u32;
                        i += taken;
                        continue;
                    }
                }
            }
            let start = out.len();
            let may_be_number =
                classes & DIGIT != 0 && (first.is_ascii_digit() || matches!(first, b'(' | b'[' | b'<' | b'>' | b'~'));
            let quantity = if may_be_number { raw(i + 1).and_then(|unit| spaced_quantity(token, unit)) } else { None };
            let masked = if let Some((lead, trail)) = quantity {
                out.push_str(lead);
                out.push_str(WILDCARD);
                out.push_str(trail);
                i += 2;
                true
            } else if may_be_date_name(token) && is_date_name(strip_wrapping(token).1) && in_date(&raw, i) {
                let (lead, _, trail) = strip_wrapping(token);
                out.push_str(lead);
                out.push_str(WILDCARD);
                out.push_str(trail);
                i += 1;
                true
            } else {
                i += 1;
                mask_token(token, classes, out)
            };
            if masked {
                if repeats_previous(spans, out, start) {
                    // A list of like values (`@0x7fe @0x7ff …`) reads as one, whatever its length.
                    out.truncate(start);
                } else {
                    spans.push((start as u32 | IN_OUT, out.len() as u32, true));
                }
            } else {
                // A `<*>` may also come with the line itself.
                spans.push((token_start as u32, token_end as u32, classes & STAR != 0 && token.contains(WILDCARD)));
            }
        }
        MaskedLine { line, out: &self.out, spans: &self.spans }
    }
}

/// Whether the masked token just written to `out[start..]` is the same text as the previous
/// token, itself masked, and starts with a prefix naming the kind of value (`@<*>`, `blk_<*>`):
/// the next item of a list of like values. (From HDFS `BLOCK* ask 10.250.14.224:50010 to delete
/// blk_-1 blk_2 …`, one event with 1 to 100 blocks, and a Windows CSI analogue,
/// `called (stack @0x7fed806eb5d @0x7fefa1c8728 …)`, as many addresses as frames: a varying
/// token count would split the event. A value without a prefix (`<*>`, `<*>:`) is no list:
/// OpenSSH `Received disconnect from 1.2.3.4: 11: Bye Bye` has an address and a code, and
/// ground truths write `<*> <*> <*>` for fixed groups such as a date.)
fn repeats_previous(spans: &[(u32, u32, bool)], out: &str, start: usize) -> bool {
    let Some(&(prev_start, prev_end, true)) = spans.last() else { return false };
    if prev_start & IN_OUT == 0 {
        return false;
    }
    let previous = &out[(prev_start & !IN_OUT) as usize..prev_end as usize];
    !previous.starts_with(WILDCARD) && previous == &out[start..]
}

/// Masks one line into a fresh string, tokens separated by single spaces (tests and one-off
/// use; the miner reuses a [`Masker`]).
pub fn mask(line: &str) -> String {
    Masker::default().mask_line(line).joined()
}

/// Abbreviated units of time and size, which make a number before them one quantity.
fn is_unit(word: &str) -> bool {
    matches!(
        word,
        "ns" | "us"
            | "µs"
            | "ms"
            | "s"
            | "sec"
            | "secs"
            | "min"
            | "mins"
            | "h"
            | "hr"
            | "hrs"
            | "B"
            | "KB"
            | "kB"
            | "KiB"
            | "MB"
            | "MiB"
            | "GB"
            | "GiB"
            | "TB"
            | "TiB"
    )
}

/// A plain number, possibly decimal, possibly after a comparison (`<1`, `~2.5`).
fn is_plain_number(s: &str) -> bool {
    let b = s.as_bytes();
    let b = match b.first() {
        Some(b'<' | b'>' | b'~') => &b[1..],
        _ => b,
    };
    let whole = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if whole == 0 {
        return false;
    }
    match &b[whole..] {
        [] => true,
        [b'.', rest @ ..] => !rest.is_empty() && rest.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// `5 ms`, `<1 sec,`, `(16 KB)`: the number token and the unit token make one variable; returns
/// what precedes the number (an opening bracket) and what follows the unit (punctuation).
fn spaced_quantity<'a, 'b>(number: &'a str, unit: &'b str) -> Option<(&'a str, &'b str)> {
    // Every unit starts with one of these bytes (0xC2: `µ`); most next words do not.
    if !matches!(unit.as_bytes()[0], b'n' | b'u' | 0xC2 | b'm' | b's' | b'h' | b'B' | b'K' | b'k' | b'M' | b'G' | b'T')
    {
        return None;
    }
    let bare = number.trim_start_matches(['(', '[']);
    if !is_plain_number(bare) {
        return None;
    }
    let word = unit.trim_end_matches([',', ';', '.', ':', ')', ']']);
    is_unit(word).then(|| (&number[..number.len() - bare.len()], &unit[word.len()..]))
}

/// A word a restated value may follow: a number or a unit, spelled out or not.
fn is_quantity_word(token: &str) -> bool {
    is_plain_number(token)
        || is_unit(token)
        || matches!(token, "byte" | "bytes" | "second" | "seconds" | "minute" | "minutes" | "hours")
}

/// `(1.16 KB)` or `(1.16KB)` starting at `token`: how many tokens it takes and what follows
/// its closing parenthesis.
fn restatement<'a>(token: &'a str, next: Option<&'a str>) -> Option<(usize, &'a str)> {
    let inner = token.strip_prefix('(')?;
    if let Some(close) = inner.find(')') {
        let (value, trail) = (&inner[..close], &inner[close + 1..]);
        let digits = value.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let unit = &value[digits.len()..];
        return (is_plain_number(digits) && is_unit(unit) && is_trail(trail)).then_some((1, trail));
    }
    let next = next?;
    let close = next.find(')')?;
    let (unit, trail) = (&next[..close], &next[close + 1..]);
    (is_plain_number(inner) && is_unit(unit) && is_trail(trail)).then_some((2, trail))
}

fn is_trail(s: &str) -> bool {
    s.bytes().all(|c| c.is_ascii_punctuation())
}

/// A cheap first look: a capital letter, after at most one opening bracket, starting the three
/// letters a month or weekday name starts with.
fn may_be_date_name(token: &str) -> bool {
    let b = token.as_bytes();
    let start = if b[0].is_ascii_uppercase() {
        0
    } else if b.len() > 1 && matches!(b[0], b'(' | b'[') && b[1].is_ascii_uppercase() {
        1
    } else {
        return false;
    };
    // What `strip_wrapping` leaves starts at `start` (a capital is not wrapping), and
    // `is_date_name` looks at its first three letters, which no trailing punctuation can cut.
    b.len() >= start + 3
        && is_date_head([b[start] | 0x20, b[start + 1].to_ascii_lowercase(), b[start + 2].to_ascii_lowercase()])
}

/// The first three letters of a month or weekday name, in lower case.
fn is_date_head(head: [u8; 3]) -> bool {
    matches!(
        &head,
        b"jan"
            | b"feb"
            | b"mar"
            | b"apr"
            | b"may"
            | b"jun"
            | b"jul"
            | b"aug"
            | b"sep"
            | b"oct"
            | b"nov"
            | b"dec"
            | b"mon"
            | b"tue"
            | b"wed"
            | b"thu"
            | b"fri"
            | b"sat"
            | b"sun"
    )
}

/// Month and weekday names, three letters or in full, capitalised.
fn is_date_name(word: &str) -> bool {
    let b = word.as_bytes();
    if !(3..=9).contains(&b.len()) || !b[0].is_ascii_uppercase() {
        return false;
    }
    let head = [b[0].to_ascii_lowercase(), b[1].to_ascii_lowercase(), b[2].to_ascii_lowercase()];
    let full: &[&str] = match &head {
        b"jan" => &["january"],
        b"feb" => &["february"],
        b"mar" => &["march"],
        b"apr" => &["april"],
        b"may" => &[],
        b"jun" => &["june"],
        b"jul" => &["july"],
        b"aug" => &["august"],
        b"sep" => &["sept", "september"],
        b"oct" => &["october"],
        b"nov" => &["november"],
        b"dec" => &["december"],
        b"mon" => &["monday"],
        b"tue" => &["tues", "tuesday"],
        b"wed" => &["weds", "wednesday"],
        b"thu" => &["thur", "thurs", "thursday"],
        b"fri" => &["friday"],
        b"sat" => &["saturday"],
        b"sun" => &["sunday"],
        _ => return false,
    };
    b.len() == 3 || full.iter().any(|name| name.eq_ignore_ascii_case(word))
}

/// A date name at token `i` is part of a date: a number comes right before or after it, or
/// after the date name that follows it (`Fri Jun 17`).
fn in_date<'a>(raw: &impl Fn(usize) -> Option<&'a str>, i: usize) -> bool {
    let starts_with_digit = |t: Option<&str>| t.and_then(|t| t.bytes().next()).is_some_and(|c| c.is_ascii_digit());
    let is_number = |t: Option<&str>| {
        t.is_some_and(|t| {
            let t = t.trim_end_matches([',', '.']);
            !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit())
        })
    };
    starts_with_digit(raw(i + 1))
        || (i > 0 && is_number(raw(i - 1)))
        || (raw(i + 1).is_some_and(|t| is_date_name(strip_wrapping(t).1)) && starts_with_digit(raw(i + 2)))
}

/// Masks one whitespace-free token, appending the result to `out`.
/// (Returns whether it masked anything; it writes nothing when it did not.)
fn mask_token(token: &str, classes: u8, out: &mut String) -> bool {
    let (digit, colon, other) = (classes & DIGIT != 0, classes & COLON != 0, classes & (SLASH | AT) != 0);
    // Most tokens are words: nothing can apply.
    if !digit && !colon && !other {
        return false;
    }
    // Whole values first: the token without its wrapping punctuation, or the value of key=value.
    if other || (digit && token.len() >= 36) {
        let (lead, core, trail) = strip_wrapping(token);
        if is_whole_value(core, classes) {
            out.push_str(lead);
            out.push_str(WILDCARD);
            out.push_str(trail);
            return true;
        }
        if let Some(eq) = core.bytes().position(|c| c == b'=') {
            let (key, value) = (&core[..eq], &core[eq + 1..]);
            if is_key(key) && is_whole_value(value, classes) {
                out.push_str(lead);
                out.push_str(key);
                out.push('=');
                out.push_str(WILDCARD);
                out.push_str(trail);
                return true;
            }
        }
    }
    (digit || colon) && mask_inside(token, out, digit)
}

/// Splits off leading brackets and quotes and trailing brackets, quotes and sentence
/// punctuation: `('/a/b'),` gives `('`, `/a/b`, `'),`.
fn strip_wrapping(token: &str) -> (&str, &str, &str) {
    let b = token.as_bytes();
    let mut start = 0;
    while start < b.len() && matches!(b[start], b'(' | b'[' | b'{' | b'<' | b'"' | b'\'' | b'`') {
        start += 1;
    }
    let mut end = b.len();
    while end > start
        && matches!(
            b[end - 1],
            b')' | b']' | b'}' | b'>' | b'"' | b'\'' | b'`' | b',' | b';' | b'.' | b':' | b'!' | b'?'
        )
    {
        end -= 1;
    }
    (&token[..start], &token[start..end], &token[end..])
}

/// A `key` of `key=value`: letters, digits, `_`, `-`, `.`, not empty.
fn is_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
}

/// Values masked as a whole: URL, e-mail address, UUID, file path. (`classes`: those of the token
/// `s` is part of; a URL needs its colon and an e-mail address its `@`.)
fn is_whole_value(s: &str, classes: u8) -> bool {
    (classes & COLON != 0 && is_url(s)) || (classes & AT != 0 && is_email(s)) || is_uuid(s.as_bytes()) || is_path(s)
}

/// `scheme://rest` with a scheme of letters, digits, `+`, `-`, `.`, starting with a letter.
fn is_url(s: &str) -> bool {
    let Some(i) = s.as_bytes().iter().position(|c| *c == b':').filter(|i| s.as_bytes()[i + 1..].starts_with(b"//"))
    else {
        return false;
    };
    let scheme = s.as_bytes();
    i > 0
        && scheme[0].is_ascii_alphabetic()
        && scheme[..i].iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        && s.len() > i + 3
}

/// `local@domain.tld`, with a local part of `[A-Za-z0-9._%+-]` and a dotted domain.
fn is_email(s: &str) -> bool {
    let Some(at) = s.bytes().position(|c| c == b'@') else { return false };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    let local_ok = !local.is_empty()
        && local.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-'));
    let labels_ok =
        domain.split('.').all(|l| !l.is_empty() && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'));
    local_ok && domain.contains('.') && labels_ok
}

/// `8-4-4-4-12` hex digits.
fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter()
            .enumerate()
            .all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { *c == b'-' } else { c.is_ascii_hexdigit() })
}

/// An absolute or explicitly relative file path with at least two segments (`/proc/kmsg`,
/// `~/.ssh/id`, `./bin/x`, `../a/b`), or a Windows path (`C:\Windows\x`).
fn is_path(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\' {
        return b.len() > 3;
    }
    let (rest, absolute) = match b {
        [b'/', rest @ ..] => (rest, true),
        [b'~' | b'.', b'/', rest @ ..] | [b'.', b'.', b'/', rest @ ..] => (rest, false),
        _ => return false,
    };
    // The first segment, then (for `/a/b`) a second one; never an empty segment between.
    let first = rest.iter().position(|c| *c == b'/').unwrap_or(rest.len());
    let no_empty_inner = !rest.iter().zip(rest.iter().skip(1)).any(|(x, y)| *x == b'/' && *y == b'/');
    let second = rest.get(first + 1..).is_some_and(|r| !r.is_empty() && r[0] != b'/');
    first > 0 && no_empty_inner && (!absolute || second)
}

/// True for bytes that continue a word: ASCII letters and digits, and every byte of a non-ASCII
/// character (so a mask never starts or ends inside one).
fn is_word(c: u8) -> bool {
    CLASS[c as usize] & (DIGIT | LETTER | NON_ASCII) != 0
}

/// Masks the variable parts inside a token, starting each at a word boundary.
/// (`digit`: the token has a digit; without one, only an IPv6 address like `fe::ab` can be in it.)
fn mask_inside(token: &str, out: &mut String, digit: bool) -> bool {
    let b = token.as_bytes();
    let mut masked = false;
    let mut i = 0;
    // Bytes of `token[copied..i]` are still to be copied to `out`.
    let mut copied = 0;
    while i < b.len() {
        if i == 0 || !is_word(b[i - 1]) {
            // `1.2.3.4.5` is a dotted number, and no address starts in its middle.
            let after_dotted = i >= 2 && b[i - 1] == b'.' && b[i - 2].is_ascii_digit();
            let found = if digit { variable_at(&b[i..], after_dotted) } else { ipv6_len(&b[i..]) };
            if let Some(len) = found {
                out.push_str(&token[copied..i]);
                out.push_str(WILDCARD);
                i += len;
                copied = i;
                masked = true;
                continue;
            }
        }
        // No boundary inside a run of word bytes.
        i += if is_word(b[i]) { b[i..].iter().take_while(|c| is_word(**c)).count() } else { 1 };
    }
    if masked {
        out.push_str(&token[copied..]);
    }
    masked
}

/// The length of the variable starting at `b[0]` (a word boundary), if one does.
fn variable_at(b: &[u8], after_dotted: bool) -> Option<usize> {
    let first = b[0];
    match first {
        // Signs start only numbers; a colon only an IPv6 address (`::1`).
        b'-' | b'+' => return number_len(b),
        b':' => return ipv6_len(b),
        c if !c.is_ascii_hexdigit() => return None,
        _ => {}
    }
    let ends_word = |len: usize| len == b.len() || !is_word(b[len]);
    // The leading decimal digits, then the whole run of hex digits from here.
    let mut digits = 0;
    while digits < b.len() && HEX[b[digits] as usize] == 1 {
        digits += 1;
    }
    let mut hex = digits;
    while hex < b.len() && HEX[b[hex] as usize] != 0 {
        hex += 1;
    }
    // Whether the run has a decimal digit and a letter (looked at only for long runs).
    let mixed = || digits < hex && (digits > 0 || b[..hex].iter().any(u8::is_ascii_digit));
    let separator = b.get(hex).copied();
    // A plain number (the most common case): no hex letter after its digits, and none of the
    // separators the addresses, the UUID and `0x` need after them. Only the glued unit is left.
    if digits == hex && digits > 0 && !matches!(separator, Some(b':' | b'-' | b'.' | b'x' | b'X')) {
        return number_end(b, digits);
    }
    if b.len() >= 36 && hex == 8 && is_uuid(&b[..36]) && ends_word(36) {
        return Some(36);
    }
    if hex <= 4 && separator == Some(b':') {
        if let Some(len) = mac_len(b).or_else(|| ipv6_len(b)) {
            return Some(len);
        }
    }
    if hex == 2 && separator == Some(b'-') {
        if let Some(len) = mac_len(b) {
            return Some(len);
        }
    }
    if digits == 0 {
        // A word starting with a hex letter: only a hex id is left.
        return (hex >= 6 && mixed() && ends_word(hex)).then_some(hex);
    }
    if (1..=3).contains(&digits) && b.get(digits) == Some(&b'.') && !after_dotted {
        if let Some(len) = ipv4_len(b) {
            return Some(len);
        }
    }
    if first == b'0' && b.len() > 2 && (b[1] == b'x' || b[1] == b'X') {
        let x_digits = b[2..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
        if x_digits > 0 && ends_word(2 + x_digits) {
            return Some(2 + x_digits);
        }
    }
    if hex >= 6 && mixed() && ends_word(hex) {
        return Some(hex);
    }
    // `first` is a decimal digit here: the number has no sign and `digits` digits.
    number_end(b, digits)
}

/// A number: optional sign, digits, and optionally a glued unit of one to three letters.
fn number_len(b: &[u8]) -> Option<usize> {
    let sign = usize::from(matches!(b[0], b'-' | b'+'));
    let digits = b[sign..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    number_end(b, sign + digits)
}

/// The end of a number whose digits end at `end`: there, or after a glued unit of one to three
/// letters; `None` when a longer word is glued to it.
fn number_end(b: &[u8], end: usize) -> Option<usize> {
    if end == b.len() || !is_word(b[end]) {
        return Some(end);
    }
    let letters = b[end..].iter().take_while(|c| c.is_ascii_alphabetic()).count();
    let unit_end = end + letters;
    if (1..=3).contains(&letters) && (unit_end == b.len() || !is_word(b[unit_end])) {
        return Some(unit_end);
    }
    None
}

/// Dotted-quad IPv4 (each part 1–3 digits, at most 255), not followed by more of a dotted number.
fn ipv4_len(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    for part in 0..4 {
        if part > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let (mut digits, mut value) = (0, 0u32);
        while digits < 4 && i + digits < b.len() && b[i + digits].is_ascii_digit() {
            value = value * 10 + u32::from(b[i + digits] - b'0');
            digits += 1;
        }
        if digits == 0 || digits > 3 || value > 255 {
            return None;
        }
        i += digits;
    }
    let more_dotted = b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit);
    if more_dotted || b.get(i).is_some_and(|c| is_word(*c)) {
        return None;
    }
    Some(i)
}

/// Six pairs of hex digits separated by `:` or `-` (one separator throughout).
fn mac_len(b: &[u8]) -> Option<usize> {
    if b.len() < 17 {
        return None;
    }
    let sep = b[2];
    if sep != b':' && sep != b'-' {
        return None;
    }
    for (i, c) in b[..17].iter().enumerate() {
        let ok = if i % 3 == 2 { *c == sep } else { c.is_ascii_hexdigit() };
        if !ok {
            return None;
        }
    }
    if b.get(17).is_some_and(|c| is_word(*c) || *c == sep) {
        return None;
    }
    Some(17)
}

/// An IPv6 address: hex groups of at most four digits separated by `:`, either all eight groups
/// or compressed with exactly one `::`; with at least one hex digit.
fn ipv6_len(b: &[u8]) -> Option<usize> {
    // Every form has a colon within its first five bytes.
    if !b.iter().take(5).any(|c| *c == b':') {
        return None;
    }
    let len = b.iter().take_while(|c| c.is_ascii_hexdigit() || **c == b':').count();
    if b.get(len).is_some_and(|c| is_word(*c)) {
        return None;
    }
    let mut s = &b[..len];
    // A trailing single colon is punctuation (`fe80::1:` at the end of a clause), not a group.
    if s.ends_with(b":") && !s.ends_with(b"::") {
        s = &s[..s.len() - 1];
    }
    // One pass: `s` holds only hex digits and colons. Counts the colons, the `::` (overlapping:
    // `:::` counts two and is refused anyway), the non-empty groups and the longest group.
    let (mut colons, mut compressed, mut filled, mut group, mut longest) = (0, 0, 0, 0, 0);
    let mut previous = 0u8;
    for &c in s {
        if c == b':' {
            colons += 1;
            if previous == b':' {
                compressed += 1;
            }
            filled += usize::from(group > 0);
            group = 0;
        } else {
            group += 1;
            longest = longest.max(group);
        }
        previous = c;
    }
    filled += usize::from(group > 0);
    let has_hex = colons < s.len();
    if colons < 2 || !has_hex || compressed > 1 || longest > 4 {
        return None;
    }
    // (With at most one `::`, there is no `:::`.)
    let ok = if compressed == 1 { filled <= 7 } else { colons + 1 == 8 && filled == 8 };
    ok.then_some(s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_masked_at_word_starts_with_their_punctuation_kept() {
        assert_eq!(
            mask("PacketResponder 1 for block blk_-6952295868487656571 terminating"),
            "PacketResponder <*> for block blk_<*> terminating"
        );
        assert_eq!(
            mask("uid=0 euid=0 (uid=0) [1] CPU#0 part-00296."),
            "uid=<*> euid=<*> (uid=<*>) [<*>] CPU#<*> part-<*>."
        );
        assert_eq!(
            mask("at 07:07:00 on 2005-06-03, took -12 and +7"),
            "at <*>:<*>:<*> on <*>-<*>-<*>, took <*> and <*>"
        );
        assert_eq!(mask("Detected 731.219 MHz"), "Detected <*>.<*> MHz");
    }

    #[test]
    fn numbers_with_a_short_glued_unit_are_one_variable() {
        assert_eq!(mask("126MB LOWMEM, 16K cache, 30ms, 1.5s"), "<*> LOWMEM, <*> cache, <*>, <*>.<*>");
        // A long word after the digits is not a unit: left alone.
        assert_eq!(mask("7163Calories"), "7163Calories");
    }

    #[test]
    fn digits_glued_to_a_word_stay() {
        assert_eq!(mask("ssh2 tty1 BIOS-e820: imps2:"), "ssh2 tty1 BIOS-e820: imps2:");
    }

    #[test]
    fn ipv4_with_and_without_port() {
        assert_eq!(mask("from 173.234.31.186 port 38926"), "from <*> port <*>");
        assert_eq!(mask("/10.251.42.84:50010 [10.0.0.1]"), "/<*>:<*> [<*>]");
        // Not an address: an octet above 255 (numbers instead), or a longer dotted number.
        assert_eq!(mask("999.1.1.1"), "<*>.<*>.<*>.<*>");
        assert_eq!(mask("v 1.2.3.4.5"), "v <*>.<*>.<*>.<*>.<*>");
    }

    #[test]
    fn ipv6_compressed_and_full() {
        assert_eq!(mask("from fe80::1ff:fe23:4567:890a port 22"), "from <*> port <*>");
        assert_eq!(mask("[::1]:8080"), "[<*>]:<*>");
        assert_eq!(mask("2001:0db8:85a3:0000:0000:8a2e:0370:7334"), "<*>");
        // Clock times have colons but are not addresses.
        assert_eq!(mask("12:30:45"), "<*>:<*>:<*>");
    }

    #[test]
    fn mac_addresses() {
        assert_eq!(mask("hw 00:1a:2b:3c:4d:5e up, 00-1A-2B-3C-4D-5E"), "hw <*> up, <*>");
    }

    #[test]
    fn hex_numbers_and_ids() {
        assert_eq!(mask("entry at 0xfc0ce, flags 0x03"), "entry at <*>, flags <*>");
        assert_eq!(mask("BIOS-e820: 00000000000f0000 - 0000000000100000 c@8a2a501"), "BIOS-e820: <*> - <*> c@<*>");
        assert_eq!(mask("commit 3f2a9c01b7e4d5a6 done"), "commit <*> done");
        // Hex letters without digits are a word; short mixed runs are not ids.
        assert_eq!(mask("deadbeef cafe1"), "deadbeef cafe1");
    }

    #[test]
    fn uuids() {
        assert_eq!(mask("req 123e4567-e89b-12d3-a456-426614174000 failed"), "req <*> failed");
        assert_eq!(mask("id=123e4567-e89b-12d3-a456-426614174000,"), "id=<*>,");
    }

    #[test]
    fn paths() {
        assert_eq!(mask("ok /etc/httpd/conf/workers2.properties"), "ok <*>");
        assert_eq!(mask("removing '/udev/vcsa2' and file=/var/log/x.log;"), "removing '<*>' and file=<*>;");
        assert_eq!(mask("~/.ssh/id ./run C:\\Windows\\x"), "<*> <*> <*>");
        // One segment is not enough for an absolute path; relative paths without ./ are words.
        assert_eq!(mask("root=LABEL=/ I/O 4G/4G /tmp"), "root=LABEL=/ I/O <*>/<*> /tmp");
    }

    #[test]
    fn urls_and_emails() {
        assert_eq!(mask("GET https://example.com/a?b=1 by ops@example.com."), "GET <*> by <*>.");
        assert_eq!(mask("url=http://x.y/z"), "url=<*>");
    }

    #[test]
    fn whitespace_is_normalised_and_spans_point_at_tokens() {
        let mut masker = Masker::default();
        let masked = masker.mask_line("  a   10 \t b ");
        assert_eq!(masked.joined(), "a <*> b");
        let tokens: Vec<&str> = (0..masked.len()).map(|i| masked.token(i)).collect();
        assert_eq!(tokens, ["a", "<*>", "b"]);
        assert_eq!((0..3).map(|i| masked.is_variable(i)).collect::<Vec<_>>(), [false, true, false]);
    }

    #[test]
    fn quantities_with_a_spaced_unit_are_one_variable() {
        assert_eq!(mask("took 5 ms, lifetime <1 sec; size 1.5 GB."), "took <*>, lifetime <*>; size <*>.");
        // Spelled-out units stay words.
        assert_eq!(mask("after 900 seconds, 12 bytes"), "after <*> seconds, <*> bytes");
    }

    #[test]
    fn values_restated_in_other_units_are_dropped() {
        assert_eq!(
            mask("close, 1190 bytes (1.16 KB) sent, 851 bytes (851B) received, 3 bytes sent"),
            "close, <*> bytes sent, <*> bytes received, <*> bytes sent"
        );
        assert_eq!(mask("a 1 bytes (2 KB), b"), "a <*> bytes, b");
        // Not after a quantity, or not a quantity: kept.
        assert_eq!(mask("cache (16 KB) hit (3 apples)"), "cache (<*>) hit (<*> apples)");
    }

    #[test]
    fn month_and_weekday_names_in_dates() {
        assert_eq!(mask("at Fri Jun 17 07:07:00 2005"), "at <*> <*> <*> <*>:<*>:<*> <*>");
        assert_eq!(mask("on 17 Jun 2005, Mon, 3 Oct"), "on <*> <*> <*>, <*>, <*> <*>");
        // Names outside dates stay words.
        assert_eq!(mask("May I? Sun Microsystems, Oct value"), "May I? Sun Microsystems, Oct value");
    }

    #[test]
    fn non_ascii_text_is_kept_whole() {
        assert_eq!(mask("über 12 café9 ünïcode"), "über <*> café9 ünïcode");
    }
}
