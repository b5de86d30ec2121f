//! Data time: the time the data carries, never the wall clock.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in data time, in milliseconds since the Unix epoch (UTC).
///
/// Serialized as an RFC 3339 string with millisecond precision; read from either an RFC 3339
/// string or an integer number of milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

/// 9999-12-31T23:59:59.999Z, the last time RFC 3339 can write.
const MAX_RFC3339_MS: i64 = 253_402_300_799_999;

impl Timestamp {
    /// Milliseconds since the epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// This time plus `ms` milliseconds (saturating).
    pub fn plus_ms(self, ms: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self` (negative when `earlier` is later).
    pub fn since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Parses RFC 3339 (`2026-11-02T03:00:00Z`, fractional seconds allowed).
    pub fn parse_rfc3339(s: &str) -> Result<Timestamp, String> {
        let t = humantime::parse_rfc3339_weak(s).map_err(|e| format!("`{s}` is not an RFC 3339 time: {e}"))?;
        let ms = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_millis() as i64,
            Err(e) => -(e.duration().as_millis() as i64),
        };
        Ok(Timestamp(ms))
    }

    /// True when RFC 3339 can write this time (years 1970 to 9999).
    pub fn is_rfc3339_range(self) -> bool {
        (0..=MAX_RFC3339_MS).contains(&self.0)
    }

    /// RFC 3339 with millisecond precision, UTC. Times outside years 1970 to 9999 (which only
    /// broken input produces) are written as their integer milliseconds instead of panicking.
    pub fn to_rfc3339(self) -> String {
        if !self.is_rfc3339_range() {
            return self.0.to_string();
        }
        let t = UNIX_EPOCH + Duration::from_millis(self.0 as u64);
        humantime::format_rfc3339_millis(t).to_string()
    }

    /// Time of day as `HH:MM:SS` (UTC), for compact display.
    pub fn clock(self) -> String {
        let s = self.to_rfc3339();
        s.get(11..19).unwrap_or(&s).to_string()
    }

    /// The wall clock now. Only for the edges (UI, sources); the engine never calls it.
    pub fn wall_clock() -> Timestamp {
        let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Timestamp(d.as_millis() as i64)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.is_rfc3339_range() {
            s.serialize_str(&self.to_rfc3339())
        } else {
            // Still readable back: integers are accepted as milliseconds.
            s.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 time string or integer milliseconds since the epoch")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse_rfc3339(v).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Timestamp, E> {
                Ok(Timestamp(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Timestamp, E> {
                i64::try_from(v).map(Timestamp).map_err(|_| E::custom("timestamp out of range"))
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses a human duration such as `90s`, `5m`, `1h 30m` into milliseconds.
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    let d =
        humantime::parse_duration(s).map_err(|e| format!("`{s}` is not a duration (e.g. `90s`, `5m`, `1h`): {e}"))?;
    i64::try_from(d.as_millis()).map_err(|_| format!("`{s}` is too long a duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let t = Timestamp::parse_rfc3339("2026-11-02T03:00:00.250Z").unwrap();
        assert_eq!(t.0, 1_793_588_400_250);
        assert_eq!(t.to_rfc3339(), "2026-11-02T03:00:00.250Z");
        assert_eq!(t.clock(), "03:00:00");
        let back: Timestamp = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
        let from_int: Timestamp = serde_json::from_str("1793588400250").unwrap();
        assert_eq!(from_int, t);
    }

    #[test]
    fn times_outside_rfc3339_are_integers_and_round_trip() {
        for t in [Timestamp(-1), Timestamp(i64::MIN), Timestamp(i64::MAX), Timestamp(MAX_RFC3339_MS + 1)] {
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, t.0.to_string());
            assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
            assert_eq!(t.to_string(), t.0.to_string());
        }
        assert_eq!(Timestamp(MAX_RFC3339_MS).to_rfc3339(), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn bad_time_says_what() {
        let e = Timestamp::parse_rfc3339("yesterday").unwrap_err();
        assert!(e.contains("yesterday"), "{e}");
        assert_eq!(parse_duration_ms("5m").unwrap(), 300_000);
        assert!(parse_duration_ms("five").is_err());
    }
}
