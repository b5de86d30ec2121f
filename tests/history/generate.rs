//! Generated incident histories for the history tests and benchmarks: incidents written as the
//! engine would journal them (opened, signals, ranking, foundational cause, impact, repeats,
//! runbook runs, silences, resolution), at chosen times, with increasing seqs.

#![allow(dead_code)]

use faultline::model::{
    Candidate, ChangeKind, ChangeRecord, EntityId, EntityKind, EventKind, Impact, Outcome, ProblemEvent, ProblemId,
    RunRecord, Severity, Signal, SignalEvidence, SignalKey, SignalKind, SilenceRecord, Timestamp,
};

pub const MINUTE: i64 = 60_000;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;
/// 2026-03-02T00:00:00Z, a Monday.
pub const WEEK_START: i64 = 1_772_409_600_000;

/// A small deterministic generator (xorshift), so every run builds the same history.
pub struct Rng(pub u64);

impl Rng {
    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// One incident to write.
#[derive(Debug, Clone)]
pub struct Incident {
    pub at: Timestamp,
    pub minutes: i64,
    pub severity: Severity,
    pub root: &'static str,
    pub root_kind: EntityKind,
    /// The metric that broke on the root (an anomaly signal).
    pub metric: &'static str,
    /// Alerts raised: (name, entity).
    pub alerts: Vec<(&'static str, &'static str)>,
    /// Log templates (template id) burst on the root.
    pub templates: Vec<&'static str>,
    /// A deployment on this entity shortly before.
    pub deploy: Option<&'static str>,
    pub affected: Vec<&'static str>,
    /// (runbook, operator, outcome).
    pub runbook: Option<(&'static str, &'static str, Outcome)>,
    pub silenced_by: Option<&'static str>,
    /// Signal repeats journaled (what a busy journal is mostly made of).
    pub repeats: usize,
    /// Still open at the end.
    pub open: bool,
}

impl Incident {
    /// The deployment-induced CPU saturation of the checkout database, fixed by a rollback.
    pub fn cpu_after_deploy(at: Timestamp) -> Incident {
        Incident {
            at,
            minutes: 35,
            severity: Severity::Critical,
            root: "host:db-1",
            root_kind: EntityKind::Host,
            metric: "cpu_utilisation",
            alerts: vec![("HostCpuSaturation", "host:db-1"), ("HighLatency", "service:checkout")],
            templates: vec!["t-lock-wait"],
            deploy: Some("service:checkout"),
            affected: vec!["host:db-1", "database:orders", "service:checkout", "service:frontend"],
            runbook: Some(("rollback-release", "alice@bastion-1", Outcome::Mitigated)),
            silenced_by: None,
            repeats: 20,
            open: false,
        }
    }

    /// Another trouble on the same host: its disk filling.
    pub fn disk_full_same_host(at: Timestamp) -> Incident {
        Incident {
            at,
            minutes: 50,
            severity: Severity::Major,
            root: "host:db-1",
            root_kind: EntityKind::Host,
            metric: "disk_used_ratio",
            alerts: vec![("DiskSpaceLow", "host:db-1")],
            templates: vec!["t-no-space"],
            deploy: None,
            affected: vec!["host:db-1", "database:orders", "service:checkout"],
            runbook: Some(("free-disk", "bob@bastion-2", Outcome::Succeeded)),
            silenced_by: Some("bob@bastion-2"),
            repeats: 20,
            open: false,
        }
    }

    /// Something unrelated elsewhere: a queue backing up.
    pub fn queue_lag(at: Timestamp, queue: &'static str) -> Incident {
        Incident {
            at,
            minutes: 20,
            severity: Severity::Warning,
            root: queue,
            root_kind: EntityKind::Queue,
            metric: "consumer_lag",
            alerts: vec![("ConsumerLag", queue)],
            templates: Vec::new(),
            deploy: None,
            affected: vec![queue],
            runbook: None,
            silenced_by: None,
            repeats: 20,
            open: false,
        }
    }
}

/// Events written so far, with the next seq and problem id.
#[derive(Debug, Default)]
pub struct History {
    pub events: Vec<ProblemEvent>,
    next_seq: u64,
    next_id: u64,
}

impl History {
    pub fn new() -> History {
        History { events: Vec::new(), next_seq: 1, next_id: 1 }
    }

    /// Writes one more event of `problem` (a reopening, a merge...).
    pub fn event(&mut self, problem: ProblemId, at: Timestamp, kind: EventKind) {
        self.push(problem, at, kind);
    }

    fn push(&mut self, problem: ProblemId, at: Timestamp, kind: EventKind) {
        self.events.push(ProblemEvent { seq: self.next_seq, problem, at, kind });
        self.next_seq += 1;
    }

    /// Writes one incident's events; returns its id.
    pub fn incident(&mut self, i: &Incident) -> ProblemId {
        let id = ProblemId(self.next_id);
        self.next_id += 1;
        let t = |m: i64| i.at.plus_ms(m * MINUTE);
        let title = format!("{} anomaly on {}", i.metric, i.root);
        self.push(id, t(0), EventKind::Opened { title, severity: i.severity });
        let mut signals =
            vec![signal(SignalKind::Anomaly, i.metric, i.root, format!("anomaly:{}:{}", i.root, i.metric), t(0))];
        for (name, entity) in &i.alerts {
            signals.push(signal(SignalKind::Alert, name, entity, format!("alert:{name}-{entity}"), t(1)));
        }
        for tpl in &i.templates {
            signals.push(signal(SignalKind::LogBurst, "<*> waiting", i.root, format!("log:{}:{tpl}", i.root), t(1)));
        }
        for s in &signals {
            self.push(id, s.first_seen, EventKind::SignalAttached { signal: s.clone() });
        }
        if let Some(entity) = i.deploy {
            let change = ChangeRecord {
                at: t(-5),
                entity: EntityId::new(entity),
                change: ChangeKind::Deployment,
                description: format!("{entity} release v{}", i.at.millis() / DAY % 100),
                reason: "on the root cause's stack, 5m 0s before onset".into(),
            };
            self.push(id, t(2), EventKind::FoundationalCauseLinked { change });
        }
        let candidate = Candidate {
            entity: EntityId::new(i.root),
            entity_kind: i.root_kind,
            score: 0.9,
            summary: format!("{} anomaly on {} (0.97, expected 0.31)", i.metric, i.root),
            signals: vec![signals[0].key.clone()],
            strength: 0.97,
            first_breach: t(0),
            explains: i.affected.len(),
            affected: i.affected.len(),
            evidence: Vec::new(),
            broke: vec![SignalEvidence::of(&signals[0])],
        };
        self.push(id, t(2), EventKind::RootCauseRanked { candidates: vec![candidate] });
        let affected: Vec<EntityId> = i.affected.iter().map(|e| EntityId::new(*e)).collect();
        let services = affected.iter().filter(|e| e.as_str().starts_with("service:")).count();
        let impact =
            Impact { affected, services, active_signals: signals.len(), signals: signals.len(), ..Default::default() };
        self.push(id, t(3), EventKind::ImpactUpdated { impact });
        for r in 0..i.repeats {
            let s = &signals[r % signals.len()];
            let at = t(3).plus_ms(r as i64 * 15_000);
            self.push(id, at, EventKind::SignalRepeated { key: s.key.clone(), count: r as u64 + 2, last_seen: at });
        }
        if let Some(by) = i.silenced_by {
            let silences = vec![SilenceRecord {
                id: format!("s-{}", id.0),
                matchers: vec![format!("alertname=\"{}\"", i.alerts.first().map_or("x", |a| a.0))],
                starts_at: t(8),
                ends_at: t(128),
            }];
            self.push(id, t(8), EventKind::Silenced { by: by.into(), via: "am".into(), silences, error: None });
        }
        if let Some((runbook, by, outcome)) = i.runbook {
            let plan = vec![format!("runbook {runbook} on {}", i.root), "1. run: ...".into()];
            self.push(
                id,
                t(10),
                EventKind::RunbookStarted { runbook: runbook.into(), by: by.into(), plan: plan.clone(), auto: false },
            );
            let record = RunRecord {
                runbook: runbook.into(),
                file: format!("runbooks/{runbook}.toml").into(),
                problem: id.to_string(),
                entity: i.root.into(),
                operator: by.into(),
                started_at: t(10),
                finished_at: t(12),
                plan,
                steps: Vec::new(),
                outcome,
                auto: false,
                escalation: None,
            };
            self.push(id, t(12), EventKind::RunbookFinished { record: Box::new(record) });
        }
        if !i.open {
            self.push(id, t(i.minutes), EventKind::Resolved);
        }
        id
    }

    /// A week of on-call for the report snapshot: the recurring CPU saturation on Monday,
    /// Wednesday and Friday, the disk filling on Thursday, a queue backing up most nights, and
    /// one problem still open at the end.
    pub fn week() -> (History, Vec<ProblemId>) {
        let mut h = History::new();
        let day = |d: i64, hour: i64| Timestamp(WEEK_START + d * DAY + hour * HOUR);
        let mut cpu = Vec::new();
        for d in 0..7 {
            if d % 2 == 0 && d < 6 {
                cpu.push(h.incident(&Incident::cpu_after_deploy(day(d, 10))));
            }
            if d == 3 {
                h.incident(&Incident::disk_full_same_host(day(d, 14)));
            }
            if d != 2 {
                h.incident(&Incident::queue_lag(day(d, 2), "queue:payments"));
            }
        }
        let mut open = Incident::queue_lag(day(6, 21), "queue:emails");
        open.open = true;
        open.severity = Severity::Major;
        h.incident(&open);
        (h, cpu)
    }
}

fn signal(kind: SignalKind, name: &str, entity: &str, key: String, at: Timestamp) -> Signal {
    Signal {
        key: SignalKey(key),
        kind,
        entity: EntityId::new(entity),
        name: name.into(),
        severity: Severity::Major,
        first_seen: at,
        last_seen: at,
        count: 1,
        active: true,
        score: 0.9,
        value: None,
        baseline: None,
        labels: Default::default(),
        mark: None,
    }
}
