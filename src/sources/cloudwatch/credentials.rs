//! Where AWS credentials come from, in the order the AWS SDKs look: the environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), the shared files
//! (`~/.aws/credentials` and `~/.aws/config`, moved by `AWS_SHARED_CREDENTIALS_FILE` and
//! `AWS_CONFIG_FILE`; profile from the source's `profile`, else `AWS_PROFILE`, else `default`),
//! then web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`: STS
//! `AssumeRoleWithWebIdentity`, unsigned, cached until shortly before it expires).
//!
//! Errors say what was looked at and never hold a secret: keys are [`Keys`], whose `Debug`
//! shows only the access key id.

use super::sigv4::{form, Keys};
use crate::model::Timestamp;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Credentials, where they came from and until when they hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Credentials {
    pub keys: Keys,
    /// `environment`, `profile `x` in FILE`, `web identity (ROLE)`.
    pub from: String,
    pub expires: Option<Timestamp>,
}

/// Why no usable credentials were found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CredentialsError {
    #[error("no AWS credentials found; looked at {looked}")]
    Missing { looked: String },
    #[error("the AWS credentials from {from} expired at {at}")]
    Expired { from: String, at: Timestamp },
    /// A shared file that does not read, with file and line.
    #[error("{0}")]
    File(String),
    #[error("web identity (role {role}): {message}")]
    WebIdentity { role: String, message: String },
}

/// The process environment and home directory, apart so tests can give their own.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    pub vars: BTreeMap<String, String>,
    pub home: Option<PathBuf>,
}

impl Environment {
    pub fn from_process() -> Environment {
        let vars = std::env::vars().filter(|(k, _)| k.starts_with("AWS_")).collect();
        Environment { vars, home: std::env::var_os("HOME").map(PathBuf::from) }
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    fn file(&self, var: &str, default: &str) -> Option<PathBuf> {
        match self.var(var) {
            Some(p) => Some(PathBuf::from(p)),
            None => self.home.as_ref().map(|h| h.join(".aws").join(default)),
        }
    }
}

/// Refresh cached credentials this long before they expire (milliseconds).
const REFRESH_EARLY_MS: i64 = 5 * 60_000;

/// Finds credentials for one source and keeps those that expire until they are due.
#[derive(Debug)]
pub struct Provider {
    profile: Option<String>,
    env: Environment,
    /// Where STS is (`AssumeRoleWithWebIdentity`).
    sts_url: String,
    cached: Option<Credentials>,
}

impl Provider {
    pub fn new(profile: Option<String>, env: Environment, sts_url: String) -> Provider {
        Provider { profile, env, sts_url, cached: None }
    }

    /// Credentials usable at `now`, fetching them from STS when the chain ends there.
    pub async fn get(&mut self, http: &reqwest::Client, now: Timestamp) -> Result<Credentials, CredentialsError> {
        if let Some(c) = &self.cached {
            if c.expires.is_some_and(|e| now < e.plus_ms(-REFRESH_EARLY_MS)) {
                return Ok(c.clone());
            }
        }
        let mut looked = Vec::new();
        let found = match self.static_credentials(&mut looked)? {
            Some(c) => c,
            None => match self.web_identity(http, &mut looked).await? {
                Some(c) => c,
                None => return Err(CredentialsError::Missing { looked: looked.join("; ") }),
            },
        };
        let found = unexpired(found, now)?;
        self.cached = found.expires.is_some().then(|| found.clone());
        Ok(found)
    }

    /// The environment, then the shared files.
    fn static_credentials(&self, looked: &mut Vec<String>) -> Result<Option<Credentials>, CredentialsError> {
        let env = &self.env;
        match (env.var("AWS_ACCESS_KEY_ID"), env.var("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => {
                let keys = Keys {
                    access_key_id: id.into(),
                    secret_access_key: secret.into(),
                    session_token: env.var("AWS_SESSION_TOKEN").map(String::from),
                };
                return Ok(Some(Credentials { keys, from: "the environment".into(), expires: None }));
            }
            (Some(_), None) => looked.push("the environment (AWS_ACCESS_KEY_ID set, AWS_SECRET_ACCESS_KEY not)".into()),
            _ => looked.push("the environment (AWS_ACCESS_KEY_ID not set)".into()),
        }
        let explicit = self.profile.clone().or_else(|| env.var("AWS_PROFILE").map(String::from));
        let profile = explicit.clone().unwrap_or_else(|| "default".into());
        let files = [
            (env.file("AWS_SHARED_CREDENTIALS_FILE", "credentials"), profile.clone()),
            (env.file("AWS_CONFIG_FILE", "config"), profile_section(&profile)),
        ];
        let mut seen_profile = false;
        for (path, section) in files {
            let Some(path) = path else {
                looked.push("the shared files (no HOME)".into());
                continue;
            };
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    looked.push(format!("{} (no such file)", path.display()));
                    continue;
                }
                Err(e) => return Err(CredentialsError::File(format!("{}: {e}", path.display()))),
            };
            let sections = parse_ini(&text)
                .map_err(|(line, why)| CredentialsError::File(format!("{}:{line}: {why}", path.display())))?;
            let Some(keys) = sections.get(&section) else {
                looked.push(format!("{} (no [{section}])", path.display()));
                continue;
            };
            seen_profile = true;
            match (keys.get("aws_access_key_id"), keys.get("aws_secret_access_key")) {
                (Some(id), Some(secret)) => {
                    let keys = Keys {
                        access_key_id: id.clone(),
                        secret_access_key: secret.clone(),
                        session_token: keys.get("aws_session_token").cloned(),
                    };
                    let from = format!("profile `{profile}` in {}", path.display());
                    return Ok(Some(Credentials { keys, from, expires: None }));
                }
                _ => looked.push(format!(
                    "{} ([{section}] has no aws_access_key_id and aws_secret_access_key)",
                    path.display()
                )),
            }
        }
        if let Some(p) = explicit.filter(|_| !seen_profile) {
            looked.push(format!("(profile `{p}` is in neither file)"));
        }
        Ok(None)
    }

    async fn web_identity(
        &self,
        http: &reqwest::Client,
        looked: &mut Vec<String>,
    ) -> Result<Option<Credentials>, CredentialsError> {
        let (Some(token_file), Some(role)) =
            (self.env.var("AWS_WEB_IDENTITY_TOKEN_FILE"), self.env.var("AWS_ROLE_ARN"))
        else {
            looked.push("web identity (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN not both set)".into());
            return Ok(None);
        };
        let fail = |message: String| CredentialsError::WebIdentity { role: role.to_string(), message };
        let token = std::fs::read_to_string(token_file).map_err(|e| fail(format!("reading {token_file}: {e}")))?;
        let session = self.env.var("AWS_ROLE_SESSION_NAME").unwrap_or("faultline");
        let body = form(&[
            ("Action".into(), "AssumeRoleWithWebIdentity".into()),
            ("Version".into(), "2011-06-15".into()),
            ("RoleArn".into(), role.into()),
            ("RoleSessionName".into(), session.into()),
            ("WebIdentityToken".into(), token.trim().into()),
        ]);
        let shown = super::super::http::redact(&self.sts_url);
        let response = http
            .post(&self.sts_url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| fail(format!("{shown}: {}", e.without_url())))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| fail(format!("{shown}: {}", e.without_url())))?;
        if !(200..300).contains(&status) {
            let why = super::api::error_of(&text).map(|e| e.to_string()).unwrap_or_else(|| format!("HTTP {status}"));
            return Err(fail(format!("{shown}: {why}")));
        }
        let answer: AssumeRoleResponse = quick_xml::de::from_str(&text)
            .map_err(|e| fail(format!("{shown}: not an AssumeRoleWithWebIdentity answer: {e}")))?;
        let c = answer.result.credentials;
        let expires = Timestamp::parse_rfc3339(&c.expiration).map_err(|e| fail(format!("{shown}: Expiration {e}")))?;
        let keys = Keys {
            access_key_id: c.access_key_id,
            secret_access_key: c.secret_access_key,
            session_token: Some(c.session_token),
        };
        Ok(Some(Credentials { keys, from: format!("web identity (role {role})"), expires: Some(expires) }))
    }
}

/// The credentials, unless their expiry has passed.
pub fn unexpired(c: Credentials, now: Timestamp) -> Result<Credentials, CredentialsError> {
    match c.expires {
        Some(at) if at <= now => Err(CredentialsError::Expired { from: c.from, at }),
        _ => Ok(c),
    }
}

/// The config file names profiles `[profile x]`, except `[default]`.
fn profile_section(profile: &str) -> String {
    if profile == "default" {
        "default".into()
    } else {
        format!("profile {profile}")
    }
}

type Sections = BTreeMap<String, BTreeMap<String, String>>;

/// The INI of the shared files: `[section]`, `key = value`, `#`/`;` comments. Errors carry the
/// line number (never the line: it may hold a secret).
fn parse_ini(text: &str) -> Result<Sections, (usize, String)> {
    let mut sections = Sections::new();
    let mut current: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[') {
            let name = name.strip_suffix(']').ok_or((i + 1, "a section header without `]`".to_string()))?;
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            sections.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        // Indented lines continue a nested setting (`s3 =` blocks): not ours.
        if raw.starts_with([' ', '\t']) {
            continue;
        }
        let (k, v) = line.split_once('=').ok_or((i + 1, "neither `[section]` nor `key = value`".to_string()))?;
        let section = current.as_ref().ok_or((i + 1, "a setting before any [section]".to_string()))?;
        sections.entry(section.clone()).or_default().insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    Ok(sections)
}

#[derive(Deserialize)]
struct AssumeRoleResponse {
    #[serde(rename = "AssumeRoleWithWebIdentityResult")]
    result: AssumeRoleResult,
}

#[derive(Deserialize)]
struct AssumeRoleResult {
    #[serde(rename = "Credentials")]
    credentials: StsCredentials,
}

#[derive(Deserialize)]
struct StsCredentials {
    #[serde(rename = "AccessKeyId")]
    access_key_id: String,
    #[serde(rename = "SecretAccessKey")]
    secret_access_key: String,
    #[serde(rename = "SessionToken")]
    session_token: String,
    #[serde(rename = "Expiration")]
    expiration: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)], home: Option<&std::path::Path>) -> Environment {
        Environment {
            vars: vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            home: home.map(PathBuf::from),
        }
    }

    async fn get(p: &mut Provider) -> Result<Credentials, CredentialsError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        p.get(&reqwest::Client::new(), Timestamp(1_800_000_000_000)).await
    }

    #[tokio::test]
    async fn the_environment_comes_first() {
        let e = env(
            &[("AWS_ACCESS_KEY_ID", "AKID"), ("AWS_SECRET_ACCESS_KEY", "s3cret"), ("AWS_SESSION_TOKEN", "tok")],
            None,
        );
        let c = get(&mut Provider::new(None, e, "http://sts".into())).await.unwrap();
        assert_eq!((c.keys.access_key_id.as_str(), c.keys.session_token.as_deref()), ("AKID", Some("tok")));
        assert_eq!(c.from, "the environment");
    }

    #[tokio::test]
    async fn profiles_from_the_credentials_and_config_files() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".aws")).unwrap();
        std::fs::write(
            home.path().join(".aws/credentials"),
            "# comment\n[default]\naws_access_key_id = AKDEF\naws_secret_access_key = sdef\n",
        )
        .unwrap();
        std::fs::write(
            home.path().join(".aws/config"),
            "[profile ops]\nregion = eu-west-1\naws_access_key_id=AKOPS\naws_secret_access_key=sops\n",
        )
        .unwrap();
        let c = get(&mut Provider::new(None, env(&[], Some(home.path())), "http://sts".into())).await.unwrap();
        assert_eq!(c.keys.access_key_id, "AKDEF");
        assert!(c.from.starts_with("profile `default` in ") && c.from.ends_with(".aws/credentials"), "{}", c.from);
        let c = get(&mut Provider::new(Some("ops".into()), env(&[], Some(home.path())), "http://sts".into()))
            .await
            .unwrap();
        assert_eq!(c.keys.access_key_id, "AKOPS");
        // AWS_PROFILE picks the profile when the source does not.
        let c = get(&mut Provider::new(None, env(&[("AWS_PROFILE", "ops")], Some(home.path())), "http://sts".into()))
            .await
            .unwrap();
        assert_eq!(c.keys.access_key_id, "AKOPS");
        // A profile nobody has: the message lists every place looked at.
        let e = get(&mut Provider::new(Some("nope".into()), env(&[], Some(home.path())), "http://sts".into()))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("no AWS credentials found; looked at the environment"), "{e}");
        assert!(e.contains("credentials (no [nope])") && e.contains("config (no [profile nope])"), "{e}");
        assert!(e.contains("profile `nope` is in neither file") && e.contains("web identity"), "{e}");
    }

    #[tokio::test]
    async fn a_broken_file_names_the_line_but_not_its_text() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("creds");
        std::fs::write(&file, "[default]\naws_secret_access_key sEcReT\n").unwrap();
        let e = env(&[("AWS_SHARED_CREDENTIALS_FILE", file.to_str().unwrap())], None);
        let e = get(&mut Provider::new(None, e, "http://sts".into())).await.unwrap_err().to_string();
        assert!(e.ends_with("creds:2: neither `[section]` nor `key = value`"), "{e}");
        assert!(!e.contains("sEcReT"));
    }

    #[test]
    fn expired_credentials_are_refused_naming_where_they_came_from() {
        let keys = Keys { access_key_id: "ASIA".into(), secret_access_key: "x".into(), session_token: None };
        let c = Credentials { keys, from: "web identity (role r)".into(), expires: Some(Timestamp(1000)) };
        assert!(unexpired(c.clone(), Timestamp(999)).is_ok());
        let e = unexpired(c, Timestamp(1000)).unwrap_err().to_string();
        assert_eq!(e, "the AWS credentials from web identity (role r) expired at 1970-01-01T00:00:01.000Z");
    }
}
