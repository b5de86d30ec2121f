//! Secrets of a runbook: `[secrets] slack = { env = "SLACK_WEBHOOK" }` or `{ file = "/path" }`,
//! named in templates as `{secret.slack}`. Their values are read at plan time and replaced by
//! `****` in everything shown or kept: plan lines, output, errors and run records.

use std::collections::BTreeMap;

/// What replaces a secret's value in shown text.
pub const MASK: &str = "****";

/// Replaces known secret values in text. Cloning is cheap enough (a few short strings).
#[derive(Clone, Default, PartialEq)]
pub struct Redactor {
    /// Longest first, so a secret that contains another is masked whole.
    values: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.values.len())
    }
}

impl Redactor {
    /// A redactor for these values (empty ones are ignored: they would mask everything).
    pub fn new<'a>(values: impl IntoIterator<Item = &'a String>) -> Redactor {
        let mut values: Vec<String> = values.into_iter().filter(|v| !v.is_empty()).cloned().collect();
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
        Redactor { values }
    }

    /// Adds the values of another redactor (an escalation target's secrets).
    pub fn merge(&mut self, other: &Redactor) {
        let all: Vec<String> = self.values.iter().chain(&other.values).cloned().collect();
        *self = Redactor::new(&all);
    }

    /// `text` with every secret value replaced by [`MASK`].
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), MASK);
            }
        }
        out
    }
}

/// Reads every declared secret; the error names the secret (never its value) and where it looked.
pub fn resolve(
    declared: &BTreeMap<String, crate::sources::http::Secret>,
) -> Result<BTreeMap<String, String>, (String, String)> {
    declared
        .iter()
        .map(|(name, s)| {
            s.read(&format!("secret `{name}`")).map(|v| (name.clone(), v)).map_err(|e| (format!("secrets.{name}"), e))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_occurrence_is_masked_longest_first() {
        let r = Redactor::new(&["abc".to_string(), "abcdef".to_string(), String::new()]);
        assert_eq!(r.redact("x abcdef y abc z"), "x **** y **** z");
        assert_eq!(r.redact("nothing"), "nothing");
        assert_eq!(format!("{r:?}"), "Redactor(2 secrets)");
    }
}
