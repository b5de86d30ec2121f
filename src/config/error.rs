//! What can be wrong with a config file. Every error names the file and, where the text allows,
//! the line and column (1-based) and the dotted key, e.g.
//! `faultline.toml:7:22: engine.correlation_window: invalid duration "15 mins": ...`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// An error reading or checking a config file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read config: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The text is not TOML.
    #[error("{}: TOML syntax error: {message}", Location { path, line: *line, column: *column })]
    Syntax { path: PathBuf, line: Option<usize>, column: Option<usize>, message: String },
    /// A key is unknown, has the wrong type or a value that is not allowed. `key` is dotted
    /// (`engine.detect.alpha`), empty for the document itself.
    #[error("{}: {}{message}", Location { path, line: *line, column: *column }, KeyPrefix(key))]
    Key { path: PathBuf, line: Option<usize>, column: Option<usize>, key: String, message: String },
}

impl ConfigError {
    /// The dotted key the error is about, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Key { key, .. } if !key.is_empty() => Some(key),
            _ => None,
        }
    }

    /// The 1-based line the error is on, where known.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Syntax { line, .. } | ConfigError::Key { line, .. } => *line,
            ConfigError::Io { .. } => None,
        }
    }
}

struct KeyPrefix<'a>(&'a str);

impl fmt::Display for KeyPrefix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, "{}: ", self.0)
        }
    }
}

/// `path[:line[:column]]`.
struct Location<'a> {
    path: &'a Path,
    line: Option<usize>,
    column: Option<usize>,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}

/// 1-based line and column (in characters) of byte offset `offset` in `text`. An offset past the
/// end or inside a character is clamped to a valid position.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 4), (1, 5));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 9), (2, 3));
        assert_eq!(line_column(text, 8), (2, 2));
        assert_eq!(line_column(text, 100), (3, 1));
    }

    #[test]
    fn messages_name_file_line_column_and_key() {
        let e = ConfigError::Key {
            path: "f.toml".into(),
            line: Some(7),
            column: Some(22),
            key: "engine.correlation_window".into(),
            message: "bad".into(),
        };
        assert_eq!(e.to_string(), "f.toml:7:22: engine.correlation_window: bad");
        let e = ConfigError::Key {
            path: "f.toml".into(),
            line: None,
            column: None,
            key: String::new(),
            message: "x".into(),
        };
        assert_eq!(e.to_string(), "f.toml: x");
    }
}
