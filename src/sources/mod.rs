//! Sources of observations.
pub mod fixture;
