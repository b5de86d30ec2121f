//! Runbooks: remediation from the keyboard (DESIGN section 7). Nothing lives here yet.
//!
//! The contract this module will keep: a runbook is a TOML file with a match rule and steps
//! (run a program as an argv, never a shell line built from alert text; an HTTP call; a silence;
//! wait-and-check; escalate). Pressing its key shows the plan with every value filled in, asks to
//! confirm, then streams the output; every run is journaled as problem events, and `--readonly`
//! refuses all of it.
