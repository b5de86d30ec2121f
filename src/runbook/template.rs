//! `{...}` placeholders in runbook text: `restart {entity.labels.unit}`. A template is filled into
//! exactly one string (one argv element, one header, one JSON string): a value is never split,
//! re-parsed or passed through a shell. `{{` and `}}` are literal braces.

use super::context::known_field;

/// A parsed template: literal text and placeholders in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(String),
}

impl Template {
    /// Parses `text`; the error says what is wrong (an unclosed `{`, an unknown field).
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => {
                                return Err(format!("`{{{name}` is not closed with `}}` (write `{{{{` for a brace)"))
                            }
                        }
                    }
                    let name = name.trim().to_string();
                    if !known_field(&name) {
                        return Err(format!(
                            "unknown placeholder `{{{name}}}`; known: {}",
                            super::context::FIELDS.join(", ")
                        ));
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Field(name));
                }
                '}' => return Err("a lone `}` (write `}}` for a brace)".into()),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    /// The placeholder names, in order.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field(f) => Some(f.as_str()),
            Part::Text(_) => None,
        })
    }

    /// True when the template has no placeholder.
    pub fn is_literal(&self) -> bool {
        self.fields().next().is_none()
    }

    /// Fills the template; `value` gives a field's value or `None` when missing, which makes the
    /// error (the field's name).
    pub fn render(&self, mut value: impl FnMut(&str) -> Option<String>) -> Result<String, String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Field(f) => out.push_str(&value(f).ok_or_else(|| f.clone())?),
            }
        }
        Ok(out)
    }
}

/// `s` quoted as a POSIX shell would need it to read back the same single word; for display only
/// (nothing is ever run through a shell). Control characters use `$'...'` escapes so a newline or
/// escape sequence in a label cannot disguise the line.
pub fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        return s.to_string();
    }
    if s.chars().any(|c| c.is_control()) {
        let mut out = String::from("$'");
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\'' => out.push_str("\\'"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() => {
                    for b in c.to_string().bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('\'');
        return out;
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_fill_one_string_each() {
        let t = Template::parse("unit={entity.labels.unit} {{literal}}").unwrap();
        assert_eq!(t.fields().collect::<Vec<_>>(), ["entity.labels.unit"]);
        let out = t.render(|f| (f == "entity.labels.unit").then(|| "a b; rm -rf /".to_string())).unwrap();
        assert_eq!(out, "unit=a b; rm -rf / {literal}");
        assert_eq!(t.render(|_| None).unwrap_err(), "entity.labels.unit");
    }

    #[test]
    fn bad_templates_say_why() {
        assert!(Template::parse("{entity.lables.x}").unwrap_err().contains("unknown placeholder `{entity.lables.x}`"));
        assert!(Template::parse("{problem.id").unwrap_err().contains("not closed"));
        assert!(Template::parse("a } b").unwrap_err().contains("lone"));
        assert!(Template::parse("{secret.}").is_err());
    }

    #[test]
    fn display_quoting_is_unambiguous() {
        assert_eq!(shell_quote("nginx.service"), "nginx.service");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("; rm -rf /tmp/x"), "'; rm -rf /tmp/x'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("a\nb'"), "$'a\\nb\\''");
        assert_eq!(shell_quote("\u{1b}[2J"), "$'\\x1b[2J'");
    }
}
