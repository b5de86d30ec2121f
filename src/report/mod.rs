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

/// A KPI value, short: whole numbers as they are, otherwise about three significant digits.
pub fn number(v: f64) -> String {
    let a = v.abs();
    if v.fract() == 0.0 && a < 1e15 {
        return format!("{v:.0}");
    }
    let decimals = match a {
        _ if a >= 100.0 => 0,
        _ if a >= 1.0 => 2,
        _ => (2 - a.log10().floor() as i64).clamp(0, 12) as usize,
    };
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A signed fraction as a percentage: `-38%`, `+4.2%`.
pub fn percent(d: f64) -> String {
    let p = d * 100.0;
    if p.abs() >= 9.95 {
        format!("{p:+.0}%")
    } else {
        format!("{p:+.1}%")
    }
}
