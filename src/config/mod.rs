//! Configuration: the TOML file (`faultline.toml`) that tunes the engine, the journal and the UI.
//!
//! Every table denies unknown keys and every key is optional, defaulting to
//! [`EngineConfig::default`] and friends. Durations are strings (`"15m"`, `"30s"`, `"1h 30m"`).
//! Errors name the file, line, column and dotted key (see [`ConfigError`]). Sources
//! (`[[sources.prometheus]]`...) will be further top-level tables beside `[engine]`.
//! `fixtures/config/faultline.example.toml` documents every key.

mod duration;
mod error;

pub use duration::HumanDuration;
pub use error::ConfigError;

use crate::engine::detect::{DetectConfig, MAX_SHIFT_SAMPLES};
use crate::engine::EngineConfig;
use error::line_column;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// File name of the journal inside the state directory when `journal.path` is not set.
pub const DEFAULT_JOURNAL_FILE: &str = "journal.sqlite";

/// The whole config file.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a TOML document")]
pub struct Config {
    /// `[engine]`: correlation, root cause and detection tunables.
    pub engine: EngineSection,
    /// `[journal]`: where problem events and observations are kept, and for how long.
    pub journal: JournalSection,
    /// `[ui]`: terminal UI preferences.
    pub ui: UiSection,
    /// `[[sources.prometheus]]`: the backends to pull from.
    pub sources: SourcesSection,
    /// `[mapping]`: which labels name which entity; see [`crate::sources::mapping`].
    pub mapping: crate::sources::mapping::Mapping,
    /// `[runbooks]`: where runbook files and run locks are, and the agent's auto-remediation.
    pub runbooks: RunbooksSection,
}

/// `[runbooks]` and `[[runbooks.auto]]`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a [runbooks] table")]
pub struct RunbooksSection {
    /// Directory of runbook TOML files; unset means `runbooks/` in the user's config directory
    /// ([`crate::runbook::file::default_dir`]). Relative to the config file's directory.
    pub dir: Option<PathBuf>,
    /// Directory of the cross-process run locks; unset means [`crate::runbook::default_lock_dir`].
    pub lock_dir: Option<PathBuf>,
    /// Auto-remediation policies of the agent: none (off) by default.
    pub auto: Vec<AutoRemediation>,
}

/// One `[[runbooks.auto]]`: the agent runs `runbook` by itself on a problem it matches, once the
/// problem's best root-cause candidate scores at least `min_score`, at most `max_per_hour` times
/// per hour (across all problems), never in `--readonly`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoRemediation {
    pub runbook: String,
    /// Minimum score of the top root-cause candidate (0 to 1).
    #[serde(default = "default_min_score")]
    pub min_score: f64,
    #[serde(default = "default_max_per_hour")]
    pub max_per_hour: u32,
}

fn default_min_score() -> f64 {
    0.8
}

fn default_max_per_hour() -> u32 {
    1
}

impl RunbooksSection {
    /// The runbook directory: `dir`, else the user's (`~/.config/faultline/runbooks`).
    pub fn dir(&self) -> Option<PathBuf> {
        self.dir.clone().or_else(crate::runbook::file::default_dir)
    }

    /// The lock directory: `lock_dir`, else [`crate::runbook::default_lock_dir`].
    pub fn lock_dir(&self) -> PathBuf {
        self.lock_dir.clone().unwrap_or_else(crate::runbook::default_lock_dir)
    }
}

/// `[sources]`: one array of tables per kind of backend.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a [sources] table")]
pub struct SourcesSection {
    /// How many sources pull at the same time (the rest wait their turn).
    pub max_concurrent: usize,
    pub prometheus: Vec<crate::sources::prometheus::PrometheusConfig>,
    pub alertmanager: Vec<crate::sources::alertmanager::AlertmanagerConfig>,
    /// `[[sources.topology]]`: topology files (what discovery cannot see, criticality).
    pub topology: Vec<crate::sources::topology_file::TopologyFileConfig>,
    /// `[[sources.change_feed]]`: JSON-lines files of deployments, config changes, restarts.
    pub change_feed: Vec<crate::sources::change_feed::ChangeFeedConfig>,
    /// `[[sources.cloudwatch]]`: AWS CloudWatch metrics and alarms, EC2 instances.
    pub cloudwatch: Vec<crate::sources::cloudwatch::CloudWatchConfig>,
    /// `[[sources.loki]]`: Loki log queries, mined into pattern counts.
    pub loki: Vec<crate::sources::loki::LokiConfig>,
}

impl SourcesSection {
    /// True when no source of any kind is configured.
    pub fn is_empty(&self) -> bool {
        self.prometheus.is_empty()
            && self.alertmanager.is_empty()
            && self.topology.is_empty()
            && self.change_feed.is_empty()
            && self.cloudwatch.is_empty()
            && self.loki.is_empty()
    }
}

impl Default for SourcesSection {
    fn default() -> SourcesSection {
        SourcesSection {
            max_concurrent: 4,
            prometheus: Vec::new(),
            alertmanager: Vec::new(),
            topology: Vec::new(),
            change_feed: Vec::new(),
            cloudwatch: Vec::new(),
            loki: Vec::new(),
        }
    }
}

/// `[engine]` and `[engine.detect]`. Field meanings are those of [`EngineConfig`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "an [engine] table")]
pub struct EngineSection {
    /// A signal joins an open problem only if the problem saw activity this recently.
    pub correlation_window: HumanDuration,
    /// Hops within which two entities count as close in the topology.
    pub topology_hops: u32,
    /// How long all of a problem's signals must be clear before it resolves.
    pub resolve_after: HumanDuration,
    /// A resolved problem whose signals fire again within this time reopens.
    pub reopen_window: HumanDuration,
    /// How far down the dependencies the root-cause walk looks, in hops.
    pub rca_max_depth: u32,
    /// How long before onset a change may be the foundational cause.
    pub foundational_window: HumanDuration,
    /// Log lines of one error-level template in one report that make a burst.
    pub log_burst_min: u64,
    /// A log burst clears after this long without lines.
    pub log_quiet: HumanDuration,
    /// Evidence paths kept per root-cause candidate.
    pub max_evidence_paths: usize,
    /// Least move of a KPI's value or deviation (a fraction) that updates a problem's impact,
    /// and least deviation that makes a KPI worse.
    pub kpi_step: f64,
    /// A signal raised or re-fired this many times within `flap_window` is chronic flapping.
    pub flap_activations: u32,
    pub flap_window: HumanDuration,
    /// A problem resolved (or merged) this long ago is dropped from the engine's memory (the
    /// journal keeps its events). At least `reopen_window`.
    pub forget_resolved_after: HumanDuration,
    /// Series, signals and entities not seen this long are retired (state dropped; one that
    /// comes back starts fresh). At least `flap_window`, `reopen_window` and `correlation_window`.
    pub retire_after: HumanDuration,
    /// `[engine.detect]`: anomaly detection tunables.
    pub detect: DetectConfig,
}

impl Default for EngineSection {
    fn default() -> Self {
        let d = EngineConfig::default();
        EngineSection {
            correlation_window: HumanDuration(d.correlation_window_ms),
            topology_hops: d.topology_hops,
            resolve_after: HumanDuration(d.resolve_after_ms),
            reopen_window: HumanDuration(d.reopen_window_ms),
            rca_max_depth: d.rca_max_depth,
            foundational_window: HumanDuration(d.foundational_window_ms),
            log_burst_min: d.log_burst_min,
            log_quiet: HumanDuration(d.log_quiet_ms),
            max_evidence_paths: d.max_evidence_paths,
            kpi_step: d.kpi_step,
            flap_activations: d.flap_activations,
            flap_window: HumanDuration(d.flap_window_ms),
            forget_resolved_after: HumanDuration(d.forget_resolved_after_ms),
            retire_after: HumanDuration(d.retire_after_ms),
            detect: d.detect,
        }
    }
}

/// `[journal]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a [journal] table")]
pub struct JournalSection {
    /// The journal file. A relative path is relative to the config file's directory; unset means
    /// [`DEFAULT_JOURNAL_FILE`] in the user's state directory (see [`Config::journal_path`]).
    pub path: Option<PathBuf>,
    /// Observations older than this are pruned from the journal (never one that the kept
    /// engine snapshots do not cover yet: a resume replays those).
    pub retention: HumanDuration,
    /// An engine snapshot is written every this much data time (and when the agent stops), so
    /// a resume replays only what followed it.
    pub snapshot_every: HumanDuration,
    /// The folder `faultline journal archive` writes closed problems' bundles into (relative to
    /// the config file's directory). Needed by `compact_after`.
    pub archive: Option<PathBuf>,
    /// Problems closed longer ago than this whose bundle is in `archive` leave the journal
    /// (their summary stays for the history); unset: events are kept forever.
    pub compact_after: Option<HumanDuration>,
}

impl Default for JournalSection {
    fn default() -> Self {
        JournalSection {
            path: None,
            retention: HumanDuration(7 * 24 * 3_600_000),
            snapshot_every: HumanDuration(10 * 60_000),
            archive: None,
            compact_after: None,
        }
    }
}

/// `[ui]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a [ui] table")]
pub struct UiSection {
    /// Theme: a built-in name (`dark`, also `default`; `light`; `high-contrast`), a file
    /// `themes/NAME.toml` in the user's config directory, or a path to a `.toml` file (relative to
    /// this config file). `--theme` overrides it; checked by `faultline config check`.
    pub theme: String,
    /// Clicks select and the wheel scrolls (default); `false` leaves the mouse to the terminal.
    pub mouse: bool,
}

impl Default for UiSection {
    fn default() -> Self {
        UiSection { theme: "default".into(), mouse: true }
    }
}

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.to_path_buf(), source })?;
        Config::parse(&text, path)
    }

    /// Parses and checks config text; `origin` is the path used in error messages and the base
    /// of relative paths in the file.
    pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = parse_toml(text, origin)?;
        if let Err((key, message)) = config.validate() {
            return Err(key_error(text, origin, key, message));
        }
        if let Some(base) = origin.parent() {
            let relative = |p: &mut PathBuf| {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            };
            if let Some(path) = config.journal.path.as_mut() {
                relative(path);
            }
            if let Some(path) = config.journal.archive.as_mut() {
                relative(path);
            }
            for t in &mut config.sources.topology {
                relative(&mut t.path);
            }
            for c in &mut config.sources.change_feed {
                relative(&mut c.path);
            }
            if let Some(d) = config.runbooks.dir.as_mut() {
                relative(d);
            }
            if let Some(d) = config.runbooks.lock_dir.as_mut() {
                relative(d);
            }
        }
        Ok(config)
    }

    /// The engine's tunables as configured.
    pub fn engine(&self) -> EngineConfig {
        let e = &self.engine;
        EngineConfig {
            detect: e.detect.clone(),
            correlation_window_ms: e.correlation_window.millis(),
            topology_hops: e.topology_hops,
            resolve_after_ms: e.resolve_after.millis(),
            reopen_window_ms: e.reopen_window.millis(),
            rca_max_depth: e.rca_max_depth,
            foundational_window_ms: e.foundational_window.millis(),
            log_burst_min: e.log_burst_min,
            log_quiet_ms: e.log_quiet.millis(),
            max_evidence_paths: e.max_evidence_paths,
            kpi_step: e.kpi_step,
            flap_activations: e.flap_activations,
            flap_window_ms: e.flap_window.millis(),
            forget_resolved_after_ms: e.forget_resolved_after.millis(),
            retire_after_ms: e.retire_after.millis(),
        }
    }

    /// The journal file: `journal.path` if set, else [`DEFAULT_JOURNAL_FILE`] in the user's state
    /// directory (`$XDG_STATE_HOME/faultline` on Linux, the local data directory elsewhere).
    /// `None` when neither is set and no home directory is known.
    pub fn journal_path(&self) -> Option<PathBuf> {
        if let Some(path) = &self.journal.path {
            return Some(path.clone());
        }
        let dirs = directories::ProjectDirs::from("", "", "faultline")?;
        let dir = dirs.state_dir().unwrap_or_else(|| dirs.data_local_dir());
        Some(dir.join(DEFAULT_JOURNAL_FILE))
    }

    /// Checks what the types cannot; on failure, the dotted key and what is wrong with it.
    fn validate(&self) -> Result<(), (String, String)> {
        for (i, a) in self.runbooks.auto.iter().enumerate() {
            if a.runbook.trim().is_empty() {
                return Err((format!("runbooks.auto[{i}].runbook"), "must name a runbook".into()));
            }
            if !(0.0..=1.0).contains(&a.min_score) {
                return Err((
                    format!("runbooks.auto[{i}].min_score"),
                    format!("{} is out of range: must be 0 to 1", a.min_score),
                ));
            }
            in_range(&format!("runbooks.auto[{i}].max_per_hour"), a.max_per_hour.into(), 1, 60)?;
        }
        let e = &self.engine;
        positive("engine.correlation_window", e.correlation_window)?;
        in_range("engine.topology_hops", e.topology_hops.into(), 1, 10)?;
        positive("engine.resolve_after", e.resolve_after)?;
        positive("engine.reopen_window", e.reopen_window)?;
        in_range("engine.rca_max_depth", e.rca_max_depth.into(), 1, 20)?;
        positive("engine.foundational_window", e.foundational_window)?;
        in_range("engine.log_burst_min", e.log_burst_min, 1, u64::MAX)?;
        positive("engine.log_quiet", e.log_quiet)?;
        in_range("engine.max_evidence_paths", e.max_evidence_paths as u64, 1, 1000)?;
        in_range("engine.flap_activations", e.flap_activations.into(), 2, 16)?;
        positive("engine.flap_window", e.flap_window)?;
        at_least("engine.forget_resolved_after", e.forget_resolved_after, &[("reopen_window", e.reopen_window)])?;
        let windows = [
            ("flap_window", e.flap_window),
            ("reopen_window", e.reopen_window),
            ("correlation_window", e.correlation_window),
        ];
        at_least("engine.retire_after", e.retire_after, &windows)?;
        if !(e.kpi_step > 0.0 && e.kpi_step <= 1.0) {
            return Err((
                "engine.kpi_step".into(),
                format!("{} must be in (0, 1] (0.05: five percentage points)", e.kpi_step),
            ));
        }
        let d = &e.detect;
        in_range("engine.detect.warmup_samples", d.warmup_samples.into(), 1, 1_000_000)?;
        if !(d.threshold.is_finite() && d.threshold > 0.0) {
            return Err(("engine.detect.threshold".into(), format!("{} must be a number > 0", d.threshold)));
        }
        in_range("engine.detect.min_consecutive", d.min_consecutive.into(), 1, 1_000_000)?;
        in_range("engine.detect.clear_after", d.clear_after.into(), 1, 1_000_000)?;
        if !(d.alpha > 0.0 && d.alpha <= 1.0) {
            return Err(("engine.detect.alpha".into(), format!("{} must be in (0, 1]", d.alpha)));
        }
        if !(d.min_relative_deviation.is_finite() && d.min_relative_deviation >= 0.0) {
            let message = format!("{} must be a number >= 0", d.min_relative_deviation);
            return Err(("engine.detect.min_relative_deviation".into(), message));
        }
        in_range("engine.detect.season_min_cycles", d.season_min_cycles.into(), 1, 52)?;
        if !(d.season_alpha > 0.0 && d.season_alpha <= 1.0) {
            return Err(("engine.detect.season_alpha".into(), format!("{} must be in (0, 1]", d.season_alpha)));
        }
        if !(d.season_min_gain >= 0.0 && d.season_min_gain < 1.0) {
            return Err(("engine.detect.season_min_gain".into(), format!("{} must be in [0, 1)", d.season_min_gain)));
        }
        if d.shift_after.millis() < 0 {
            return Err((
                "engine.detect.shift_after".into(),
                format!("duration \"{}\" must not be negative", d.shift_after),
            ));
        }
        in_range("engine.detect.shift_samples", d.shift_samples.into(), 1, MAX_SHIFT_SAMPLES.into())?;
        // Per-metric lists: (metric, its number, its duration) with their keys and what a
        // metric may have only one of.
        let limits = d.limits.iter().map(|l| (l.metric.as_str(), l.limit, l.horizon));
        per_metric("engine.detect.limits", "a limit", ("limit", "horizon"), limits)?;
        let ceilings = d.saturation.iter().map(|l| (l.metric.as_str(), l.at, l.sustained));
        per_metric("engine.detect.saturation", "a ceiling", ("at", "for"), ceilings)?;
        positive("journal.retention", self.journal.retention)?;
        positive("journal.snapshot_every", self.journal.snapshot_every)?;
        if self.journal.path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            return Err(("journal.path".into(), "must not be empty (leave it out for the default)".into()));
        }
        if let Some(after) = self.journal.compact_after {
            if self.journal.archive.as_ref().is_none_or(|p| p.as_os_str().is_empty()) {
                return Err((
                    "journal.compact_after".into(),
                    "needs journal.archive: the folder `faultline journal archive` writes the bundles that keep \
                     compacted problems' events"
                        .into(),
                ));
            }
            // The engine must have forgotten a problem before its events go: it could reopen it.
            at_least("journal.compact_after", after, &[("forget_resolved_after", self.engine.forget_resolved_after)])?;
        }
        for (i, a) in self.sources.alertmanager.iter().enumerate() {
            let key = |k: &str| format!("sources.alertmanager[{i}].{k}");
            http_url(&key("url"), &a.url)?;
            positive(&key("interval"), a.interval)?;
            positive(&key("timeout"), a.timeout)?;
            in_range(&key("max_response_bytes"), a.max_response_bytes as u64, 1024, 1 << 34)?;
            positive(&key("silence_duration"), a.silence_duration)?;
        }
        in_range("sources.max_concurrent", self.sources.max_concurrent as u64, 1, 64)?;
        for (i, t) in self.sources.topology.iter().enumerate() {
            let key = |k: &str| format!("sources.topology[{i}].{k}");
            not_blank(&key("name"), &t.name)?;
            if t.path.as_os_str().is_empty() {
                return Err((key("path"), "must name a file".into()));
            }
            positive(&key("interval"), t.interval)?;
        }
        for (i, c) in self.sources.change_feed.iter().enumerate() {
            let key = |k: &str| format!("sources.change_feed[{i}].{k}");
            not_blank(&key("name"), &c.name)?;
            if c.path.as_os_str().is_empty() {
                return Err((key("path"), "must name a file".into()));
            }
            positive(&key("interval"), c.interval)?;
        }
        let mut names = std::collections::BTreeSet::new();
        let all = (self.sources.prometheus.iter().map(|p| ("prometheus", &p.name)))
            .chain(self.sources.alertmanager.iter().map(|a| ("alertmanager", &a.name)))
            .chain(self.sources.topology.iter().map(|t| ("topology", &t.name)))
            .chain(self.sources.change_feed.iter().map(|c| ("change_feed", &c.name)))
            .chain(self.sources.cloudwatch.iter().map(|c| ("cloudwatch", &c.name)))
            .chain(self.sources.loki.iter().map(|l| ("loki", &l.name)));
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for (kind, name) in all {
            let i = counts.entry(kind).or_default();
            if !names.insert(name.as_str()) && matches!(kind, "topology" | "change_feed" | "cloudwatch" | "loki") {
                // Each source picks its own observations out of the journal by name.
                return Err((format!("sources.{kind}[{i}].name"), format!("`{name}` names another source already")));
            }
            *i += 1;
        }
        for (i, c) in self.sources.cloudwatch.iter().enumerate() {
            let key = |k: &str| format!("sources.cloudwatch[{i}].{k}");
            not_blank(&key("name"), &c.name)?;
            positive(&key("interval"), c.interval)?;
            positive(&key("timeout"), c.timeout)?;
            positive(&key("lookback"), c.lookback)?;
            positive(&key("throttle_backoff"), c.throttle_backoff)?;
            in_range(&key("max_response_bytes"), c.max_response_bytes as u64, 1024, 1 << 34)?;
            c.check().map_err(|(k, why)| (key(&k), why))?;
        }
        for (i, p) in self.sources.prometheus.iter().enumerate() {
            let key = |k: &str| format!("sources.prometheus[{i}].{k}");
            http_url(&key("url"), &p.url)?;
            positive(&key("interval"), p.interval)?;
            positive(&key("timeout"), p.timeout)?;
            positive(&key("lookback"), p.lookback)?;
            if p.warmup.millis() > 0 && p.warmup_step.millis() < 1000 {
                return Err((key("warmup_step"), format!("{} is below the 1s Prometheus allows here", p.warmup_step)));
            }
            if p.step.millis() < 1000 {
                return Err((key("step"), format!("{} is below the 1s Prometheus allows here", p.step)));
            }
            in_range(&key("max_response_bytes"), p.max_response_bytes as u64, 1024, 1 << 34)?;
            in_range(&key("max_concurrent_requests"), p.max_concurrent_requests as u64, 1, 64)?;
            for (j, k) in p.kpis.iter().enumerate() {
                let key = |k: &str| format!("sources.prometheus[{i}].kpis[{j}].{k}");
                not_blank(&key("name"), &k.name)?;
                if p.kpis[..j].iter().any(|other| other.name == k.name) {
                    return Err((
                        key("name"),
                        format!("`{}` is already the name of another KPI of this source", k.name),
                    ));
                }
                not_blank(&key("query"), &k.query)?;
                entity_id(&key("entity"), k.entity.as_deref())?;
            }
            for (j, c) in p.changes.iter().enumerate() {
                not_blank(&format!("sources.prometheus[{i}].changes[{j}].query"), &c.query)?;
            }
            for (j, t) in p.traffic.iter().enumerate() {
                let key = |k: &str| format!("sources.prometheus[{i}].traffic[{j}].{k}");
                not_blank(&key("query"), &t.query)?;
                entity_id(&key("entity"), t.entity.as_deref())?;
            }
        }
        for (i, l) in self.sources.loki.iter().enumerate() {
            validate_loki(i, l)?;
        }
        if self.ui.theme.trim().is_empty() {
            return Err(("ui.theme".into(), "must not be empty (leave it out for \"default\")".into()));
        }
        Ok(())
    }
}

/// `[[sources.loki]]` number `i`.
fn validate_loki(i: usize, l: &crate::sources::loki::LokiConfig) -> Result<(), (String, String)> {
    let key = |k: &str| format!("sources.loki[{i}].{k}");
    not_blank(&key("name"), &l.name)?;
    http_url(&key("url"), &l.url)?;
    positive(&key("interval"), l.interval)?;
    positive(&key("timeout"), l.timeout)?;
    positive(&key("lookback"), l.lookback)?;
    positive(&key("step"), l.step)?;
    positive(&key("count_interval"), l.count_interval)?;
    in_range(&key("max_response_bytes"), l.max_response_bytes as u64, 1024, 1 << 34)?;
    in_range(&key("limit"), l.limit as u64, 1, 50_000)?;
    in_range(&key("max_pages"), l.max_pages as u64, 1, 10_000)?;
    in_range(&key("tail_buffer"), l.tail_buffer as u64, 1, 100_000_000)?;
    if l.tenant.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Err((key("tenant"), "must not be empty (leave it out for a single-tenant Loki)".into()));
    }
    for (j, q) in l.queries.iter().enumerate() {
        let key = |k: &str| format!("sources.loki[{i}].queries[{j}].{k}");
        not_blank(&key("query"), &q.query)?;
        if let Some(limit) = q.limit {
            in_range(&key("limit"), limit as u64, 1, 50_000)?;
        }
        if l.tail && !q.is_log_query() {
            return Err((
                key("query"),
                format!(
                    "`{}` is a metric query; a tail follows log queries only (`{{...}}`): set `tail = false`",
                    q.query
                ),
            ));
        }
    }
    Ok(())
}

/// A fixed entity id, when given, is `kind:name`.
fn entity_id(key: &str, entity: Option<&str>) -> Result<(), (String, String)> {
    match entity {
        Some(e) if !matches!(e.split_once(':'), Some((kind, id)) if !kind.is_empty() && !id.is_empty()) => {
            Err((key.to_string(), format!("`{e}` is not an entity id: write `kind:name`, e.g. `service:checkout`")))
        }
        _ => Ok(()),
    }
}

/// Deserializes TOML text into `T`; errors name `origin`, the line, column and dotted key.
/// Shared by the config file and the files it points at (topology files).
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(text: &str, origin: &Path) -> Result<T, ConfigError> {
    let at = |span: Option<std::ops::Range<usize>>| match span {
        Some(span) => {
            let (line, column) = line_column(text, span.start);
            (Some(line), Some(column))
        }
        None => (None, None),
    };
    let deserializer = toml::de::Deserializer::parse(text).map_err(|e| {
        let (line, column) = at(e.span());
        ConfigError::Syntax { path: origin.to_path_buf(), line, column, message: e.message().trim().to_string() }
    })?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let key = if path == "." { String::new() } else { path };
        let inner = e.into_inner();
        let (line, column) = at(inner.span());
        ConfigError::Key { path: origin.to_path_buf(), line, column, key, message: inner.message().trim().to_string() }
    })
}

/// An error about the value of dotted `key` in TOML `text`, placed at that value's line and column.
pub(crate) fn key_error(text: &str, origin: &Path, key: String, message: String) -> ConfigError {
    let (line, column) = match value_span(text, &key) {
        Some(span) => {
            let (line, column) = line_column(text, span.start);
            (Some(line), Some(column))
        }
        None => (None, None),
    };
    ConfigError::Key { path: origin.to_path_buf(), line, column, key, message }
}

fn http_url(key: &str, url: &str) -> Result<(), (String, String)> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(()),
        Ok(u) => Err((key.to_string(), format!("`{url}`: scheme must be http or https, not {}", u.scheme()))),
        Err(e) => Err((key.to_string(), format!("`{url}` is not a URL: {e}"))),
    }
}

fn not_blank(key: &str, text: &str) -> Result<(), (String, String)> {
    if text.trim().is_empty() {
        Err((key.into(), "must not be empty".into()))
    } else {
        Ok(())
    }
}

fn positive(key: &str, d: HumanDuration) -> Result<(), (String, String)> {
    if d.millis() > 0 {
        Ok(())
    } else {
        Err((key.into(), format!("duration \"{d}\" must be longer than zero")))
    }
}

/// Checks that the duration at `key` is at least each of the other `[engine]` durations named:
/// the engine could not keep what those windows look back on otherwise.
fn at_least(key: &str, d: HumanDuration, others: &[(&str, HumanDuration)]) -> Result<(), (String, String)> {
    match others.iter().find(|(_, o)| d.millis() < o.millis()) {
        None => Ok(()),
        Some((name, o)) => Err((key.into(), format!("duration \"{d}\" must be at least engine.{name} (\"{o}\")"))),
    }
}

/// Checks the entries of a per-metric list at `list` (`engine.detect.limits`): each names a
/// metric no earlier entry names (one may have only `one`), its number (key `keys.0`) is finite
/// and its duration (key `keys.1`) longer than zero.
fn per_metric<'a>(
    list: &str,
    one: &str,
    keys: (&str, &str),
    entries: impl Iterator<Item = (&'a str, f64, HumanDuration)>,
) -> Result<(), (String, String)> {
    let mut seen = std::collections::BTreeSet::new();
    for (i, (metric, number, duration)) in entries.enumerate() {
        let key = |k: &str| format!("{list}[{i}].{k}");
        if metric.trim().is_empty() {
            return Err((key("metric"), "must name a metric".into()));
        }
        if !seen.insert(metric) {
            return Err((key("metric"), format!("`{metric}` has {one} already")));
        }
        if !number.is_finite() {
            return Err((key(keys.0), format!("{number} must be a finite number")));
        }
        positive(&key(keys.1), duration)?;
    }
    Ok(())
}

fn in_range(key: &str, value: u64, min: u64, max: u64) -> Result<(), (String, String)> {
    if (min..=max).contains(&value) {
        Ok(())
    } else if max == u64::MAX {
        Err((key.into(), format!("{value} is out of range: must be at least {min}")))
    } else {
        Err((key.into(), format!("{value} is out of range: must be {min} to {max}")))
    }
}

/// Byte span of the value of a dotted key in TOML text (`engine.topology_hops`, or with array
/// indexes as serde names them, `sources.prometheus[0].kpis[1].entity`), for pointing at a
/// value that parsed but is not allowed. `None` if the text does not hold the key.
fn value_span(text: &str, dotted: &str) -> Option<std::ops::Range<usize>> {
    let root = toml::de::DeTable::parse(text).ok()?;
    let mut table = root.get_ref();
    let mut segments = dotted.split('.').peekable();
    while let Some(segment) = segments.next() {
        let (name, indexes) = segment.split_once('[').map_or((segment, ""), |(n, rest)| (n, rest));
        let (_, mut value) = table.iter().find(|(k, _)| k.get_ref().as_ref() == name)?;
        // `kpis[1]` (and `a[1][0]`): step into the arrays.
        for index in indexes.split('[').filter(|i| !i.is_empty()) {
            let index: usize = index.strip_suffix(']')?.parse().ok()?;
            value = value.get_ref().as_array()?.get(index)?;
        }
        if segments.peek().is_none() {
            return Some(value.span());
        }
        table = value.get_ref().as_table()?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("faultline.toml"))
    }

    #[test]
    fn empty_text_is_the_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.engine(), EngineConfig::default());
        assert_eq!(c.journal.retention.millis(), 604_800_000);
        assert_eq!(c.ui.theme, "default");
    }

    #[test]
    fn snapshot_every_defaults_to_ten_minutes_and_must_be_positive() {
        assert_eq!(parse("").unwrap().journal.snapshot_every.millis(), 600_000);
        assert_eq!(parse("[journal]\nsnapshot_every = \"1h\"\n").unwrap().journal.snapshot_every.millis(), 3_600_000);
        let e = parse("[journal]\nsnapshot_every = \"0s\"\n").unwrap_err().to_string();
        assert!(e.contains("journal.snapshot_every"), "{e}");
    }

    #[test]
    fn compaction_needs_an_archive_and_waits_for_the_engine_to_forget() {
        let j = parse("").unwrap().journal;
        assert_eq!((j.archive, j.compact_after), (None, None), "events are kept forever by default");
        let j = parse("[journal]\narchive = \"arch\"\ncompact_after = \"30d\"\n").unwrap().journal;
        assert_eq!(j.compact_after.map(HumanDuration::millis), Some(30 * 86_400_000));
        let e = parse("[journal]\ncompact_after = \"30d\"\n").unwrap_err().to_string();
        assert!(e.contains("journal.compact_after") && e.contains("needs journal.archive"), "{e}");
        let e = parse("[journal]\narchive = \"a\"\ncompact_after = \"2h\"\n").unwrap_err().to_string();
        assert!(e.contains("journal.compact_after") && e.contains("engine.forget_resolved_after"), "{e}");
    }

    #[test]
    fn memory_bounds_default_reach_the_engine_and_are_checked_against_the_windows() {
        let e = parse("").unwrap().engine();
        assert_eq!((e.forget_resolved_after_ms, e.retire_after_ms), (86_400_000, 604_800_000));
        let e = parse("[engine]\nforget_resolved_after = \"2h\"\nretire_after = \"3d\"\n").unwrap().engine();
        assert_eq!((e.forget_resolved_after_ms, e.retire_after_ms), (7_200_000, 3 * 86_400_000));
        let e = parse("[engine]\nforget_resolved_after = \"10m\"\n").unwrap_err().to_string();
        assert_eq!(
            e,
            "faultline.toml:2:25: engine.forget_resolved_after: duration \"10m\" must be at least \
             engine.reopen_window (\"30m\")"
        );
        let e = parse("[engine]\nflap_window = \"2d\"\nretire_after = \"1d\"\n").unwrap_err().to_string();
        assert_eq!(
            e,
            "faultline.toml:3:16: engine.retire_after: duration \"1day\" must be at least engine.flap_window (\"2days\")"
        );
        let e = parse("[engine]\nretire_after = \"soon\"\n").unwrap_err().to_string();
        assert!(e.starts_with("faultline.toml:2:16: ") && e.contains("soon"), "{e}");
    }

    #[test]
    fn values_reach_the_engine_config() {
        let c = parse(
            "[engine]\ncorrelation_window = \"10m\"\ntopology_hops = 2\n[engine.detect]\nthreshold = 3\nalpha = 0.1\n\
             [journal]\npath = \"j.sqlite\"\nretention = \"2d\"\n[ui]\ntheme = \"dark\"\n",
        )
        .unwrap();
        let e = c.engine();
        assert_eq!(e.correlation_window_ms, 600_000);
        assert_eq!(e.topology_hops, 2);
        assert_eq!(e.detect.threshold, 3.0);
        assert_eq!(e.detect.alpha, 0.1);
        assert_eq!(e.detect.warmup_samples, DetectConfig::default().warmup_samples);
        assert_eq!(e.resolve_after_ms, EngineConfig::default().resolve_after_ms);
        assert_eq!(c.journal_path(), Some(PathBuf::from("j.sqlite")));
        let c = Config::parse("[journal]\npath = \"j.sqlite\"\n", Path::new("/etc/faultline/faultline.toml")).unwrap();
        assert_eq!(c.journal_path(), Some(PathBuf::from("/etc/faultline/j.sqlite")));
    }

    #[test]
    fn detection_seasons_shifts_and_limits() {
        let c = parse(
            "[engine.detect]\nseason_min_cycles = 3\nshift_after = \"30m\"\nshift_samples = 6\n\
             [[engine.detect.limits]]\nmetric = \"disk_free_bytes\"\nlimit = 1e9\nhorizon = \"6h\"\n",
        )
        .unwrap();
        let d = c.engine().detect;
        assert_eq!((d.season_min_cycles, d.shift_after.millis(), d.shift_samples), (3, 1_800_000, 6));
        assert_eq!(d.limits.len(), 1, "configured limits replace the default list");
        assert_eq!((d.limits[0].metric.as_str(), d.limits[0].limit), ("disk_free_bytes", 1e9));
        assert_eq!(d.limits[0].horizon.millis(), 6 * 3_600_000);
        assert_eq!(DetectConfig::default().limits[0].metric, "filesystem_free_ratio");

        let e = parse("[engine.detect]\nseason_alpha = 0\n").unwrap_err().to_string();
        assert_eq!(e, "faultline.toml:2:16: engine.detect.season_alpha: 0 must be in (0, 1]");
        let e = parse("[engine.detect]\nseason_min_gain = 1.0\n").unwrap_err().to_string();
        assert_eq!(e, "faultline.toml:2:19: engine.detect.season_min_gain: 1 must be in [0, 1)");
        let e = parse("[engine.detect]\nshift_samples = 0\n").unwrap_err().to_string();
        assert_eq!(e, "faultline.toml:2:17: engine.detect.shift_samples: 0 is out of range: must be 1 to 1000");
        let limit = "[[engine.detect.limits]]\nmetric = \"free\"\nlimit = 0\nhorizon = \"2h\"\n";
        let e = parse(&format!("{limit}{limit}")).unwrap_err().to_string();
        assert_eq!(e, "faultline.toml:6:10: engine.detect.limits[1].metric: `free` has a limit already");
        let e = parse("[[engine.detect.limits]]\nmetric = \"free\"\nlimit = 0\nhorizon = \"0s\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("faultline.toml:4:11: engine.detect.limits[0].horizon: duration"), "{e}");
        let e = parse("[[engine.detect.limits]]\nmetric = \"free\"\nlimit = 0\n").unwrap_err().to_string();
        assert!(e.contains("missing field `horizon`"), "{e}");
    }

    #[test]
    fn saturation_ceilings_and_limit_directions() {
        use crate::engine::detect::{default_saturation, Direction};
        // The defaults: the utilisations the sources name.
        let d = DetectConfig::default();
        let names: Vec<&str> = d.saturation.iter().map(|s| s.metric.as_str()).collect();
        assert_eq!(names, ["cpu_utilisation", "memory_utilisation", "disk_utilisation"]);
        assert_eq!((d.saturation[0].at, d.saturation[0].sustained.millis()), (0.95, 60_000));
        assert_eq!(parse("[engine.detect]\nthreshold = 4\n").unwrap().engine().detect.saturation, default_saturation());
        // Configured entries replace the default list.
        let c = parse(
            "[[engine.detect.saturation]]\nmetric = \"db_pool_utilisation\"\nat = 0.9\nfor = \"30s\"\n\
             [[engine.detect.saturation]]\nmetric = \"cpu_utilisation\"\nat = 1\nfor = \"5m\"\n\
             [[engine.detect.limits]]\nmetric = \"connections\"\nlimit = 100\nhorizon = \"1h\"\ndirection = \"rising\"\n",
        )
        .unwrap();
        let d = c.engine().detect;
        assert_eq!(d.saturation.len(), 2);
        assert_eq!((d.saturation[0].metric.as_str(), d.saturation[0].at), ("db_pool_utilisation", 0.9));
        assert_eq!((d.saturation[0].sustained.millis(), d.saturation[1].sustained.millis()), (30_000, 300_000));
        assert_eq!(d.limits[0].direction, Some(Direction::Rising));
        // None at all is allowed: no saturation signals.
        assert!(parse("[engine.detect]\nsaturation = []\n").unwrap().engine().detect.saturation.is_empty());

        let sat = |metric: &str, at: &str, dur: &str| {
            format!("[[engine.detect.saturation]]\nmetric = \"{metric}\"\nat = {at}\nfor = \"{dur}\"\n")
        };
        let e = parse(&format!("{}{}", sat("cpu", "0.9", "1m"), sat("cpu", "0.8", "1m"))).unwrap_err().to_string();
        assert_eq!(e, "faultline.toml:6:10: engine.detect.saturation[1].metric: `cpu` has a ceiling already");
        let e = parse(&format!("{}{}", sat("cpu", "0.9", "1m"), sat("mem", "nan", "1m"))).unwrap_err().to_string();
        assert_eq!(e, "faultline.toml:7:6: engine.detect.saturation[1].at: NaN must be a finite number");
        let e = parse(&sat("cpu", "0.9", "0s")).unwrap_err().to_string();
        assert_eq!(e, "faultline.toml:4:7: engine.detect.saturation[0].for: duration \"0s\" must be longer than zero");
        let e = parse(&sat(" ", "0.9", "1m")).unwrap_err().to_string();
        assert_eq!(e, "faultline.toml:2:10: engine.detect.saturation[0].metric: must name a metric");
        let e = parse("[[engine.detect.saturation]]\nmetric = \"cpu\"\nat = 0.9\n").unwrap_err().to_string();
        assert!(e.contains("missing field `for`"), "{e}");
        let e = parse("[[engine.detect.saturation]]\nmetric = \"cpu\"\nat = 0.9\nfor = \"1m\"\nfr = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `fr`"), "{e}");
        let e =
            parse("[[engine.detect.limits]]\nmetric = \"free\"\nlimit = 0\nhorizon = \"2h\"\ndirection = \"down\"\n")
                .unwrap_err()
                .to_string();
        assert!(e.contains("engine.detect.limits[0].direction") && e.contains("unknown variant `down`"), "{e}");
    }

    #[test]
    fn errors_name_line_column_and_key() {
        let e = parse("[engine]\ncorrelation_window = \"15 mintues\"\n").unwrap_err().to_string();
        assert!(
            e.starts_with("faultline.toml:2:22: engine.correlation_window: invalid duration \"15 mintues\""),
            "{e}"
        );

        let e = parse("[engine]\ntopology_hops = 3\ncorelation_window = \"5m\"\n").unwrap_err();
        assert_eq!(e.line(), Some(3), "{e}");
        assert!(e.to_string().contains("engine.corelation_window"), "{e}");
        assert!(e.to_string().contains("unknown field `corelation_window`"), "{e}");

        let e = parse("[engine.detect]\nthreshold = \"high\"\n").unwrap_err().to_string();
        assert!(e.starts_with("faultline.toml:2:13: engine.detect.threshold: invalid type"), "{e}");

        let e = parse("[engine]\ntopology_hops = 0\n").unwrap_err().to_string();
        assert_eq!(e, "faultline.toml:2:17: engine.topology_hops: 0 is out of range: must be 1 to 10");

        let e = parse("[engine.detect]\nalpha = 1.5\n").unwrap_err().to_string();
        assert!(e.starts_with("faultline.toml:2:9: engine.detect.alpha: 1.5 must be in (0, 1]"), "{e}");

        let e = parse("[engine]\nresolve_after = \"0s\"\n").unwrap_err().to_string();
        assert!(e.starts_with("faultline.toml:2:17: engine.resolve_after: duration"), "{e}");

        let e = parse("[engine\ntopology_hops = 3\n").unwrap_err();
        assert!(matches!(e, ConfigError::Syntax { line: Some(1), .. }), "{e}");

        let e = parse("[[sources.prometheus]]\nurl = \"http://p:9090\"\nintervl = \"5s\"\n").unwrap_err().to_string();
        assert!(
            e.starts_with("faultline.toml:3:1: sources.prometheus") && e.contains("unknown field `intervl`"),
            "{e}"
        );
        let e = parse("[[sources.prometheus]]\nurl = \"ftp://p\"\n").unwrap_err().to_string();
        assert!(e.contains("sources.prometheus[0].url: `ftp://p`: scheme must be http or https"), "{e}"); // Keys inside arrays of tables are placed too.
        assert!(e.starts_with("faultline.toml:2:7: sources.prometheus[0].url:"), "{e}");
    }

    #[test]
    fn topology_files_and_change_feeds() {
        let c = Config::parse(
            "[[sources.topology]]\npath = \"topology.toml\"\n[[sources.change_feed]]\npath = \"/var/ci/changes.jsonl\"\n",
            Path::new("/etc/faultline/faultline.toml"),
        )
        .unwrap();
        let t = &c.sources.topology[0];
        assert_eq!(
            (t.name.as_str(), t.path.as_path(), t.interval.millis()),
            ("topology", Path::new("/etc/faultline/topology.toml"), 10_000)
        );
        let f = &c.sources.change_feed[0];
        assert_eq!((f.name.as_str(), f.path.as_path()), ("changes", Path::new("/var/ci/changes.jsonl")));
        assert!(!c.sources.is_empty());
        let e = parse("[[sources.topology]]\npath = \"\"\n").unwrap_err().to_string();
        assert_eq!(e, "faultline.toml:2:8: sources.topology[0].path: must name a file");
        let e =
            parse("[[sources.topology]]\npath = \"a\"\n[[sources.topology]]\npath = \"b\"\n").unwrap_err().to_string();
        assert_eq!(e, "faultline.toml: sources.topology[1].name: `topology` names another source already");
        let e = parse("[[sources.change_feed]]\npath = \"a\"\ninterval = \"0s\"\n").unwrap_err().to_string();
        assert!(e.starts_with("faultline.toml:3:12: sources.change_feed[0].interval: duration"), "{e}");
    }

    #[test]
    fn prometheus_kpis_rules_and_concurrency() {
        let c = parse(
            "[[sources.prometheus]]\nurl = \"http://p:9090\"\nmax_concurrent_requests = 2\nrules = false\n\
             [[sources.prometheus.kpis]]\nname = \"orders\"\nquery = \"sum(rate(orders_total[5m])) * 60\"\n\
             entity = \"service:checkout\"\nunit = \"orders/min\"\n\
             [[sources.prometheus.kpis]]\nname = \"errors\"\nquery = \"x\"\nhigher_is_better = false\n\
             [engine]\nkpi_step = 0.1\n",
        )
        .unwrap();
        let p = &c.sources.prometheus[0];
        assert_eq!((p.max_concurrent_requests, p.rules, p.alerts, p.targets), (2, false, true, true));
        assert_eq!(p.kpis[0].entity.as_deref(), Some("service:checkout"));
        assert_eq!(p.kpis[0].unit.as_deref(), Some("orders/min"));
        assert!(p.kpis[0].higher_is_better);
        assert!(!p.kpis[1].higher_is_better);
        assert_eq!(c.engine().kpi_step, 0.1);
        let d = parse("[[sources.prometheus]]\nurl = \"http://p\"\n").unwrap();
        assert_eq!((d.sources.prometheus[0].max_concurrent_requests, d.sources.prometheus[0].rules), (4, true));

        let source = "[[sources.prometheus]]\nurl = \"http://p\"\n";
        let e = parse(&format!("{source}max_concurrent_requests = 0\n")).unwrap_err().to_string();
        assert_eq!(
            e,
            "faultline.toml:3:27: sources.prometheus[0].max_concurrent_requests: 0 is out of range: must be 1 to 64"
        );
        let kpi = "[[sources.prometheus.kpis]]\nname = \"orders\"\nquery = \"x\"\n";
        let other = kpi.replace("orders", "errors");
        let e = parse(&format!("{source}{kpi}{other}entity = \"checkout\"\n")).unwrap_err().to_string();
        assert_eq!(
            e,
            "faultline.toml:9:10: sources.prometheus[0].kpis[1].entity: `checkout` is not an entity id: \
             write `kind:name`, e.g. `service:checkout`"
        );
        let e = parse(&format!("{source}{kpi}{kpi}")).unwrap_err().to_string();
        assert!(e.starts_with("faultline.toml:7:8: sources.prometheus[0].kpis[1].name: `orders` is already"), "{e}");
        let e = parse(&format!("{source}[[sources.prometheus.kpis]]\nname = \"k\"\nquery = \" \"\n"))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "faultline.toml:5:9: sources.prometheus[0].kpis[0].query: must not be empty");
        let e = parse(&format!("{source}[[sources.prometheus.kpis]]\nname = \"k\"\n")).unwrap_err().to_string();
        assert!(e.contains("sources.prometheus[0].kpis[0]") && e.contains("missing field `query`"), "{e}");
        let e = parse("[engine]\nkpi_step = 0\n").unwrap_err().to_string();
        assert!(e.starts_with("faultline.toml:2:12: engine.kpi_step: 0 must be in (0, 1]"), "{e}");
    }

    #[test]
    fn prometheus_changes_and_traffic() {
        use crate::model::{ChangeKind, TrafficRole};
        use crate::sources::prometheus::changes::ChangeWhen;
        let source = "[[sources.prometheus]]\nurl = \"http://p\"\n";
        let d = parse(source).unwrap();
        let rules: Vec<(&str, ChangeKind)> =
            d.sources.prometheus[0].changes.iter().map(|c| (c.query.as_str(), c.change)).collect();
        assert_eq!(rules[0], ("kube_pod_container_status_restarts_total", ChangeKind::Restart));
        assert_eq!(rules.len(), 5);
        assert!(d.sources.prometheus[0].traffic.is_empty());
        let c = parse(&format!(
            "{source}[[sources.prometheus.changes]]\nquery = \"svc_restarts_total\"\nchange = \"restart\"\n\
             when = \"increase\"\nentity = \"service:{{app}}\"\n\
             [[sources.prometheus.traffic]]\nrole = \"errors\"\nquery = \"sum(rate(e[1m]))\"\nentity = \"service:a\"\n"
        ))
        .unwrap();
        let p = &c.sources.prometheus[0];
        assert_eq!(p.changes.len(), 1, "a list given replaces the defaults");
        assert_eq!(
            (p.changes[0].when, p.changes[0].entity.as_ref().map(|t| t.to_string())),
            (ChangeWhen::Increase, Some("service:{app}".into()))
        );
        assert_eq!((p.traffic[0].role, p.traffic[0].entity.as_deref()), (TrafficRole::Errors, Some("service:a")));
        assert!(parse(&format!("{source}changes = []\n")).unwrap().sources.prometheus[0].changes.is_empty());

        let e = parse(&format!(
            "{source}[[sources.prometheus.changes]]\nquery = \"x\"\nchange = \"reboot\"\nwhen = \"up\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("faultline.toml:5:10: sources.prometheus[0].changes[0].change") && e.contains("reboot"),
            "{e}"
        );
        let e = parse(&format!("{source}[[sources.prometheus.changes]]\nquery = \"x\"\nchange = \"scale\"\nwhen = \"up\"\nentity = \"svc:{{a\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("sources.prometheus[0].changes[0].entity") && e.contains("never closed"), "{e}");
        let e = parse(&format!("{source}[[sources.prometheus.traffic]]\nrole = \"visits\"\nquery = \"x\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("sources.prometheus[0].traffic[0].role") && e.contains("visits"), "{e}");
        let e = parse(&format!("{source}[[sources.prometheus.traffic]]\nrole = \"users\"\nquery = \"\"\n"))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "faultline.toml:5:9: sources.prometheus[0].traffic[0].query: must not be empty");
    }
}
