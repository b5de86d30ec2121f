//! Anomaly detection scored with the rules of the Numenta Anomaly Benchmark (NAB).
