//! Reports written from the journal for people: the post-mortem draft of one problem.

pub mod postmortem;
