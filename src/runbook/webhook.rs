//! The built-in webhook shapes: what request each `http` step becomes. The shapes follow the
//! services' documentation:
//! - Slack incoming webhook: POST the URL with `{"text": ..., "blocks": [section mrkdwn]}`;
//! - PagerDuty Events API v2: POST `/v2/enqueue` with `routing_key`, `event_action`, `dedup_key`
//!   and `payload{summary, source, severity, component, group, class, custom_details}`;
//! - Jira: POST `/rest/api/2/issue` with `fields{project{key}, summary, description,
//!   issuetype{name}}` (API 3: the description in Atlassian Document Format);
//! - AWX: POST `/api/v2/job_templates/{id}/launch/` with `extra_vars`;
//! - Rundeck: POST `/api/{version}/job/{id}/run` with `options` and `X-Rundeck-Auth-Token`.

use super::file::{HttpShape, HttpStep};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// A filled-in HTTP request, exactly as it will be sent. `{:?}` shows the shape and method only
/// (headers and body may hold secrets).
#[derive(Clone, PartialEq)]
pub struct HttpRequest {
    pub shape: HttpShape,
    pub method: String,
    pub url: String,
    /// Sorted by name.
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HttpRequest {{ shape: {}, method: {}, .. }}", self.shape.as_str(), self.method)
    }
}

/// Fills a field: `(dotted key, template)` to the value, or the error `(key, message)`.
pub type Fill<'a> = dyn FnMut(&str, &str) -> Result<String, (String, String)> + 'a;

/// The request `h` (step `index`) makes, every template filled by `fill`.
pub fn request(h: &HttpStep, index: usize, fill: &mut Fill<'_>) -> Result<HttpRequest, (String, String)> {
    let key = |rest: &str| format!("steps[{index}].{rest}");
    let url = one(fill, &key("url"), &h.url, None)?;
    let base = url.clone().unwrap_or_default().trim_end_matches('/').to_string();
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    headers.insert("Content-Type".into(), "application/json".into());
    let (method, url, body) = match h.shape {
        HttpShape::Slack => {
            let text = one(fill, &key("text"), &h.text, None)?.unwrap_or_default();
            let body = json!({
                "text": text,
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
            });
            ("POST".to_string(), base, body)
        }
        HttpShape::Pagerduty => {
            let url = url.unwrap_or_else(|| "https://events.pagerduty.com/v2/enqueue".into());
            let mut payload = Map::new();
            payload.insert(
                "summary".into(),
                Value::String(one(fill, &key("summary"), &h.summary, None)?.unwrap_or_default()),
            );
            payload.insert(
                "source".into(),
                Value::String(one(fill, &key("source"), &h.source, Some("{entity.id}"))?.unwrap_or_default()),
            );
            let severity = match one(fill, &key("severity"), &h.severity, None)? {
                Some(s) => s,
                None => pagerduty_severity(&fill(&key("severity"), "{problem.severity}")?).to_string(),
            };
            payload.insert("severity".into(), Value::String(severity));
            for (name, v) in [("component", &h.component), ("group", &h.group), ("class", &h.class)] {
                if let Some(v) = one(fill, &key(name), v, None)? {
                    payload.insert(name.into(), Value::String(v));
                }
            }
            if !h.custom_details.is_empty() {
                payload.insert(
                    "custom_details".into(),
                    Value::Object(fill_map(&h.custom_details, &key("custom_details"), fill)?),
                );
            }
            let body = json!({
                "routing_key": one(fill, &key("routing_key"), &h.routing_key, None)?.unwrap_or_default(),
                "event_action": one(fill, &key("event_action"), &h.event_action, Some("trigger"))?.unwrap_or_default(),
                "dedup_key": one(fill, &key("dedup_key"), &h.dedup_key, Some("faultline-{problem.id}"))?.unwrap_or_default(),
                "payload": Value::Object(payload),
            });
            ("POST".to_string(), url, body)
        }
        HttpShape::Jira => {
            let version = h.api_version.unwrap_or(2);
            let description =
                one(fill, &key("description"), &h.description, Some("{problem.title}"))?.unwrap_or_default();
            let description = if version == 3 {
                json!({"type": "doc", "version": 1, "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": description}]}
                ]})
            } else {
                Value::String(description)
            };
            let body = json!({"fields": {
                "project": {"key": one(fill, &key("project"), &h.project, None)?.unwrap_or_default()},
                "summary": one(fill, &key("summary"), &h.summary, None)?.unwrap_or_default(),
                "description": description,
                "issuetype": {"name": one(fill, &key("issue_type"), &h.issue_type, Some("Task"))?.unwrap_or_default()},
            }});
            ("POST".to_string(), format!("{base}/rest/api/{version}/issue"), body)
        }
        HttpShape::Awx => {
            let id = one(fill, &key("template_id"), &h.template_id, None)?.unwrap_or_default();
            let body = json!({"extra_vars": Value::Object(fill_map(&h.extra_vars, &key("extra_vars"), fill)?)});
            ("POST".to_string(), format!("{base}/api/v2/job_templates/{}/launch/", path_segment(&id)), body)
        }
        HttpShape::Rundeck => {
            let id = one(fill, &key("job_id"), &h.job_id, None)?.unwrap_or_default();
            let token = one(fill, &key("token"), &h.token, None)?.unwrap_or_default();
            headers.insert("X-Rundeck-Auth-Token".into(), token);
            headers.insert("Accept".into(), "application/json".into());
            let version = h.api_version.unwrap_or(41);
            let body = json!({"options": Value::Object(fill_map(&h.options, &key("options"), fill)?)});
            ("POST".to_string(), format!("{base}/api/{version}/job/{}/run", path_segment(&id)), body)
        }
        HttpShape::Generic => {
            let method = one(fill, &key("method"), &h.method, Some("POST"))?.unwrap_or_default().to_ascii_uppercase();
            let body = match &h.body {
                Some(b) => fill_toml(b, &key("body"), fill)?,
                None => Value::Null,
            };
            (method, base_or_full(url), body)
        }
    };
    for (name, v) in &h.headers {
        headers.insert(name.clone(), fill(&key(&format!("headers.{name}")), v)?);
    }
    Ok(HttpRequest { shape: h.shape, method, url, headers: headers.into_iter().collect(), body })
}

/// A single field: its template, else `default` (also a template), else nothing.
fn one(
    fill: &mut Fill<'_>,
    key: &str,
    v: &Option<String>,
    default: Option<&str>,
) -> Result<Option<String>, (String, String)> {
    match (v, default) {
        (Some(t), _) => fill(key, t).map(Some),
        (None, Some(d)) => fill(key, d).map(Some),
        (None, None) => Ok(None),
    }
}

fn base_or_full(url: Option<String>) -> String {
    url.unwrap_or_default()
}

/// An id placed into a URL path: characters outside the unreserved set are percent-encoded, so a
/// value cannot add path segments or a query.
fn path_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// faultline severity → PagerDuty's four.
fn pagerduty_severity(s: &str) -> &'static str {
    match s {
        "critical" => "critical",
        "major" => "error",
        "warning" => "warning",
        _ => "info",
    }
}

fn fill_map(
    m: &BTreeMap<String, String>,
    key: &str,
    fill: &mut Fill<'_>,
) -> Result<Map<String, Value>, (String, String)> {
    m.iter().map(|(n, v)| fill(&format!("{key}.{n}"), v).map(|v| (n.clone(), Value::String(v)))).collect()
}

fn fill_toml(v: &toml::Value, key: &str, fill: &mut Fill<'_>) -> Result<Value, (String, String)> {
    Ok(match v {
        toml::Value::String(s) => Value::String(fill(key, s)?),
        toml::Value::Integer(i) => json!(i),
        toml::Value::Float(f) => json!(f),
        toml::Value::Boolean(b) => json!(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(
            a.iter().enumerate().map(|(i, v)| fill_toml(v, &format!("{key}[{i}]"), fill)).collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(n, v)| fill_toml(v, &format!("{key}.{n}"), fill).map(|v| (n.clone(), v)))
                .collect::<Result<_, _>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_cannot_escape_their_path_segment() {
        assert_eq!(super::path_segment("12"), "12");
        assert_eq!(super::path_segment("../1?x=y"), "..%2F1%3Fx%3Dy");
    }
}
