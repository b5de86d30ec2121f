//! The Loki source: configured LogQL queries read with `query_range` incrementally (each cycle
//! from the last line seen, forward, paged) or followed live with `tail` over a websocket
//! ([`tail`]), their lines mined into templates in-process ([`LogPatterns`], one miner per
//! source) and reported as [`ObservationKind::LogPattern`] counts per entity; the engine turns
//! error-level counts into log-burst signals and new templates into signals. A metric query
//! (`sum by (app) (rate({app="api"} |= "error" [1m]))`) answers a matrix, which becomes metric
//! observations as Prometheus' do.
//!
//! **Nothing counted twice, nothing lost.** Reads overlap on purpose (a page boundary, a tail
//! that resumes at `start = <last ns + 1>` and replays Loki's history from there, the gap
//! filled with `query_range` before a tail starts). Every line passes one per-stream filter:
//! the newest time seen in the stream and the hashes of the lines at exactly that time; a line
//! older than that time, or at it with a known hash, was counted already. (Loki keeps one
//! entry per stream, time and text too, so identical lines at one nanosecond are one line.)
//!
//! **Where a stream's lines go**: the stream's labels through the `[mapping]` rules to an
//! entity; lines of a stream no rule maps are counted in a note, never silently dropped. A
//! line's level is the one it declares ([`detect_level`]), else the stream's `level` or
//! `detected_level` label.
//!
//! **After a restart** ([`LokiSource::restore`]): every query resumes from the end of the
//! newest pattern interval this source journaled. The lines after it were never reported, so
//! they are read again (bounded by `lookback`) and counted once; the per-stream filter starts
//! empty, so this boundary relies on the interval end alone, and the miner relearns its
//! templates (a template seen before the restart may be reported `new` once more).

pub mod api;
pub mod client;
pub mod range;
pub mod tail;

use super::http::{Auth, FetchError, HttpClient, HttpSettings};
use super::mapping::Mapping;
use super::prometheus::Pull;
use crate::config::HumanDuration;
use crate::engine::logs::{detect_level, LogPatternConfig, LogPatterns};
use crate::model::{Entity, EntityId, EntityKind, Observation, ObservationKind, Relation, Timestamp};
use api::Entry;
use range::{Lines, RangeAsk};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};

const NS_PER_MS: i64 = 1_000_000;

/// One `[[sources.loki]]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LokiConfig {
    /// Shown in the status bar and stamped on observations.
    #[serde(default = "default_name")]
    pub name: String,
    /// Base URL, e.g. `http://loki:3100` (a path prefix is kept); the tail uses `ws://` or
    /// `wss://` on the same host.
    pub url: String,
    /// Sent as `X-Scope-OrgID` (multi-tenant Loki).
    #[serde(default)]
    pub tenant: Option<String>,
    /// Time between pull cycles.
    #[serde(default = "default_interval")]
    pub interval: HumanDuration,
    /// How far back the first cycle (and a cycle after a long outage) reads.
    #[serde(default = "default_lookback")]
    pub lookback: HumanDuration,
    /// Resolution of metric queries.
    #[serde(default = "default_step")]
    pub step: HumanDuration,
    /// Length of a pattern-count interval, in data time.
    #[serde(default = "default_count_interval")]
    pub count_interval: HumanDuration,
    /// Per-request timeout.
    #[serde(default = "crate::sources::http::default_timeout")]
    pub timeout: HumanDuration,
    /// Retries after a failed request (also after HTTP 429).
    #[serde(default = "crate::sources::http::default_retries")]
    pub retries: usize,
    /// Largest response read, in bytes.
    #[serde(default = "crate::sources::http::default_max_response")]
    pub max_response_bytes: usize,
    /// Lines a `query_range` page asks for (a query's `limit` overrides it).
    #[serde(default = "default_limit")]
    pub limit: usize,
    /// Pages read per query and cycle; the rest waits for the next cycle.
    #[serde(default = "default_max_pages")]
    pub max_pages: usize,
    /// Follow the queries live with `/loki/api/v1/tail` (log queries only).
    #[serde(default)]
    pub tail: bool,
    /// Lines a tail holds for the engine; past it the oldest are dropped (and counted).
    #[serde(default = "default_tail_buffer")]
    pub tail_buffer: usize,
    #[serde(default)]
    pub auth: Auth,
    /// The log stream selectors (or metric queries) to read.
    #[serde(default)]
    pub queries: Vec<LokiQuery>,
}

/// One `[[sources.loki.queries]]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LokiQuery {
    /// LogQL, e.g. `{app=~".+"}` or `{namespace="shop"} |= "error"`.
    pub query: String,
    /// Lines a page asks for (default: the source's `limit`).
    #[serde(default)]
    pub limit: Option<usize>,
    /// The metric name of a metric query's series (default: the query text).
    #[serde(default)]
    pub name: Option<String>,
}

impl LokiQuery {
    /// A log query starts with its stream selector; a metric query with a function.
    pub fn is_log_query(&self) -> bool {
        self.query.trim_start().starts_with('{')
    }
}

fn default_name() -> String {
    "loki".into()
}
fn default_interval() -> HumanDuration {
    HumanDuration::from_millis(15_000)
}
fn default_lookback() -> HumanDuration {
    HumanDuration::from_millis(3_600_000)
}
fn default_step() -> HumanDuration {
    HumanDuration::from_millis(60_000)
}
fn default_count_interval() -> HumanDuration {
    HumanDuration::from_millis(60_000)
}
fn default_limit() -> usize {
    5_000
}
fn default_max_pages() -> usize {
    20
}
fn default_tail_buffer() -> usize {
    100_000
}

/// What the per-stream filter knows of one stream.
#[derive(Debug, Default)]
struct StreamState {
    /// Newest line time seen, in nanoseconds.
    last_ns: i64,
    /// Hashes of the lines seen at exactly `last_ns`.
    at_last: Vec<u64>,
    /// The entity its labels map to (`None`: unmapped), and its kind.
    entity: Option<(EntityId, EntityKind)>,
    /// The level its `level` / `detected_level` label gives, as `level=<value>`.
    level: Option<String>,
}

impl StreamState {
    fn new(labels: &BTreeMap<String, String>, mapping: &Mapping) -> StreamState {
        let level = labels.get("level").or_else(|| labels.get("detected_level")).map(|l| format!("level={l}"));
        StreamState { last_ns: i64::MIN, at_last: Vec::new(), entity: mapping.entity(labels), level }
    }

    /// True when the line is new to this stream (and remembers it).
    fn admit(&mut self, e: &Entry) -> bool {
        if e.ns < self.last_ns {
            return false;
        }
        let hash = line_hash(&e.line);
        if e.ns == self.last_ns {
            if self.at_last.contains(&hash) {
                return false;
            }
            self.at_last.push(hash);
            return true;
        }
        self.last_ns = e.ns;
        self.at_last.clear();
        self.at_last.push(hash);
        true
    }
}

fn line_hash(line: &str) -> u64 {
    // SipHash with fixed keys: the same in every process.
    let mut h = std::hash::DefaultHasher::new();
    line.hash(&mut h);
    h.finish()
}

/// Counts of one cycle, for its notes.
#[derive(Debug, Default)]
struct Tally {
    requests: usize,
    read: usize,
    new: usize,
    duplicates: usize,
    unmapped_lines: usize,
    unmapped_streams: BTreeSet<String>,
}

/// The state of one Loki source between cycles.
pub struct LokiSource {
    config: LokiConfig,
    mapping: Mapping,
    client: HttpClient,
    patterns: LogPatterns,
    streams: HashMap<BTreeMap<String, String>, StreamState>,
    /// Where each query's next read starts, in nanoseconds (`None`: `lookback` before now).
    cursors: Vec<Option<i64>>,
    known_entities: BTreeSet<EntityId>,
    known_relations: BTreeSet<Relation>,
    /// The live tails, one per query, once started.
    tails: Vec<tail::Tail>,
}

impl LokiSource {
    pub fn new(config: LokiConfig, mapping: Mapping) -> Result<LokiSource, FetchError> {
        let settings =
            HttpSettings::for_source(config.timeout.millis(), config.retries, config.max_response_bytes, &config.auth);
        let client = client::loki_client(settings, config.tenant.clone())?;
        let patterns =
            LogPatterns::new(LogPatternConfig { interval_ms: config.count_interval.millis(), ..Default::default() });
        let cursors = vec![None; config.queries.len()];
        Ok(LokiSource {
            config,
            mapping,
            client,
            patterns,
            streams: HashMap::new(),
            cursors,
            known_entities: BTreeSet::new(),
            known_relations: BTreeSet::new(),
            tails: Vec::new(),
        })
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.config.url.trim_end_matches('/'))
    }

    /// Picks up from this source's journaled observations: every query resumes at the end of
    /// the newest pattern interval (see the module documentation), known entities and relations
    /// are not announced again.
    pub fn restore<'a>(&mut self, observations: impl Iterator<Item = &'a Observation>) {
        let mut newest: Option<Timestamp> = None;
        for obs in observations {
            match &obs.kind {
                ObservationKind::LogPattern { .. } => newest = newest.max(Some(obs.at)),
                ObservationKind::Entity { entity } => {
                    self.known_entities.insert(entity.id.clone());
                }
                ObservationKind::Relation { relation } => {
                    self.known_relations.insert(relation.clone());
                }
                _ => {}
            }
        }
        if let Some(at) = newest {
            for c in &mut self.cursors {
                *c = Some(at.millis().saturating_mul(NS_PER_MS));
            }
        }
    }

    /// Where query `i` reads from at `now_ns`: its cursor, no earlier than `lookback`.
    fn start_of(&self, i: usize, now_ns: i64) -> i64 {
        let earliest = now_ns - self.config.lookback.millis() * NS_PER_MS;
        self.cursors[i].unwrap_or(earliest).max(earliest)
    }

    /// One cycle at wall time `now`: each query's new range (or, with `tail`, what the tails
    /// received since the last cycle), mined and counted.
    pub async fn pull(&mut self, now: Timestamp) -> Pull {
        let mut pull = Pull::default();
        let mut tally = Tally::default();
        let now_ns = now.millis().saturating_mul(NS_PER_MS);
        let mut lines: Vec<Lines> = Vec::new();
        let mut metrics = Vec::new();
        if self.config.tail {
            self.start_tails(now_ns);
            for t in &self.tails {
                let drained = t.drain();
                tally.requests += drained.requests;
                pull.bytes += drained.bytes;
                pull.problems.extend(drained.problems);
                pull.notes.extend(drained.notes);
                lines.extend(drained.lines);
            }
        } else {
            for i in 0..self.config.queries.len() {
                self.read_query(i, now_ns, &mut lines, &mut metrics, &mut tally, &mut pull).await;
            }
        }
        let mut topology = Vec::new();
        let mined = self.count(lines, now, &mut tally, &mut topology);
        self.note_tally(&tally, &mut pull);
        pull.observations = topology;
        pull.observations.extend(metrics);
        pull.observations.extend(mined);
        self.forget_streams(now_ns);
        pull
    }

    /// Reads query `i`'s new range into `lines` (or `metrics`), moving its cursor on.
    async fn read_query(
        &mut self,
        i: usize,
        now_ns: i64,
        lines: &mut Vec<Lines>,
        metrics: &mut Vec<Observation>,
        tally: &mut Tally,
        pull: &mut Pull,
    ) {
        let q = &self.config.queries[i];
        let url = self.endpoint("/loki/api/v1/query_range");
        let ask = RangeAsk {
            url: &url,
            query: &q.query,
            start_ns: self.start_of(i, now_ns),
            end_ns: now_ns,
            limit: q.limit.unwrap_or(self.config.limit).max(1),
            step_ms: self.config.step.millis().max(1),
            max_pages: self.config.max_pages,
        };
        let read = range::read_range(&self.client, &ask).await;
        tally.requests += read.requests;
        pull.bytes += read.bytes;
        if !read.matrix.is_empty() {
            let name = q.name.clone().unwrap_or_else(|| q.query.clone());
            let d =
                crate::sources::prometheus::api::decode_matrix(&read.matrix, &name, &self.mapping, &self.config.name);
            if d.unmapped_series > 0 {
                pull.notes.push(format!(
                    "query `{}`: {} series match no [mapping] rule, e.g. {}; skipped",
                    q.query,
                    d.unmapped_series,
                    d.unmapped_example.as_deref().unwrap_or("{}")
                ));
            }
            let last = read.matrix.iter().filter_map(|s| s.values.last().map(|v| v.at())).max();
            if let Some(last) = last {
                self.cursors[i] = Some((last.millis() + self.config.step.millis().max(1)) * NS_PER_MS);
            }
            let mut topology = Vec::new();
            for o in &d.observations {
                if let ObservationKind::Metric { entity, .. } = &o.kind {
                    let kind = crate::engine::topology::kind_from_id(entity.as_str());
                    self.entity(entity.clone(), kind, o.at, &mut topology);
                }
            }
            metrics.extend(topology);
            metrics.extend(d.observations);
            return;
        }
        // The next read starts after the newest line read (a page limit: where it stopped; a
        // range that held nothing: at its end). A failed read moves the cursor only past what
        // it did read.
        let next = match (read.more_from, read.newest_ns) {
            (Some(from), _) => Some(from),
            (None, Some(newest)) => Some(newest + 1),
            (None, None) if read.error.is_none() => Some(now_ns),
            (None, None) => None,
        };
        if let Some(next) = next {
            self.cursors[i] = Some(next);
        }
        if let Some(from) = read.more_from {
            pull.notes.push(format!(
                "query `{}`: more than {} pages of {} lines since the last cycle; the rest is read from {} next cycle",
                q.query, self.config.max_pages, ask.limit, from
            ));
        }
        match read.error {
            // Backing off is no failure: the range waits for the next cycle, nothing is lost.
            Some(e) if read.rate_limited => pull.notes.push(e),
            Some(e) => pull.problems.push(format!("source `{}`: {e}", self.config.name)),
            None => {}
        }
        lines.extend(read.streams);
    }

    /// Starts a tail per query (once), each from its query's cursor.
    fn start_tails(&mut self, now_ns: i64) {
        if !self.tails.is_empty() {
            return;
        }
        for i in 0..self.config.queries.len() {
            let q = &self.config.queries[i];
            let spec = tail::TailSpec {
                source: self.config.name.clone(),
                base_url: self.config.url.trim_end_matches('/').to_string(),
                query: q.query.clone(),
                limit: q.limit.unwrap_or(self.config.limit).max(1),
                start_ns: self.start_of(i, now_ns),
                max_pages: self.config.max_pages,
                buffer: self.config.tail_buffer.max(1),
                ca_file: self.config.auth.ca_file.clone(),
            };
            self.tails.push(tail::Tail::start(spec, self.client.clone()));
        }
    }

    /// Runs the cycle's lines through the per-stream filter (oldest first) and the miner.
    fn count(
        &mut self,
        lines: Vec<Lines>,
        now: Timestamp,
        tally: &mut Tally,
        topology: &mut Vec<Observation>,
    ) -> Vec<Observation> {
        let mut order: Vec<(i64, usize, usize)> = Vec::new();
        for (s, (_, entries)) in lines.iter().enumerate() {
            order.extend(entries.iter().enumerate().map(|(e, entry)| (entry.ns, s, e)));
        }
        // By time; ties keep the order read (stable).
        order.sort_by_key(|&(ns, _, _)| ns);
        // Pattern counts and the bounded sample of raw lines (`LogLines`) of each interval.
        let mut mined = Vec::new();
        let mut line_buf = String::new();
        for (ns, s, e) in order {
            let (labels, entries) = &lines[s];
            let entry = &entries[e];
            tally.read += 1;
            if !self.streams.contains_key(labels.as_ref()) {
                let state = StreamState::new(labels, &self.mapping);
                self.streams.insert(labels.as_ref().clone(), state);
            }
            let Some(state) = self.streams.get_mut(labels.as_ref()) else { continue };
            if !state.admit(entry) {
                tally.duplicates += 1;
                continue;
            }
            tally.new += 1;
            let at = Timestamp(ns.div_euclid(NS_PER_MS));
            let Some((entity, kind)) = state.entity.clone() else {
                tally.unmapped_lines += 1;
                if tally.unmapped_streams.len() < 3 {
                    tally.unmapped_streams.insert(api::label_text(labels));
                }
                continue;
            };
            // The stream's level label speaks for a line that declares none.
            let line = match &state.level {
                Some(level) if detect_level(&entry.line).is_none() => {
                    line_buf.clear();
                    line_buf.push_str(&entry.line);
                    line_buf.push(' ');
                    line_buf.push_str(level);
                    line_buf.as_str()
                }
                _ => entry.line.as_str(),
            };
            if !self.known_entities.contains(&entity) {
                self.entity(entity.clone(), kind, at, topology);
                for r in self.mapping.relations("", labels, &self.config.name) {
                    if self.known_relations.insert(r.clone()) {
                        let (from, to) = (r.from.clone(), r.to.clone());
                        for id in [from, to] {
                            let k = crate::engine::topology::kind_from_id(id.as_str());
                            self.entity(id, k, at, topology);
                        }
                        topology.push(Observation {
                            at,
                            source: self.config.name.clone(),
                            kind: ObservationKind::Relation { relation: r },
                        });
                    }
                }
            }
            self.patterns.line_observed(&entity, line, None, at, &self.config.name, &mut mined);
        }
        self.patterns.advance_observed(now, &self.config.name, &mut mined);
        mined
    }

    fn note_tally(&self, t: &Tally, pull: &mut Pull) {
        if t.unmapped_lines > 0 {
            let examples: Vec<&str> = t.unmapped_streams.iter().map(String::as_str).collect();
            pull.notes.push(format!(
                "{} lines of streams that match no [mapping] rule, e.g. {}; not counted",
                t.unmapped_lines,
                examples.join(" ")
            ));
        }
        // The cost of the cycle, last so that what needs attention shows first.
        pull.notes.push(format!(
            "cycle: {} requests, {} lines read ({} new, {} already counted), {} streams known",
            t.requests,
            t.read,
            t.new,
            t.duplicates,
            self.streams.len()
        ));
    }

    /// Streams silent for longer than `lookback` are forgotten (a read never goes back further).
    fn forget_streams(&mut self, now_ns: i64) {
        let horizon = now_ns - self.config.lookback.millis() * NS_PER_MS;
        self.streams.retain(|_, s| s.last_ns >= horizon);
    }

    fn entity(&mut self, id: EntityId, kind: EntityKind, at: Timestamp, out: &mut Vec<Observation>) {
        if self.known_entities.insert(id.clone()) {
            let entity = Entity::new(id, kind);
            out.push(Observation { at, source: self.config.name.clone(), kind: ObservationKind::Entity { entity } });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn entry(ns: i64, line: &str) -> Entry {
        Entry { ns, line: line.into() }
    }

    #[test]
    fn the_stream_filter_drops_what_was_seen_and_keeps_new_lines_at_the_same_time() {
        let mut s = StreamState::new(&labels(&[("app", "api")]), &Mapping::default());
        assert!(s.admit(&entry(10, "a")));
        assert!(s.admit(&entry(10, "b")), "another line at the same nanosecond is new");
        assert!(!s.admit(&entry(10, "a")), "a page boundary repeats it");
        assert!(!s.admit(&entry(9, "z")), "older than the newest seen");
        assert!(s.admit(&entry(11, "a")));
        assert!(!s.admit(&entry(10, "b")));
    }

    #[test]
    fn stream_labels_give_the_entity_and_the_level() {
        let m = Mapping::default();
        let s = StreamState::new(&labels(&[("service", "checkout"), ("detected_level", "error")]), &m);
        assert_eq!(s.entity.as_ref().map(|(e, _)| e.as_str()), Some("service:checkout"));
        assert_eq!(s.level.as_deref(), Some("level=error"));
        let s = StreamState::new(&labels(&[("namespace", "shop"), ("pod", "api-1")]), &m);
        assert_eq!(s.entity.map(|(e, k)| (e.0, k)), Some(("pod:shop/api-1".to_string(), EntityKind::Pod)));
        assert!(StreamState::new(&labels(&[("filename", "/var/log/x")]), &m).entity.is_none());
    }

    fn source(queries: &[&str]) -> LokiSource {
        let text = format!(
            "url = \"http://127.0.0.1:9\"\n{}",
            queries.iter().map(|q| format!("[[queries]]\nquery = {q:?}\n")).collect::<String>()
        );
        let config: LokiConfig = toml::from_str(&text).unwrap();
        LokiSource::new(config, Mapping::default()).unwrap()
    }

    #[test]
    fn lines_are_counted_once_with_the_stream_level_and_unmapped_ones_are_noted() {
        let mut src = source(&["{service=~\".+\"}"]);
        let api = std::sync::Arc::new(labels(&[("service", "api"), ("level", "error")]));
        let other = std::sync::Arc::new(labels(&[("filename", "/var/log/syslog")]));
        let base = 1_795_000_000_000 * NS_PER_MS;
        let batch = |from: i64, to: i64| -> Vec<Lines> {
            vec![
                (
                    api.clone(),
                    (from..to).map(|i| entry(base + i * NS_PER_MS, &format!("timeout after {i} ms"))).collect(),
                ),
                (other.clone(), vec![entry(base, "cron ran")]),
            ]
        };
        let (mut tally, mut topo) = (Tally::default(), Vec::new());
        let mut mined = src.count(batch(0, 10), Timestamp(1_795_000_000_000), &mut tally, &mut topo);
        // The second read overlaps the first: only lines 10..15 are new.
        mined.extend(src.count(batch(5, 15), Timestamp(1_795_000_060_000), &mut tally, &mut topo));
        assert_eq!((tally.new, tally.duplicates, tally.unmapped_lines), (16, 6, 1));
        let counts: Vec<(&str, u64, crate::model::Severity)> = mined
            .iter()
            .filter_map(|o| match &o.kind {
                ObservationKind::LogPattern { entity, count, level, .. } => Some((entity.as_str(), *count, *level)),
                _ => None,
            })
            .collect();
        assert_eq!(counts, [("service:api", 15, crate::model::Severity::Major)], "level from the stream's level label");
        // Beside the counts, a sample of the raw lines (the first of the template, then errors).
        let sampled = mined.iter().find_map(|o| match &o.kind {
            ObservationKind::LogLines { entity, lines } => Some((entity.as_str(), lines.len())),
            _ => None,
        });
        assert_eq!(sampled, Some(("service:api", 15)));
        assert!(matches!(&topo[0].kind, ObservationKind::Entity { entity } if entity.id.as_str() == "service:api"));
        let mut pull = Pull::default();
        src.note_tally(&tally, &mut pull);
        assert!(
            pull.notes[0]
                .starts_with("1 lines of streams that match no [mapping] rule, e.g. {filename=\"/var/log/syslog\"}"),
            "{:?}",
            pull.notes
        );
        assert!(pull.notes[1].contains("22 lines read (16 new, 6 already counted)"), "{:?}", pull.notes);
    }

    #[test]
    fn restore_resumes_every_query_at_the_newest_pattern_interval() {
        let mut src = source(&["{a=\"1\"}", "{b=\"2\"}"]);
        let obs = |at: i64| Observation {
            at: Timestamp(at),
            source: "loki".into(),
            kind: ObservationKind::LogPattern {
                entity: EntityId::new("service:a"),
                template_id: "x".into(),
                template: "x".into(),
                level: crate::model::Severity::Info,
                count: 1,
                new_template: false,
            },
        };
        let all = [obs(120_000), obs(180_000), obs(60_000)];
        src.restore(all.iter());
        assert_eq!(src.cursors, vec![Some(180_000 * NS_PER_MS); 2]);
        // Never earlier than lookback before now.
        assert_eq!(src.start_of(0, 200_000 * NS_PER_MS), 180_000 * NS_PER_MS);
        let late = 10_000_000 * NS_PER_MS;
        assert_eq!(src.start_of(1, late), late - 3_600_000 * NS_PER_MS);
    }
}
