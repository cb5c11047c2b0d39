//! Loading runtime policies: Keylime's JSON format version 1 (checked against its
//! `RUNTIME_POLICY_SCHEMA`), the older JSON allowlist (`{"meta", "hashes"}`) and the flat
//! allowlist (`digest  path` lines), as `keylime_convert_runtime_policy` converts them.

use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{
    DigestMap, Excludes, PolicyError, RuntimePolicy, GENERATOR_LEGACY_ALLOWLIST, GENERATOR_MAX,
    POLICY_VERSION,
};
use crate::hash::HashAlg;

/// Most digests one path (or name) may list.
const MAX_DIGESTS_PER_NAME: usize = 100_000;

#[derive(Deserialize)]
struct RawPolicy {
    meta: RawMeta,
    release: u64,
    digests: RawDigests,
    excludes: Vec<String>,
    keyrings: RawDigests,
    ima: RawIma,
    #[serde(rename = "ima-buf")]
    ima_buf: RawDigests,
    #[serde(rename = "verification-keys")]
    verification_keys: String,
}

#[derive(Deserialize)]
struct RawMeta {
    version: u64,
    generator: u64,
    #[serde(default)]
    timestamp: Option<String>,
}

#[derive(Deserialize)]
struct RawIma {
    ignored_keyrings: Vec<String>,
    log_hash_alg: String,
    dm_policy: serde_json::Value,
}

/// The older JSON allowlist: `hashes` instead of `digests`, every other field optional.
#[derive(Deserialize)]
struct RawLegacy {
    hashes: RawDigests,
    #[serde(default)]
    release: Option<u64>,
    #[serde(default)]
    excludes: Option<Vec<String>>,
    #[serde(default)]
    keyrings: Option<RawDigests>,
    #[serde(default)]
    ima: Option<RawLegacyIma>,
    #[serde(default, rename = "ima-buf")]
    ima_buf: Option<RawDigests>,
}

#[derive(Deserialize)]
struct RawLegacyIma {
    #[serde(default)]
    ignored_keyrings: Vec<String>,
    #[serde(default)]
    log_hash_alg: Option<String>,
}

/// What a JSON document looks like at the top, to pick a loader or explain a failure.
#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    payload: Option<IgnoredAny>,
    #[serde(default)]
    hashes: Option<IgnoredAny>,
    #[serde(default)]
    meta: Option<ProbeMeta>,
}

#[derive(Deserialize)]
struct ProbeMeta {
    #[serde(default)]
    version: Option<u64>,
}

/// A digests object (`{name: [hex, …]}`), decoded in document order.
struct RawDigests(DigestMap);

impl<'de> Deserialize<'de> for RawDigests {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(DigestsVisitor)
    }
}

struct DigestsVisitor;

impl<'de> Visitor<'de> for DigestsVisitor {
    type Value = RawDigests;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object mapping names to lists of lowercase hex digests")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawDigests, A::Error> {
        let mut out = DigestMap::new();
        while let Some(name) = map.next_key::<String>()? {
            let list = map.next_value_seed(ListSeed(&name))?;
            out.set(name, list);
        }
        out.prepare();
        Ok(RawDigests(out))
    }
}

struct ListSeed<'a>(&'a str);

impl<'de> de::DeserializeSeed<'de> for ListSeed<'_> {
    type Value = Vec<Vec<u8>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_> {
    type Value = Vec<Vec<u8>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a non-empty list of hex digests for {:?}", self.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(s) = seq.next_element::<String>()? {
            let bytes =
                policy_digest(&s).map_err(|r| de::Error::custom(format!("{:?}: {r}", self.0)))?;
            if out.len() >= MAX_DIGESTS_PER_NAME {
                return Err(de::Error::custom(format!(
                    "{:?}: more than {MAX_DIGESTS_PER_NAME} digests",
                    self.0
                )));
            }
            out.push(bytes);
        }
        if out.is_empty() {
            return Err(de::Error::custom(format!(
                "{:?}: empty digest list",
                self.0
            )));
        }
        Ok(out)
    }
}

/// A policy digest as Keylime's schema wants it (`^[0-9a-f]{40,128}$`), further limited to the
/// lengths of the hash algorithms IMA uses (20, 32, 48, 64 bytes).
fn policy_digest(s: &str) -> Result<Vec<u8>, String> {
    if !s
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(format!("digest {:?} is not lowercase hex", short(s)));
    }
    decode_digest(s)
}

fn decode_digest(s: &str) -> Result<Vec<u8>, String> {
    if !matches!(s.len(), 40 | 64 | 96 | 128) {
        return Err(format!(
            "digest {:?} has {} hex digits, not 40, 64, 96 or 128",
            short(s),
            s.len()
        ));
    }
    hex::decode(s).map_err(|e| format!("digest {:?}: {e}", short(s)))
}

fn short(s: &str) -> String {
    s.chars().take(140).collect()
}

fn json_err(e: serde_json::Error) -> PolicyError {
    PolicyError::Json(e.to_string())
}

/// `ima.log_hash_alg`: Keylime's schema allows sha1, sha256, sha384, sha512.
fn log_hash_alg(name: &str) -> Result<HashAlg, PolicyError> {
    match name {
        "sha1" => Ok(HashAlg::Sha1),
        "sha256" => Ok(HashAlg::Sha256),
        "sha384" => Ok(HashAlg::Sha384),
        "sha512" => Ok(HashAlg::Sha512),
        other => Err(PolicyError::Json(format!(
            "ima.log_hash_alg {:?} is not sha1, sha256, sha384 or sha512",
            short(other)
        ))),
    }
}

impl RuntimePolicy {
    /// Reads Keylime's runtime-policy JSON, format version 1, checked as Keylime's
    /// `RUNTIME_POLICY_SCHEMA` checks it (plus: digests must have a real hash length, excludes
    /// must compile, `dm_policy` must be null as the schema says).
    pub fn from_json(bytes: &[u8]) -> Result<Self, PolicyError> {
        let raw: RawPolicy = match serde_json::from_slice(bytes) {
            Ok(raw) => raw,
            Err(e) => return Err(explain(bytes).unwrap_or_else(|| json_err(e))),
        };
        if raw.meta.version != POLICY_VERSION {
            return Err(PolicyError::UnsupportedVersion(raw.meta.version));
        }
        if raw.meta.generator > GENERATOR_MAX {
            return Err(PolicyError::Json(format!(
                "meta.generator {} is above {GENERATOR_MAX}",
                raw.meta.generator
            )));
        }
        if !raw.ima.dm_policy.is_null() {
            return Err(PolicyError::Json(
                "ima.dm_policy must be null (device-mapper policies are not supported)".into(),
            ));
        }
        Ok(Self {
            version: raw.meta.version,
            generator: raw.meta.generator,
            timestamp: raw.meta.timestamp,
            release: raw.release,
            digests: raw.digests.0,
            excludes: Excludes::new(raw.excludes)?,
            keyrings: raw.keyrings.0,
            ignored_keyrings: raw.ima.ignored_keyrings,
            log_hash_alg: log_hash_alg(&raw.ima.log_hash_alg)?,
            ima_buf: raw.ima_buf.0,
            verification_keys: raw.verification_keys,
        })
    }

    /// Reads the older JSON allowlist (`{"meta": …, "hashes": {path: [hex…]}, …}`) as
    /// `keylime_convert_runtime_policy` converts it: `hashes` become `digests`; `release`,
    /// `excludes`, `keyrings`, `ima`, `ima-buf` carry over when present; generator 3.
    pub fn from_legacy_json_allowlist(bytes: &[u8]) -> Result<Self, PolicyError> {
        let raw: RawLegacy = serde_json::from_slice(bytes).map_err(json_err)?;
        let ima = raw.ima.unwrap_or(RawLegacyIma {
            ignored_keyrings: Vec::new(),
            log_hash_alg: None,
        });
        Ok(Self {
            generator: GENERATOR_LEGACY_ALLOWLIST,
            release: raw.release.unwrap_or(0),
            digests: raw.hashes.0,
            excludes: Excludes::new(raw.excludes.unwrap_or_default())?,
            keyrings: raw.keyrings.map(|k| k.0).unwrap_or_default(),
            ignored_keyrings: ima.ignored_keyrings,
            log_hash_alg: log_hash_alg(ima.log_hash_alg.as_deref().unwrap_or("sha1"))?,
            ima_buf: raw.ima_buf.map(|k| k.0).unwrap_or_default(),
            ..Self::default()
        })
    }

    /// Reads a flat allowlist: `digest  path` lines (sha256sum output), as Keylime converts it.
    /// Lines are trimmed; empty and `#` lines are skipped; the digest may carry an `alg:` prefix
    /// and either hex case; spaces in the path become `_` (as IMA logs them); a path
    /// `%keyring:NAME` goes to `keyrings` under NAME.
    pub fn from_flat_allowlist(bytes: &[u8]) -> Result<Self, PolicyError> {
        let text = utf8_text(bytes)?;
        let mut policy = Self {
            generator: GENERATOR_LEGACY_ALLOWLIST,
            ..Self::default()
        };
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: String| PolicyError::Line {
                line: n + 1,
                reason,
            };
            let Some((digest, path)) = line.split_once(char::is_whitespace) else {
                return Err(bad("expected a digest and a path".into()));
            };
            let path = path.trim_start();
            let bytes = flat_digest(digest).map_err(bad)?;
            match path.strip_prefix("%keyring:") {
                Some(keyring) => policy.keyrings.insert(keyring, bytes),
                None => policy.digests.insert(&path.replace(' ', "_"), bytes),
            }
        }
        policy.digests.prepare();
        policy.keyrings.prepare();
        Ok(policy)
    }

    /// Reads any of the three forms: a JSON document with `hashes` is the older JSON allowlist,
    /// another JSON document is a runtime policy, anything else a flat allowlist.
    pub fn load(bytes: &[u8]) -> Result<Self, PolicyError> {
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            return Self::from_flat_allowlist(bytes);
        }
        let probe: Probe = serde_json::from_slice(bytes).map_err(json_err)?;
        if probe.hashes.is_some() {
            Self::from_legacy_json_allowlist(bytes)
        } else {
            Self::from_json(bytes)
        }
    }
}

/// A flat-allowlist digest: `[alg:]hex`, either case; with `alg:` the length must fit it.
fn flat_digest(s: &str) -> Result<Vec<u8>, String> {
    let (alg, hex) = match s.split_once(':') {
        Some((alg, hex)) => (
            Some(HashAlg::from_name(alg).map_err(|e| e.to_string())?),
            hex,
        ),
        None => (None, s),
    };
    let bytes = decode_digest(&hex.to_ascii_lowercase())?;
    match alg {
        Some(alg) if alg.len() != bytes.len() => {
            Err(format!("{alg} digest with {} bytes", bytes.len()))
        }
        _ => Ok(bytes),
    }
}

/// After a failed parse: a clearer reason when the document is a DSSE envelope or another
/// format version.
fn explain(bytes: &[u8]) -> Option<PolicyError> {
    let probe: Probe = serde_json::from_slice(bytes).ok()?;
    if probe.payload.is_some() {
        return Some(PolicyError::Signed);
    }
    match probe.meta.and_then(|m| m.version) {
        Some(v) if v != POLICY_VERSION => Some(PolicyError::UnsupportedVersion(v)),
        _ => None,
    }
}

/// `bytes` as text, or the error naming the line (1-based) of the first byte that is not UTF-8.
pub(super) fn utf8_text(bytes: &[u8]) -> Result<&str, PolicyError> {
    std::str::from_utf8(bytes).map_err(|e| PolicyError::Line {
        line: bytes
            .get(..e.valid_up_to())
            .map_or(0, |b| b.iter().filter(|c| **c == b'\n').count())
            + 1,
        reason: "not UTF-8".into(),
    })
}
