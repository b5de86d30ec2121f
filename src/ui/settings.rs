//! Reading the UI's TOML files (keymap, theme): a built-in default with an optional user file laid
//! over it, and errors that name the file and the key.

use serde::de::DeserializeOwned;
use std::fmt;
use std::path::{Path, PathBuf};

/// A keymap or theme file that could not be used: which file, which key, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    /// The file, as the user knows it (a path, or `themes/… (built in)`).
    pub file: String,
    /// Dotted path of the offending key (`down.keys[1]`); empty for a syntax error.
    pub key: String,
    pub message: String,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: `{}`: {}", self.file, self.key, self.message)
        }
    }
}

impl std::error::Error for SettingsError {}

/// The text of a user file laid over a built-in default.
pub(crate) struct Layered {
    /// The built-in default merged with the user's table (user values win, tables merge deeply).
    pub table: toml::Table,
    /// The file to blame for errors: the user's file when there is one, else the built-in name.
    pub file: String,
    /// The user's file, when one was read.
    pub user_file: Option<PathBuf>,
}

/// Reads `user_file` if it exists and lays it over `builtin`. A missing file is no error (the
/// defaults apply); an unreadable or malformed one is.
pub(crate) fn layered_file(
    builtin: &str,
    builtin_name: &str,
    user_file: Option<&Path>,
) -> Result<Layered, SettingsError> {
    let user = match user_file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Some((path.to_path_buf(), text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(SettingsError {
                    file: path.display().to_string(),
                    key: String::new(),
                    message: format!("cannot read: {e}"),
                })
            }
        },
        None => None,
    };
    match user {
        Some((path, text)) => {
            let name = path.display().to_string();
            let mut layered = layered_text(builtin, builtin_name, Some((&text, &name)))?;
            layered.user_file = Some(path);
            Ok(layered)
        }
        None => layered_text(builtin, builtin_name, None),
    }
}

/// Lays `user` (its text and the name to blame) over `builtin`.
pub(crate) fn layered_text(
    builtin: &str,
    builtin_name: &str,
    user: Option<(&str, &str)>,
) -> Result<Layered, SettingsError> {
    let mut table = parse_table(builtin, builtin_name)?;
    let mut file = builtin_name.to_string();
    if let Some((text, name)) = user {
        merge(&mut table, parse_table(text, name)?);
        file = name.to_string();
    }
    Ok(Layered { table, file, user_file: None })
}

fn parse_table(text: &str, name: &str) -> Result<toml::Table, SettingsError> {
    text.parse::<toml::Table>().map_err(|e| SettingsError {
        file: name.to_string(),
        key: String::new(),
        message: e.to_string().trim_end().to_string(),
    })
}

/// Deep merge: tables merge key by key, anything else in `over` replaces what `base` had.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Deserializes the merged table, reporting the dotted path of a bad key.
pub(crate) fn deserialize<T: DeserializeOwned>(layered: &Layered) -> Result<T, SettingsError> {
    serde_path_to_error::deserialize(toml::Value::Table(layered.table.clone())).map_err(|e| {
        let key = e.path().to_string();
        SettingsError {
            file: layered.file.clone(),
            key: if key == "." { String::new() } else { key },
            message: e.into_inner().to_string().trim_end().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_tables_merge_into_the_default() {
        let layered =
            layered_text("[a]\nx = 1\ny = 2\n[b]\nz = 3\n", "default", Some(("[a]\ny = 20\n", "user.toml"))).unwrap();
        assert_eq!(layered.table["a"]["x"].as_integer(), Some(1));
        assert_eq!(layered.table["a"]["y"].as_integer(), Some(20));
        assert_eq!(layered.table["b"]["z"].as_integer(), Some(3));
        assert_eq!(layered.file, "user.toml");
    }

    #[test]
    fn syntax_error_names_the_file() {
        let err = layered_text("[a]\n", "default", Some(("[a\n", "user.toml"))).err().unwrap();
        assert_eq!(err.file, "user.toml");
        assert!(err.to_string().starts_with("user.toml: "), "{err}");
    }

    #[test]
    fn missing_user_file_means_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let layered = layered_file("[a]\nx = 1\n", "default", Some(&dir.path().join("absent.toml"))).unwrap();
        assert!(layered.user_file.is_none());
        assert_eq!(layered.file, "default");
    }
}
