//! `faultline eval`: the quality benchmarks of DESIGN section 9, measured on real public data.
//! Each benchmark reads its own format and reports what it measured, good or bad.

pub mod loghub;
pub mod nab;
pub mod petshop;
pub mod scenarios;
