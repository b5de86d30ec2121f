//! History: what earlier problems say about this one, and what happened over a shift.
//!
//! - [`summary`]: one compact [`IncidentSummary`] per problem, folded from its events.
//! - [`similar`]: an inverted index over summaries and an explainable, deterministic
//!   similarity search ("this looks like P-0031 last Tuesday, fixed by rollback-release").
//! - [`handover`]: the on-call handover report of a period, in Markdown or plain text.
//! - [`staleness`]: which sources were stale in a period, from recorded health or data gaps.
//! - [`load`]: reading them from a journal and from incident bundles.
//! - [`store`]: the summaries kept in the journal, so months are read as a row per problem.
//! - [`live`]: the same history kept by the UI from the events it receives.
//!
//! Everything here is pure over events except [`load`]; the UI keeps its own [`similar::Index`]
//! folded from the events it already holds, so it never reads the journal in `update`.

pub mod handover;
pub mod live;
pub mod load;
pub mod similar;
pub mod staleness;
pub mod store;
pub mod summary;

pub use similar::{Index, Match};
pub use summary::{summarize, IncidentSummary};
