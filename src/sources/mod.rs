//! Sources of observations.
