//! Reading `nft -j list ruleset` output into the model, in one streaming pass: the document is
//! never held as a `serde_json::Value` tree. Statements and expressions read the single key of
//! their JSON object and dispatch on it ([`expr`], [`stmt`]); the body of a known key is parsed
//! strictly into its typed form, and anything that does not fit (an unknown key, an unexpected
//! field) is kept verbatim as JSON instead — never dropped, never a parse error.

pub(crate) mod expr;
mod items;
pub(crate) mod stmt;

use std::cell::Cell;

use serde::de::{self, Deserializer};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::model::{LimitSpec, QuotaSpec, Ruleset};

/// Output that is not what `nft -j list ruleset` prints.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not JSON, or not `{"nftables": [...]}`.
    #[error("not nft -j output: {source}")]
    Invalid {
        /// What the JSON reader reported.
        #[source]
        source: serde_json::Error,
    },
}

/// Parses `nft -j list ruleset` output into a normalised [`Ruleset`].
///
/// Items, statements and expressions the model does not know are kept verbatim and reported by
/// [`Ruleset::flags`]; so are rules of chains (and items of tables) that the listing does not
/// declare. Only output that is not nft JSON at all is an error.
pub fn from_nft_json(bytes: &[u8]) -> Result<Ruleset, ParseError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut ruleset = items::read_document(&mut de)
        .and_then(|r| de.end().map(|()| r))
        .map_err(|source| ParseError::Invalid { source })?;
    crate::normalize::ruleset(&mut ruleset);
    Ok(ruleset)
}

/// Deepest nesting of expressions and statements accepted; nft output stays far below it.
const MAX_DEPTH: u32 = 48;

thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Counts nesting while an expression or statement is read (bodies are re-read from their raw
/// text by fresh `serde_json` readers, so `serde_json`'s own recursion limit does not apply).
pub(crate) struct DepthGuard(());

impl DepthGuard {
    pub(crate) fn enter<E: de::Error>() -> Result<Self, E> {
        DEPTH.with(|d| {
            let depth = d.get();
            if depth >= MAX_DEPTH {
                Err(E::custom("expressions nested too deeply"))
            } else {
                d.set(depth + 1);
                Ok(Self(()))
            }
        })
    }
}

impl Drop for DepthGuard {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Parses a body captured as raw JSON text into its typed form.
pub(crate) fn from_raw<'de, T: Deserialize<'de>>(raw: &'de RawValue) -> serde_json::Result<T> {
    serde_json::from_str(raw.get())
}

/// `{key: body}` as a verbatim value.
pub(crate) fn verbatim(key: &str, raw: &RawValue) -> serde_json::Result<Value> {
    let body: Value = serde_json::from_str(raw.get())?;
    let mut map = serde_json::Map::new();
    map.insert(key.to_owned(), body);
    Ok(Value::Object(map))
}

/// A flag list that nft prints as one string or an array: sorted and without duplicates.
pub(crate) fn string_or_seq<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let mut list = match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    };
    list.sort();
    list.dedup();
    Ok(list)
}

/// Byte units as nft prints them: the largest of bytes, kbytes, mbytes that divides the value.
const BYTE_UNITS: [&str; 3] = ["bytes", "kbytes", "mbytes"];

/// `(value, unit)` in nft's own form (`1024 kbytes` → `1 mbytes`); `None` for an unknown unit.
pub(crate) fn byte_quantity(value: u64, unit: Option<&str>) -> Option<(u64, String)> {
    let index = BYTE_UNITS
        .iter()
        .position(|u| Some(*u) == unit.or(Some("bytes")))?;
    let mut bytes = value;
    for _ in 0..index {
        bytes = bytes.checked_mul(1024)?;
    }
    let mut i = 0;
    while bytes != 0 && bytes.is_multiple_of(1024) && i + 1 < BYTE_UNITS.len() {
        bytes /= 1024;
        i += 1;
    }
    Some((bytes, BYTE_UNITS.get(i)?.to_string()))
}

/// A limit as nft lists it (statement or object).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitBody {
    #[serde(default)]
    burst: u64,
    #[serde(default)]
    burst_unit: Option<String>,
    #[serde(default)]
    inv: bool,
    #[serde(default)]
    per: Option<String>,
    rate: u64,
    #[serde(default)]
    rate_unit: Option<String>,
}

impl LimitBody {
    /// The normal form: packet limits have no units; byte quantities in nft's unit; a zero
    /// burst is no burst; `per` defaults to `second`.
    pub(crate) fn into_spec(self) -> Option<LimitSpec> {
        let per = self.per.unwrap_or_else(|| "second".to_owned());
        match self.rate_unit.as_deref() {
            None | Some("packets") => Some(LimitSpec {
                burst: self.burst,
                burst_unit: None,
                inv: self.inv,
                per,
                rate: self.rate,
                rate_unit: None,
            }),
            Some(unit) => {
                let (rate, rate_unit) = byte_quantity(self.rate, Some(unit))?;
                let (burst, burst_unit) = match self.burst {
                    0 => (0, None),
                    b => {
                        let (b, u) = byte_quantity(b, self.burst_unit.as_deref())?;
                        (b, Some(u))
                    }
                };
                Some(LimitSpec {
                    burst,
                    burst_unit,
                    inv: self.inv,
                    per,
                    rate,
                    rate_unit: Some(rate_unit),
                })
            }
        }
    }
}

/// A named limit object's configuration.
pub(crate) fn limit_object(v: Value) -> Option<LimitSpec> {
    serde_json::from_value::<LimitBody>(v).ok()?.into_spec()
}

/// An anonymous quota as nft lists it; `used` is runtime state.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuotaBody {
    #[serde(default)]
    inv: bool,
    #[serde(default, rename = "used")]
    _used: Option<u64>,
    #[serde(default, rename = "used_unit")]
    _used_unit: Option<String>,
    val: u64,
    #[serde(default)]
    val_unit: Option<String>,
}

impl QuotaBody {
    pub(crate) fn into_spec(self) -> Option<QuotaSpec> {
        let (val, val_unit) = byte_quantity(self.val, self.val_unit.as_deref())?;
        Some(QuotaSpec {
            inv: self.inv,
            val,
            val_unit,
        })
    }
}

#[cfg(test)]
mod tests;
