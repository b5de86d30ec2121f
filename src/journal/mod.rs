//! The journal: SQLite, append-only problem events.
