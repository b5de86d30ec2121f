//! Entity mapping: which labels of a series or alert name which entity, and which label sets
//! and metrics give relations.
//!
//! Rules are templates over labels: `pod:{namespace}/{pod}` renders when both labels are present
//! and non-empty; `{instance:host}` takes the `instance` label without its `:port`. Entity rules
//! are tried in order and the first that renders wins, so the most specific come first. The
//! defaults cover node exporter (`instance`, `node`), kube-state-metrics (`namespace` + `pod`,
//! `node`), `service`/`job`, scrape targets (`job` runs on the host of `instance`), and the
//! service-graph metrics of Tempo/Grafana Agent
//! (`traces_service_graph_request_total{client,server}`) and Istio
//! (`istio_requests_total{source_workload,destination_workload}`).

use crate::model::{EntityId, EntityKind, Relation, RelationKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A label template such as `host:{instance:host}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Label { name: String, host_only: bool },
}

/// A template that does not parse, with what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template `{template}`: {problem}")]
pub struct TemplateError {
    pub template: String,
    pub problem: String,
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let err = |problem: String| TemplateError { template: text.to_string(), problem };
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_string()));
            }
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or_else(|| err(format!("`{{` at byte {} is never closed", open)))?;
            let inner = &after[..close];
            let (name, host_only) = match inner.split_once(':') {
                None => (inner, false),
                Some((n, "host")) => (n, true),
                Some((_, f)) => return Err(err(format!("unknown filter `{f}` (only `host` strips a port)"))),
            };
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                return Err(err(format!("`{{{inner}}}` does not name a label")));
            }
            parts.push(Part::Label { name: name.to_string(), host_only });
            rest = &after[close + 1..];
        }
        if rest.contains('}') {
            return Err(err("`}` without `{`".to_string()));
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        if !parts.iter().any(|p| matches!(p, Part::Label { .. })) {
            return Err(err("names no label (write e.g. `host:{instance:host}`)".to_string()));
        }
        Ok(Template { text: text.to_string(), parts })
    }

    /// The rendered text, or `None` when a label it needs is missing or empty.
    pub fn render(&self, labels: &BTreeMap<String, String>) -> Option<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Literal(s) => out.push_str(s),
                Part::Label { name, host_only } => {
                    let v = labels.get(name).filter(|v| !v.is_empty())?;
                    out.push_str(if *host_only { strip_port(v) } else { v });
                }
            }
        }
        Some(out)
    }
}

/// `db-1:9100` → `db-1`, `[::1]:9100` → `::1`; a value without a port is kept.
fn strip_port(v: &str) -> &str {
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split_once(']').map(|(h, _)| h).unwrap_or(v);
    }
    match v.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => v,
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Template {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Template::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Labels → entity: the first rule that renders wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityRule {
    pub kind: EntityKind,
    pub id: Template,
}

/// Co-occurring labels → a *runs on* relation (e.g. a pod and its node on one series).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunsOnRule {
    pub from: Template,
    pub to: Template,
}

/// A service-graph metric → *calls* relations between its client and server labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallsRule {
    /// The metric name (`__name__`).
    pub metric: String,
    pub from: Template,
    pub to: Template,
}

/// All mapping rules (the `[mapping]` table of the config). Each list given in the config
/// replaces that list's defaults; a list left out keeps its defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mapping {
    pub entity: Vec<EntityRule>,
    pub runs_on: Vec<RunsOnRule>,
    pub calls: Vec<CallsRule>,
}

fn t(s: &str) -> Template {
    // Only for the built-in defaults below, which the tests parse.
    Template::parse(s).unwrap_or_else(|e| panic!("built-in mapping template: {e}"))
}

impl Default for Mapping {
    fn default() -> Mapping {
        let entity = |kind, id| EntityRule { kind, id: t(id) };
        Mapping {
            entity: vec![
                entity(EntityKind::Pod, "pod:{namespace}/{pod}"),
                entity(EntityKind::Container, "container:{container}"),
                entity(EntityKind::Service, "service:{service}"),
                entity(EntityKind::Host, "host:{node}"),
                entity(EntityKind::Host, "host:{instance:host}"),
                entity(EntityKind::Service, "service:{job}"),
            ],
            runs_on: vec![
                RunsOnRule { from: t("pod:{namespace}/{pod}"), to: t("host:{node}") },
                RunsOnRule { from: t("service:{service}"), to: t("host:{instance:host}") },
                // Every scraped series carries the target labels `job` and `instance`: the job's
                // exporter or process listens on that instance's host, so a plain node exporter
                // or any scrape target gives a *runs on* stack without a `service` label.
                RunsOnRule { from: t("service:{job}"), to: t("host:{instance:host}") },
            ],
            calls: vec![
                CallsRule {
                    metric: "traces_service_graph_request_total".into(),
                    from: t("service:{client}"),
                    to: t("service:{server}"),
                },
                CallsRule {
                    metric: "istio_requests_total".into(),
                    from: t("service:{source_workload}"),
                    to: t("service:{destination_workload}"),
                },
            ],
        }
    }
}

impl Mapping {
    /// The entity a label set concerns, with its kind; `None` when no rule applies (the caller
    /// reports such series as unmapped rather than inventing an entity).
    pub fn entity(&self, labels: &BTreeMap<String, String>) -> Option<(EntityId, EntityKind)> {
        self.entity.iter().find_map(|r| r.id.render(labels).map(|id| (EntityId(id), r.kind)))
    }

    /// The relations a series' label set shows: *runs on* from co-occurring labels, *calls*
    /// from service-graph metrics (by `metric`, the series' `__name__`). Sorted, no duplicates.
    pub fn relations(&self, metric: &str, labels: &BTreeMap<String, String>, source: &str) -> Vec<Relation> {
        let mut out = Vec::new();
        let mut push = |from: Option<String>, kind, to: Option<String>| {
            if let (Some(from), Some(to)) = (from, to) {
                if from != to {
                    out.push(Relation { from: EntityId(from), kind, to: EntityId(to), learned_from: source.into() });
                }
            }
        };
        for r in &self.runs_on {
            push(r.from.render(labels), RelationKind::RunsOn, r.to.render(labels));
        }
        for r in self.calls.iter().filter(|r| r.metric == metric) {
            push(r.from.render(labels), RelationKind::Calls, r.to.render(labels));
        }
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn templates_render_only_with_every_label_and_strip_ports() {
        let tpl = Template::parse("host:{instance:host}").unwrap();
        assert_eq!(tpl.render(&labels(&[("instance", "db-1:9100")])).as_deref(), Some("host:db-1"));
        assert_eq!(tpl.render(&labels(&[("instance", "[::1]:9100")])).as_deref(), Some("host:::1"));
        assert_eq!(tpl.render(&labels(&[("instance", "db-1")])).as_deref(), Some("host:db-1"));
        assert_eq!(tpl.render(&labels(&[("instance", "")])), None);
        assert_eq!(tpl.render(&labels(&[("job", "x")])), None);
        for (bad, says) in [
            ("host:{instance", "never closed"),
            ("host:{instance:port}", "unknown filter `port`"),
            ("host:{}", "does not name a label"),
            ("host:x}", "without `{`"),
            ("host:fixed", "names no label"),
        ] {
            let e = Template::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains(says), "{e}");
        }
    }

    #[test]
    fn default_rules_map_node_exporter_kube_state_metrics_and_service_graphs() {
        let m = Mapping::default();
        let e = |pairs: &[(&str, &str)]| m.entity(&labels(pairs)).map(|(id, k)| (id.0, k));
        assert_eq!(
            e(&[("instance", "10.0.0.5:9100"), ("job", "node")]),
            Some(("host:10.0.0.5".into(), EntityKind::Host))
        );
        assert_eq!(
            e(&[("namespace", "shop"), ("pod", "cart-7d9"), ("node", "n1")]),
            Some(("pod:shop/cart-7d9".into(), EntityKind::Pod))
        );
        assert_eq!(
            e(&[("service", "checkout"), ("instance", "app-1:8080")]),
            Some(("service:checkout".into(), EntityKind::Service))
        );
        assert_eq!(e(&[("job", "batch")]), Some(("service:batch".into(), EntityKind::Service)));
        assert_eq!(e(&[("code", "500")]), None, "an unknown label set maps to nothing");

        let r =
            m.relations("kube_pod_info", &labels(&[("namespace", "shop"), ("pod", "cart-7d9"), ("node", "n1")]), "p");
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].from.as_str(), r[0].kind, r[0].to.as_str()),
            ("pod:shop/cart-7d9", RelationKind::RunsOn, "host:n1")
        );
        let g = labels(&[("client", "frontend"), ("server", "checkout")]);
        let r = m.relations("traces_service_graph_request_total", &g, "prometheus");
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].from.as_str(), r[0].kind, r[0].to.as_str()),
            ("service:frontend", RelationKind::Calls, "service:checkout")
        );
        assert_eq!(r[0].learned_from, "prometheus");
        assert!(m.relations("some_other_metric", &g, "p").is_empty(), "calls come only from service-graph metrics");
    }

    #[test]
    fn scrape_targets_run_on_the_host_of_their_instance() {
        let m = Mapping::default();
        let triples = |metric: &str, pairs: &[(&str, &str)]| -> Vec<(String, RelationKind, String)> {
            m.relations(metric, &labels(pairs), "p").into_iter().map(|r| (r.from.0, r.kind, r.to.0)).collect()
        };
        let runs_on = |from: &str, to: &str| (from.to_string(), RelationKind::RunsOn, to.to_string());
        // Node exporter: the series is the host's, and the job runs on it.
        assert_eq!(
            triples("node_load1", &[("job", "node"), ("instance", "10.0.0.5:9100")]),
            vec![runs_on("service:node", "host:10.0.0.5")]
        );
        // Any scrape target's `up`.
        assert_eq!(
            triples("up", &[("job", "prometheus"), ("instance", "localhost:9090")]),
            vec![runs_on("service:prometheus", "host:localhost")]
        );
        // kube-state-metrics scraped with honor_labels: the pod runs on its node, and the exporter
        // itself on the address it was scraped at.
        let ksm = [("job", "kube-state-metrics"), ("instance", "10.244.1.5:8080")];
        assert_eq!(
            triples("kube_pod_info", &[ksm[0], ksm[1], ("namespace", "shop"), ("pod", "cart-7d9"), ("node", "n1")]),
            vec![runs_on("pod:shop/cart-7d9", "host:n1"), runs_on("service:kube-state-metrics", "host:10.244.1.5")]
        );
        // No container → pod edge: container ids are bare names (`container:app` in every pod
        // that has one), so such an edge would tie unrelated pods together.
        assert_eq!(
            triples("kube_pod_container_info", &[("namespace", "shop"), ("pod", "cart-7d9"), ("container", "app")]),
            vec![]
        );
        // A pushed batch job without an instance (honor_labels) runs nowhere we know of.
        assert_eq!(triples("backup_last_success", &[("job", "nightly_backup"), ("instance", "")]), vec![]);
        // `service` and `job` both present: each runs on the host.
        assert_eq!(
            triples("http_requests_total", &[("service", "checkout"), ("job", "app"), ("instance", "app-1:8080")]),
            vec![runs_on("service:app", "host:app-1"), runs_on("service:checkout", "host:app-1")]
        );
    }

    #[test]
    fn rules_read_from_toml_and_bad_templates_name_themselves() {
        let m: Mapping = toml::from_str(
            "[[entity]]\nkind = \"database\"\nid = \"database:{datname}\"\n\
             [[calls]]\nmetric = \"rpc_total\"\nfrom = \"service:{src}\"\nto = \"service:{dst}\"\n",
        )
        .unwrap();
        assert_eq!(m.entity(&labels(&[("datname", "orders")])).unwrap().0 .0, "database:orders");
        // A list given replaces that list's defaults; lists left out keep theirs.
        assert_eq!(m.entity.len(), 1);
        assert_eq!(m.calls.len(), 1);
        assert_eq!(m.runs_on, Mapping::default().runs_on);
        let e = toml::from_str::<Mapping>("[[entity]]\nkind = \"host\"\nid = \"host:{instance:port}\"\n").unwrap_err();
        assert!(e.to_string().contains("unknown filter `port`"), "{e}");
    }
}
