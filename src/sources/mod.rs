//! Sources of observations: each source turns what a backend (or a file) says into
//! [`Observation`](crate::model::Observation)s stamped with data time, for the engine to consume.

pub mod alertmanager;
pub mod fixture;
pub mod http;
pub mod mapping;
pub mod prometheus;

use crate::model::Timestamp;

/// A configured live source, whatever its backend.
pub enum Source {
    Prometheus(prometheus::PrometheusSource),
    Alertmanager(alertmanager::AlertmanagerSource),
}

impl Source {
    pub fn name(&self) -> &str {
        match self {
            Source::Prometheus(s) => s.name(),
            Source::Alertmanager(s) => s.name(),
        }
    }

    /// One pull cycle at wall time `now`.
    pub async fn pull(&mut self, now: Timestamp) -> prometheus::Pull {
        match self {
            Source::Prometheus(s) => s.pull(now).await,
            Source::Alertmanager(s) => s.pull(now).await,
        }
    }
}
