//! Reading the UI's TOML files (keymap, theme): a built-in default with user files laid over it,
//! and errors that name the file, the line and the key, so a user can go straight to the mistake.

use serde::de::DeserializeOwned;
use std::fmt;
use std::path::{Path, PathBuf};

/// A keymap or theme file that could not be used: which file, which line, which key, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    /// The file, as the user knows it (a path, or `themes/… (built in)`), or where a name came
    /// from (`--theme`).
    pub file: String,
    /// The line (1-based) of the offending key in `file`, when it is in that file's text.
    pub line: Option<usize>,
    /// Dotted path of the offending key (`down.keys[1]`); empty for a syntax error.
    pub key: String,
    pub message: String,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if self.key.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": `{}`: {}", self.key, self.message)
        }
    }
}

impl std::error::Error for SettingsError {}

/// One file of a layered setting: its text and the name to blame.
#[derive(Debug, Clone)]
pub(crate) struct Layer {
    pub name: String,
    pub text: String,
    /// Where it was read from (`None` for built-in text).
    pub path: Option<PathBuf>,
}

impl Layer {
    pub fn text(text: &str, name: &str) -> Layer {
        Layer { name: name.to_string(), text: text.to_string(), path: None }
    }

    /// Reads `path`; `Ok(None)` when it does not exist (the layers below apply).
    pub fn read(path: &Path) -> Result<Option<Layer>, SettingsError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(Layer { name: path.display().to_string(), text, path: Some(path.to_path_buf()) })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SettingsError {
                file: path.display().to_string(),
                line: None,
                key: String::new(),
                message: format!("cannot read: {e}"),
            }),
        }
    }
}

/// Files laid over a built-in default.
pub(crate) struct Layered {
    /// The layers merged in order (later values win, tables merge deeply).
    pub table: toml::Table,
    /// The file to blame when no layer holds the key: the topmost one.
    pub file: String,
    /// The user's file, when one was read.
    pub user_file: Option<PathBuf>,
    /// Bottom (the built-in default) to top.
    layers: Vec<Layer>,
}

impl Layered {
    /// An error about `key`, blamed on the topmost layer that writes it (with its line), else on
    /// the topmost layer.
    pub fn error(&self, key: String, message: String) -> SettingsError {
        let found = self.layers.iter().rev().find_map(|l| line_of(&l.text, &key).map(|line| (l, line)));
        match found {
            Some((layer, line)) => SettingsError { file: layer.name.clone(), line: Some(line), key, message },
            None => SettingsError { file: self.file.clone(), line: None, key, message },
        }
    }

    /// Where `key` is written last: the index of the topmost layer that writes it (0 is the
    /// built-in default) and the line there. Later positions compare greater.
    pub fn written_at(&self, key: &str) -> Option<(usize, usize)> {
        self.layers.iter().enumerate().rev().find_map(|(i, l)| line_of(&l.text, key).map(|line| (i, line)))
    }
}

/// Reads `user_file` if it exists and lays it over `builtin`. A missing file is no error (the
/// defaults apply); an unreadable or malformed one is.
pub(crate) fn layered_file(
    builtin: &str,
    builtin_name: &str,
    user_file: Option<&Path>,
) -> Result<Layered, SettingsError> {
    let user = user_file.map(Layer::read).transpose()?.flatten();
    layered(Layer::text(builtin, builtin_name), user.into_iter().collect())
}

/// Lays `user` (its text and the name to blame) over `builtin`.
pub(crate) fn layered_text(
    builtin: &str,
    builtin_name: &str,
    user: Option<(&str, &str)>,
) -> Result<Layered, SettingsError> {
    let over = user.map(|(text, name)| Layer::text(text, name)).into_iter().collect();
    layered(Layer::text(builtin, builtin_name), over)
}

/// Lays `over` (bottom to top) over `base`.
pub(crate) fn layered(base: Layer, over: Vec<Layer>) -> Result<Layered, SettingsError> {
    let mut table = parse_table(&base.text, &base.name)?;
    let mut file = base.name.clone();
    let mut user_file = None;
    for layer in &over {
        merge(&mut table, parse_table(&layer.text, &layer.name)?);
        file = layer.name.clone();
        user_file = layer.path.clone().or(user_file);
    }
    let mut layers = vec![base];
    layers.extend(over);
    Ok(Layered { table, file, user_file, layers })
}

fn parse_table(text: &str, name: &str) -> Result<toml::Table, SettingsError> {
    text.parse::<toml::Table>().map_err(|e| SettingsError {
        file: name.to_string(),
        line: e.span().map(|span| line_at(text, span.start)),
        key: String::new(),
        message: e.message().trim_end().to_string(),
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

/// Deserializes the merged table, reporting the dotted path of a bad key and its line.
pub(crate) fn deserialize<T: DeserializeOwned>(layered: &Layered) -> Result<T, SettingsError> {
    serde_path_to_error::deserialize(toml::Value::Table(layered.table.clone())).map_err(|e| {
        let mut key = e.path().to_string();
        let message = e.into_inner().to_string().trim_end().to_string();
        if key == "." {
            key.clear();
        }
        // The key is the unknown field itself, whether or not the path already ends with it.
        if let Some(field) = message.strip_prefix("unknown field `").and_then(|m| m.split('`').next()) {
            if key.rsplit('.').next() != Some(field) {
                key = if key.is_empty() { field.to_string() } else { format!("{key}.{field}") };
            }
        }
        layered.error(key, message)
    })
}

/// The 1-based line of a dotted key path (`ui.entity.fg`, `down.keys[1]`) in TOML text, if the
/// text writes it.
pub(crate) fn line_of(text: &str, key: &str) -> Option<usize> {
    let doc = toml::de::DeTable::parse(text).ok()?;
    let mut segments = path_segments(key)?.into_iter();
    let first = segments.next()?;
    let (mut span, mut value) = entry(doc.get_ref(), &first)?;
    for segment in segments {
        (span, value) = match (segment, value) {
            (Segment::Key(k), toml::de::DeValue::Table(t)) => entry(t, &Segment::Key(k))?,
            (Segment::Index(i), toml::de::DeValue::Array(a)) => {
                let item = a.get(i)?;
                (item.span(), item.get_ref())
            }
            _ => return None,
        };
    }
    Some(line_at(text, span.start))
}

enum Segment {
    Key(String),
    Index(usize),
}

/// `down.keys[1]` → `down`, `keys`, `1`.
fn path_segments(key: &str) -> Option<Vec<Segment>> {
    let mut out = Vec::new();
    for part in key.split('.') {
        let (name, mut rest) = part.split_once('[').map_or((part, ""), |(n, r)| (n, r));
        if !name.is_empty() {
            out.push(Segment::Key(name.to_string()));
        }
        while !rest.is_empty() {
            let (index, after) = rest.split_once(']')?;
            out.push(Segment::Index(index.parse().ok()?));
            rest = after.strip_prefix('[').unwrap_or(after);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// A table's entry: the key's span (where a reader looks) and the value.
fn entry<'a, 'i>(
    table: &'a toml::de::DeTable<'i>,
    segment: &Segment,
) -> Option<(std::ops::Range<usize>, &'a toml::de::DeValue<'i>)> {
    let Segment::Key(name) = segment else { return None };
    table.iter().find(|(k, _)| k.get_ref() == name).map(|(k, v)| (k.span(), v.get_ref()))
}

/// The 1-based line of a byte offset.
fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes().iter().take(offset).filter(|&&b| b == b'\n').count() + 1
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
    fn syntax_error_names_the_file_and_line() {
        let err = layered_text("[a]\n", "default", Some(("# mine\n[a\n", "user.toml"))).err().unwrap();
        assert_eq!(err.file, "user.toml");
        assert_eq!(err.line, Some(2));
        assert!(err.to_string().starts_with("user.toml:2: "), "{err}");
    }

    #[test]
    fn missing_user_file_means_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let layered = layered_file("[a]\nx = 1\n", "default", Some(&dir.path().join("absent.toml"))).unwrap();
        assert!(layered.user_file.is_none());
        assert_eq!(layered.file, "default");
    }

    #[test]
    fn keys_are_found_on_their_lines() {
        let text =
            "# c\n[ui]\ntitle = { fg = \"red\" }\n\n[ui.entity]\nfg = \"x\"\n[down]\nkeys = [\n  \"j\",\n  \"s\",\n]\n";
        assert_eq!(line_of(text, "ui.title.fg"), Some(3));
        assert_eq!(line_of(text, "ui.entity.fg"), Some(6));
        assert_eq!(line_of(text, "down.keys[1]"), Some(10));
        assert_eq!(line_of(text, "down.keys[2]"), None);
        assert_eq!(line_of(text, "up"), None);
    }

    #[test]
    fn errors_blame_the_topmost_layer_that_writes_the_key() {
        let layered = layered(
            Layer::text("[a]\nx = 1\ny = 2\n", "base"),
            vec![Layer::text("[a]\n\ny = 3\n", "middle"), Layer::text("[b]\n", "top")],
        )
        .unwrap();
        let err = layered.error("a.y".into(), "bad".into());
        assert_eq!((err.file.as_str(), err.line), ("middle", Some(3)));
        let err = layered.error("a.x".into(), "bad".into());
        assert_eq!((err.file.as_str(), err.line), ("base", Some(2)));
        let err = layered.error("c".into(), "bad".into());
        assert_eq!((err.file.as_str(), err.line), ("top", None));
    }
}
