//! Serde helpers for engine state that JSON cannot hold as it is: non-finite floats, arrays
//! longer than serde's 32, maps keyed by tuples, and `HashMap`s (written sorted, so the bytes of
//! a snapshot are deterministic).
//!
//! Floats round trip bit for bit through `serde_json` (its `float_roundtrip` feature is on):
//! - an `f64` is a JSON number when finite, else a string: `"NaN"`, `"inf"`, `"-inf"`, or
//!   `"NaN:0x<16 hex digits>"` for a NaN whose bits are not those of `f64::NAN`;
//! - an array of `f32` is `{"values": [...]}` with `null` in place of a non-finite value and
//!   that value's bits in `"nonfinite"` (in order): finite `f32`s are then read by serde_json's
//!   single-precision path, which rounds the shortest decimal back to the same `f32`.

use crate::config::HumanDuration;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::Hash;

/// An `f64` that survives JSON whatever its value (see the module doc).
#[derive(Debug, Clone, Copy)]
pub struct ExactF64(pub f64);

impl PartialEq for ExactF64 {
    /// Bit equality: NaN equals the same NaN, and 0.0 differs from -0.0.
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

/// The text of a non-finite `f64`.
fn nonfinite_text(x: f64) -> String {
    if x.is_nan() {
        if x.to_bits() == f64::NAN.to_bits() {
            "NaN".to_string()
        } else {
            format!("NaN:{:#018x}", x.to_bits())
        }
    } else if x > 0.0 {
        "inf".to_string()
    } else {
        "-inf".to_string()
    }
}

/// The `f64` a non-finite text stands for.
fn nonfinite_value(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => {
            let hex = text.strip_prefix("NaN:0x")?;
            let x = f64::from_bits(u64::from_str_radix(hex, 16).ok()?);
            x.is_nan().then_some(x)
        }
    }
}

impl Serialize for ExactF64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_finite() {
            s.serialize_f64(self.0)
        } else {
            s.serialize_str(&nonfinite_text(self.0))
        }
    }
}

impl<'de> Deserialize<'de> for ExactF64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ExactF64;
            // Said as serde says it for a plain f64: config files read these fields too, and
            // their error messages stay what they were.
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("f64")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ExactF64, E> {
                Ok(ExactF64(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ExactF64, E> {
                Ok(ExactF64(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ExactF64, E> {
                Ok(ExactF64(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ExactF64, E> {
                nonfinite_value(v).map(ExactF64).ok_or_else(|| E::invalid_type(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// `#[serde(with = "exact_f64")]` for an `f64` field.
pub mod exact_f64 {
    use super::ExactF64;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        ExactF64(*x).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        ExactF64::deserialize(d).map(|x| x.0)
    }
}

/// `#[serde(with = "exact_f64_opt")]` for an `Option<f64>` field.
pub mod exact_f64_opt {
    use super::ExactF64;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        x.map(ExactF64).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Option::<ExactF64>::deserialize(d).map(|x| x.map(|x| x.0))
    }
}

/// Reads a sequence of exactly `N` elements into an array.
fn array_of<'de, D, T, const N: usize>(d: D) -> Result<[T; N], D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let v: Vec<T> = Vec::deserialize(d)?;
    let len = v.len();
    v.try_into().map_err(|_| de::Error::invalid_length(len, &format!("an array of {N}").as_str()))
}

/// `#[serde(with = "array")]` for a `[T; N]` of any length (serde derives only up to 32).
pub mod array {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize, const N: usize>(a: &[T; N], s: S) -> Result<S::Ok, S::Error> {
        a.as_slice().serialize(s)
    }

    pub fn deserialize<'de, D, T, const N: usize>(d: D) -> Result<[T; N], D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        super::array_of(d)
    }
}

/// `#[serde(with = "exact_f64_array")]` for a `[f64; N]`.
pub mod exact_f64_array {
    use super::ExactF64;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer, const N: usize>(a: &[f64; N], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(a.iter().map(|x| ExactF64(*x)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<[f64; N], D::Error> {
        let a: [ExactF64; N] = super::array_of(d)?;
        Ok(a.map(|x| x.0))
    }
}

/// An `f32` array as written (see the module doc).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct F32Array {
    values: Vec<Option<f32>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    nonfinite: Vec<u32>,
}

/// `#[serde(with = "exact_f32_array")]` for a `[f32; N]`.
pub mod exact_f32_array {
    use super::F32Array;
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, const N: usize>(a: &[f32; N], s: S) -> Result<S::Ok, S::Error> {
        let values = a.iter().map(|x| x.is_finite().then_some(*x)).collect();
        let nonfinite = a.iter().filter(|x| !x.is_finite()).map(|x| x.to_bits()).collect();
        F32Array { values, nonfinite }.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<[f32; N], D::Error> {
        let F32Array { values, nonfinite } = F32Array::deserialize(d)?;
        if values.len() != N {
            return Err(D::Error::invalid_length(values.len(), &format!("an array of {N}").as_str()));
        }
        let mut bits = nonfinite.into_iter();
        let mut out = [0f32; N];
        for (o, v) in out.iter_mut().zip(values) {
            *o = match v {
                Some(x) => x,
                None => {
                    let b = bits.next().ok_or_else(|| D::Error::custom("fewer `nonfinite` bits than nulls"))?;
                    let x = f32::from_bits(b);
                    if x.is_finite() {
                        return Err(D::Error::custom(format!("`nonfinite` holds a finite value ({x})")));
                    }
                    x
                }
            };
        }
        if bits.next().is_some() {
            return Err(D::Error::custom("more `nonfinite` bits than nulls"));
        }
        Ok(out)
    }
}

/// `#[serde(with = "pairs")]` for a `BTreeMap` whose keys JSON cannot hold as object keys
/// (tuples): a sequence of `[key, value]` pairs in key order.
pub mod pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<S: Serializer, K: Serialize, V: Serialize>(m: &BTreeMap<K, V>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter())
    }

    /// [`serialize`] for a field that borrows its map.
    pub fn serialize_ref<S: Serializer, K: Serialize, V: Serialize>(
        m: &&BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        serialize(*m, s)
    }

    pub fn deserialize<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        D: Deserializer<'de>,
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
    {
        super::unique_pairs(d)
    }
}

/// Reads `[key, value]` pairs into a map; a key given twice is an error (a snapshot never
/// writes one twice).
fn unique_pairs<'de, D, K, V, M>(d: D) -> Result<M, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de>,
    V: Deserialize<'de>,
    M: Default + Insert<K, V>,
{
    struct PairsVisitor<K, V, M>(std::marker::PhantomData<(K, V, M)>);
    impl<'de, K: Deserialize<'de>, V: Deserialize<'de>, M: Default + Insert<K, V>> Visitor<'de> for PairsVisitor<K, V, M> {
        type Value = M;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a sequence of [key, value] pairs")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<M, A::Error> {
            let mut m = M::default();
            let mut i = 0usize;
            while let Some((k, v)) = seq.next_element::<(K, V)>()? {
                if !m.insert_new(k, v) {
                    return Err(de::Error::custom(format!("pair {i}: its key is given twice")));
                }
                i += 1;
            }
            Ok(m)
        }
    }
    d.deserialize_seq(PairsVisitor(std::marker::PhantomData))
}

/// A map that can tell whether a key was new.
trait Insert<K, V> {
    fn insert_new(&mut self, k: K, v: V) -> bool;
}

impl<K: Ord, V> Insert<K, V> for BTreeMap<K, V> {
    fn insert_new(&mut self, k: K, v: V) -> bool {
        self.insert(k, v).is_none()
    }
}

impl<K: Eq + Hash, V, H: std::hash::BuildHasher> Insert<K, V> for HashMap<K, V, H> {
    fn insert_new(&mut self, k: K, v: V) -> bool {
        self.insert(k, v).is_none()
    }
}

/// `#[serde(with = "sorted_pairs")]` for a `HashMap`: `[key, value]` pairs in key order, so
/// the bytes do not depend on the map's iteration order.
pub mod sorted_pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::HashMap;
    use std::hash::Hash;

    pub fn serialize<S, K, V, H>(m: &HashMap<K, V, H>, s: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        K: Serialize + Ord,
        V: Serialize,
    {
        let mut v: Vec<(&K, &V)> = m.iter().collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        s.collect_seq(v)
    }

    /// [`serialize`] for a field that borrows its map.
    pub fn serialize_ref<S, K, V, H>(m: &&HashMap<K, V, H>, s: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        K: Serialize + Ord,
        V: Serialize,
    {
        serialize(*m, s)
    }

    pub fn deserialize<'de, D, K, V, H>(d: D) -> Result<HashMap<K, V, H>, D::Error>
    where
        D: Deserializer<'de>,
        K: Deserialize<'de> + Eq + Hash,
        V: Deserialize<'de>,
        H: std::hash::BuildHasher + Default,
    {
        super::unique_pairs(d)
    }
}

/// `#[serde(serialize_with = "human_duration")]` for a [`HumanDuration`] field: its humantime
/// text (`"1h"`, `"2h 30m"`), which its own `Deserialize` reads back to the same milliseconds.
/// A negative duration (which no text can state) is an error, not a silent `"0s"`.
pub fn human_duration<S: Serializer>(d: &HumanDuration, s: S) -> Result<S::Ok, S::Error> {
    if d.millis() < 0 {
        return Err(serde::ser::Error::custom(format!("a negative duration ({} ms) cannot be written", d.millis())));
    }
    s.serialize_str(&d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Floats {
        #[serde(with = "exact_f64")]
        x: f64,
        #[serde(with = "exact_f64_opt")]
        o: Option<f64>,
        #[serde(with = "exact_f64_array")]
        a: [f64; 3],
        #[serde(with = "exact_f32_array")]
        f: [f32; 40],
    }

    fn bits64(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn every_f64_round_trips_bit_for_bit() {
        let odd_nan = f64::from_bits(0x7ff8_0000_0000_0001);
        let negative_nan = -f64::NAN;
        let values = [
            f64::NAN,
            odd_nan,
            negative_nan,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            f64::MIN,
            0.1 + 0.2,
            1.0 / 3.0,
            -1234.5678e-200,
            9_007_199_254_740_993.0,
        ];
        for x in values {
            for o in [None, Some(x)] {
                let v = Floats { x, o, a: [x, -x, 1.0], f: [0.0; 40] };
                let json = serde_json::to_string(&v).unwrap();
                let back: Floats = serde_json::from_str(&json).unwrap();
                assert_eq!(bits64(&[back.x]), bits64(&[x]), "{json}");
                assert_eq!(back.o.map(f64::to_bits), o.map(f64::to_bits), "{json}");
                assert_eq!(bits64(&back.a), bits64(&v.a), "{json}");
            }
        }
        assert_eq!(serde_json::to_string(&ExactF64(f64::NAN)).unwrap(), "\"NaN\"");
        assert_eq!(serde_json::to_string(&ExactF64(f64::NEG_INFINITY)).unwrap(), "\"-inf\"");
        assert_eq!(serde_json::to_string(&ExactF64(odd_nan)).unwrap(), "\"NaN:0x7ff8000000000001\"");
        assert_eq!(serde_json::to_string(&ExactF64(0.25)).unwrap(), "0.25");
        // Any other text is refused as a plain f64 would refuse it.
        let e = serde_json::from_str::<ExactF64>("\"nan\"").unwrap_err().to_string();
        assert!(e.starts_with("invalid type: string \"nan\", expected f64"), "{e}");
        assert!(serde_json::from_str::<ExactF64>("\"NaN:0x0000000000000001\"").is_err(), "not a NaN");
    }

    #[test]
    fn every_f32_of_an_array_round_trips_bit_for_bit() {
        // Deterministic f32s of every exponent, plus the awkward ones.
        let mut f = [0f32; 40];
        let mut z = 0x9E37_79B9_u32;
        for x in f.iter_mut() {
            z = z.wrapping_mul(0x0019_660D).wrapping_add(0x3C6E_F35F);
            *x = f32::from_bits(z);
        }
        f[0] = f32::NAN;
        f[1] = f32::INFINITY;
        f[2] = f32::NEG_INFINITY;
        f[3] = -0.0;
        f[4] = f32::from_bits(1);
        f[5] = f32::MAX;
        f[6] = 0.3;
        let v = Floats { x: 0.0, o: None, a: [0.0; 3], f };
        let json = serde_json::to_string(&v).unwrap();
        let back: Floats = serde_json::from_str(&json).unwrap();
        let bits = |a: &[f32; 40]| a.map(f32::to_bits);
        assert_eq!(bits(&back.f), bits(&f), "{json}");
        assert!(json.contains("0.3,"), "finite f32s are written short: {json}");
        // A length that does not fit the array is an error, not a truncation.
        let short = json.replacen("\"values\":[null,", "\"values\":[", 1);
        assert!(serde_json::from_str::<Floats>(&short).is_err());
    }

    #[test]
    fn durations_are_written_as_text_that_reads_back_to_the_same_milliseconds() {
        #[derive(Serialize, Deserialize)]
        struct D(#[serde(serialize_with = "human_duration")] HumanDuration);
        for ms in [0, 1, 999, 60_000, 5_400_500, 7 * 86_400_000, 400 * 86_400_000 + 3_723_004] {
            let json = serde_json::to_string(&D(HumanDuration::from_millis(ms))).unwrap();
            assert_eq!(serde_json::from_str::<D>(&json).unwrap().0.millis(), ms, "{json}");
        }
        assert_eq!(serde_json::to_string(&D(HumanDuration::from_millis(5_400_000))).unwrap(), "\"1h 30m\"");
        let e = serde_json::to_string(&D(HumanDuration::from_millis(-5))).unwrap_err().to_string();
        assert!(e.contains("negative duration (-5 ms)"), "{e}");
    }

    #[test]
    fn hash_maps_are_written_sorted_and_tuple_keys_as_pairs() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Maps {
            #[serde(with = "sorted_pairs")]
            h: HashMap<u64, String>,
            #[serde(with = "pairs")]
            t: BTreeMap<(String, u8), u32>,
        }
        let h: HashMap<u64, String> = (0..50).map(|i| ((i * 7919) % 101, i.to_string())).collect();
        let t = BTreeMap::from([(("b".to_string(), 1), 2), (("a".to_string(), 9), 3)]);
        let m = Maps { h, t };
        let json = serde_json::to_string(&m).unwrap();
        assert!(json.contains("\"t\":[[[\"a\",9],3],[[\"b\",1],2]]"), "{json}");
        let keys: Vec<u64> = serde_json::from_str::<serde_json::Value>(&json).unwrap()["h"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[0].as_u64().unwrap())
            .collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted);
        assert_eq!(serde_json::from_str::<Maps>(&json).unwrap(), m);
        let twice = r#"{"h":[[1,"a"],[1,"b"]],"t":[]}"#;
        let e = serde_json::from_str::<Maps>(twice).unwrap_err().to_string();
        assert!(e.contains("given twice"), "{e}");
    }
}
