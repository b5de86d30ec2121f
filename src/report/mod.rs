//! Reports written from the journal for people: the post-mortem draft of one problem.

pub mod postmortem;

/// A count with thousands separators: `13,482`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
