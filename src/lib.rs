//! faultline: a terminal incident console.
//!
//! Data flows one way: `sources` produce [`model::Observation`]s, the `engine` turns them into
//! [`model::ProblemEvent`]s, the `journal` stores them and the `ui` folds them into what is shown.

pub mod agent;
pub mod bundle;
pub mod config;
pub mod engine;
pub mod eval;
pub mod history;
pub mod journal;
pub mod model;
pub mod report;
pub mod runbook;
pub mod sources;
pub mod startup;
pub mod ui;
