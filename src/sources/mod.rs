//! Sources of observations: each source turns what a backend (or a file) says into
//! [`Observation`](crate::model::Observation)s stamped with data time, for the engine to consume.

pub mod alertmanager;
pub mod change_feed;
pub mod cloudwatch;
pub mod fixture;
pub mod http;
pub mod loki;
pub mod mapping;
pub mod prometheus;
pub mod resume;
pub mod topology_file;

use crate::model::{Observation, Timestamp};

/// A configured live source, whatever its backend.
pub enum Source {
    // Boxed: their states differ a lot in size, and a source is reached through a lock anyway.
    Prometheus(Box<prometheus::PrometheusSource>),
    Alertmanager(Box<alertmanager::AlertmanagerSource>),
    Topology(Box<topology_file::TopologyFileSource>),
    ChangeFeed(Box<change_feed::ChangeFeedSource>),
    CloudWatch(Box<cloudwatch::CloudWatchSource>),
    Loki(Box<loki::LokiSource>),
}

impl Source {
    pub fn name(&self) -> &str {
        match self {
            Source::Prometheus(s) => s.name(),
            Source::Alertmanager(s) => s.name(),
            Source::Topology(s) => s.name(),
            Source::ChangeFeed(s) => s.name(),
            Source::CloudWatch(s) => s.name(),
            Source::Loki(s) => s.name(),
        }
    }

    /// Picks up where a journal left off: `observations` is what the journal holds (every
    /// observation, or a [`resume::ResumeSet`] of them; this source takes its own, by name), so
    /// the next pull asks only for what is new and alerts that were firing can still resolve.
    pub fn restore(&mut self, observations: &[Observation]) {
        let name = self.name().to_string();
        let mine = observations.iter().filter(|o| o.source == name);
        match self {
            Source::Prometheus(s) => s.restore(mine),
            Source::Alertmanager(s) => s.restore(mine),
            Source::Topology(s) => s.restore(mine),
            Source::ChangeFeed(s) => s.restore(mine),
            Source::CloudWatch(s) => s.restore(mine),
            Source::Loki(s) => s.restore(mine),
        }
    }

    /// What [`restore`](Self::restore) set, for the resume tests.
    #[cfg(test)]
    pub(crate) fn restored_state(&self) -> String {
        match self {
            Source::Prometheus(s) => s.restored_state(),
            Source::Alertmanager(s) => s.restored_state(),
            Source::Topology(s) => s.restored_state(),
            Source::ChangeFeed(s) => s.restored_state(),
            Source::CloudWatch(s) => s.restored_state(),
            Source::Loki(s) => s.restored_state(),
        }
    }

    /// One pull cycle at wall time `now`.
    pub async fn pull(&mut self, now: Timestamp) -> prometheus::Pull {
        match self {
            Source::Prometheus(s) => s.pull(now).await,
            Source::Alertmanager(s) => s.pull(now).await,
            Source::Topology(s) => s.pull(now).await,
            Source::ChangeFeed(s) => s.pull(now).await,
            Source::CloudWatch(s) => s.pull(now).await,
            Source::Loki(s) => s.pull(now).await,
        }
    }
}
