//! How fresh the data is: the newest data time any observation carried, and per source the
//! newest data time of its own observations. The status line shows the first as the data time
//! (a quiet estate keeps sending samples, so it does not look like a dead feed) and each source's
//! lag behind "now": the wall clock in a live session, the newest data anywhere in a demo or a
//! recording (whose data times are not today's).
//!
//! A source that answers fine but has nothing new (an Alertmanager with no alerts) sends no
//! observation, so its lag is measured from the later of its newest data and the end of its
//! last good pull, which the agent reports ([`crate::ui::Feed::Pulled`]). A failing source
//! reports no good pull, so its lag still grows.

use super::views::status::mode_label;
use crate::model::{Observation, ObservationKind, Timestamp};
use std::collections::BTreeMap;

/// A source this far behind now is drawn as stale (milliseconds).
pub const STALE_LAG_MS: i64 = 60_000;

/// Whether a session of this title measures lags against the wall clock: live and attached
/// sessions, whose data is today's.
pub fn follows_clock(title: &str) -> bool {
    matches!(mode_label(title), "LIVE" | "FOLLOW")
}

/// The wall clock in Unix milliseconds (read by the event loop only).
pub fn unix_ms() -> i64 {
    Timestamp::wall_clock().millis()
}

/// Data times seen, overall and per source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Freshness {
    /// The newest data time of any observation.
    pub newest: Option<Timestamp>,
    /// Per source name, the newest data time of its observations.
    pub sources: BTreeMap<String, Timestamp>,
    /// The wall clock as the event loop last told it, in a live session.
    pub clock: Option<Timestamp>,
    /// Per source name, up to when its last good pull covered the data.
    pub pulls: BTreeMap<String, Timestamp>,
}

/// The newest data time an observation carries: its own, or its newest sample's.
fn data_time(o: &Observation) -> Timestamp {
    match &o.kind {
        ObservationKind::Metric { samples, .. } => samples.iter().map(|(t, _)| *t).fold(o.at, Timestamp::max),
        _ => o.at,
    }
}

impl Freshness {
    /// Takes a batch of observations (constant work per observation).
    pub fn observe(&mut self, observations: &[Observation]) {
        for o in observations {
            let at = data_time(o);
            self.newest = Some(self.newest.map_or(at, |n| n.max(at)));
            // Lags are of the sources that send data continuously; a change record's origin
            // (a deploy tool) or a topology fact says nothing about a feed being alive.
            if !matches!(
                o.kind,
                ObservationKind::Metric { .. }
                    | ObservationKind::Alert { .. }
                    | ObservationKind::LogPattern { .. }
                    | ObservationKind::LogLines { .. }
            ) {
                continue;
            }
            let name = if o.source.is_empty() { "data" } else { o.source.as_str() };
            match self.sources.get_mut(name) {
                Some(t) => *t = (*t).max(at),
                None => {
                    self.sources.insert(name.to_string(), at);
                }
            }
        }
    }

    /// A good pull of `source` covering its data up to `covered` (times never go back).
    pub fn pulled(&mut self, source: String, covered: Timestamp) {
        let at = self.pulls.entry(source).or_insert(covered);
        *at = (*at).max(covered);
    }

    /// The wall clock, kept only when the session follows it (`title` as in [`follows_clock`]).
    pub fn clock(&mut self, unix_ms: i64, title: &str) {
        if follows_clock(title) {
            self.clock = Some(Timestamp(unix_ms));
        }
    }

    /// What lags are measured against: the wall clock when known, else the newest data.
    pub fn now(&self) -> Option<Timestamp> {
        match (self.clock, self.newest) {
            (Some(c), Some(n)) => Some(c.max(n)),
            (c, n) => c.or(n),
        }
    }

    /// How far behind now the source is, in milliseconds (never negative): from the later of
    /// its newest data and its last good pull.
    pub fn lag_ms(&self, source: &str) -> Option<i64> {
        let last = match (self.sources.get(source), self.pulls.get(source)) {
            (Some(a), Some(b)) => (*a).max(*b),
            (a, b) => *a.or(b)?,
        };
        Some(self.now()?.since(last).max(0))
    }
}

/// A lag as the status line shows it: `2s`, `4m`, `3h`, `2d`.
pub fn lag_text(ms: i64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// A source's name as the status line shows it: the usual backends shortened.
pub fn short_name(name: &str) -> &str {
    match name {
        "prometheus" => "prom",
        "alertmanager" => "am",
        "cloudwatch" => "cw",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(source: &str, at: i64) -> Observation {
        Observation {
            at: Timestamp(at),
            source: source.to_string(),
            kind: ObservationKind::Metric {
                entity: crate::model::EntityId::new("host:a"),
                metric: "cpu".to_string(),
                samples: vec![(Timestamp(at), 1.0)],
            },
        }
    }

    #[test]
    fn lags_are_measured_against_the_newest_data_or_the_clock() {
        let mut f = Freshness::default();
        f.observe(&[obs("prometheus", 10_000), obs("alertmanager", 8_000), obs("prometheus", 9_000)]);
        assert_eq!(f.newest, Some(Timestamp(10_000)));
        assert_eq!(f.lag_ms("prometheus"), Some(0));
        assert_eq!(f.lag_ms("alertmanager"), Some(2_000));
        // A demo ignores the clock; a live session measures against it.
        f.clock(100_000, "demo: x");
        assert_eq!(f.lag_ms("prometheus"), Some(0));
        f.clock(100_000, "prod-eu-1");
        assert_eq!(f.lag_ms("prometheus"), Some(90_000));
        assert_eq!(lag_text(90_000), "1m");
        assert_eq!(lag_text(2_400), "2s");
        assert_eq!(short_name("alertmanager"), "am");
    }

    #[test]
    fn a_quiet_source_that_pulled_fine_is_not_lagging() {
        let mut f = Freshness::default();
        // Alertmanager's last alert is 10 minutes old; Prometheus sends samples all the time.
        f.observe(&[obs("alertmanager", 0), obs("prometheus", 600_000)]);
        f.clock(605_000, "live: prod");
        assert_eq!(f.lag_ms("alertmanager"), Some(605_000), "from its newest data alone");
        // Its pulls keep going fine, with nothing new.
        f.pulled("alertmanager".to_string(), Timestamp(603_000));
        assert_eq!(f.lag_ms("alertmanager"), Some(2_000));
        // An older report never moves it back; a source known only by its pulls has a lag too.
        f.pulled("alertmanager".to_string(), Timestamp(1_000));
        assert_eq!(f.lag_ms("alertmanager"), Some(2_000));
        f.pulled("loki".to_string(), Timestamp(604_000));
        assert_eq!(f.lag_ms("loki"), Some(1_000));
        // When pulls stop going fine the lag grows again.
        f.clock(905_000, "live: prod");
        assert_eq!(f.lag_ms("alertmanager"), Some(302_000));
    }
}
