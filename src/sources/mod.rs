//! Sources of observations: each source turns what a backend (or a file) says into
//! [`Observation`](crate::model::Observation)s stamped with data time, for the engine to consume.

pub mod alertmanager;
pub mod fixture;
pub mod http;
pub mod mapping;
pub mod prometheus;
