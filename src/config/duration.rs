//! Durations written as text in the config (`"15m"`, `"30s"`, `"1h 30m"`).

use serde::de::{self, Deserialize, Deserializer, Visitor};
use std::fmt;
use std::time::Duration;

/// A duration read from text such as `"15m"` or `"1h 30m"` (humantime syntax), held in
/// milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub i64);

impl HumanDuration {
    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: i64) -> HumanDuration {
        HumanDuration(ms)
    }

    /// The duration in milliseconds.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// Parses humantime text (`90s`, `5m`, `1h 30m`, `7d`) into a duration.
    pub fn parse(text: &str) -> Result<HumanDuration, String> {
        let d = humantime::parse_duration(text).map_err(|e| {
            format!("invalid duration \"{text}\": {e} (write e.g. \"90s\", \"15m\", \"1h 30m\", \"7d\")")
        })?;
        i64::try_from(d.as_millis())
            .map(HumanDuration)
            .map_err(|_| format!("invalid duration \"{text}\": longer than this program can count in milliseconds"))
    }
}

impl fmt::Display for HumanDuration {
    /// humantime's form, e.g. `15m` or `1h 30m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = u64::try_from(self.0).unwrap_or(0);
        write!(f, "{}", humantime::format_duration(Duration::from_millis(ms)))
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration string such as \"15m\", \"30s\" or \"1h 30m\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HumanDuration, E> {
                HumanDuration::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays() {
        assert_eq!(HumanDuration::parse("15m").unwrap().millis(), 900_000);
        assert_eq!(HumanDuration::parse("1h 30m").unwrap().millis(), 5_400_000);
        assert_eq!(HumanDuration::parse("7d").unwrap().to_string(), "7days");
        let e = HumanDuration::parse("15 mintues").unwrap_err();
        assert!(e.starts_with("invalid duration \"15 mintues\""), "{e}");
        assert!(HumanDuration::parse("99999999999999999y").is_err());
    }
}
