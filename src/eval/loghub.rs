//! Log template mining scored on loghub's structured samples (grouping and parsing accuracy).
