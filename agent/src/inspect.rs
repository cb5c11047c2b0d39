//! `palisade-agent inspect ...`: show an operator what the agent would measure, without a TPM, a
//! configuration file or a running agent.
//!
//! Each inspectable object has a format enum and one function that writes it: the ruleset
//! ([`firewall`], [`FirewallFormat`]), the network configuration ([`network`],
//! [`NetworkFormat`]) and the runtime inventory ([`runtime`], [`RuntimeFormat`]). A new object
//! is one enum and one function here plus one sub-command in `main.rs`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use palisade_collectors::network::{self, NetworkError};
use palisade_collectors::nftables::{Measurement, NftError, NftReader};
use palisade_collectors::NetNs;
use palisade_evidence::{Canonical, CanonicalError, Sha256Digest};

/// Failure to inspect.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The ruleset could not be read.
    #[error(transparent)]
    Nft(#[from] NftError),
    /// The network configuration could not be read.
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// The runtime inventory could not be read.
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeMeasureError),
    /// A document could not be put in canonical form.
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    /// The canonical document did not re-parse (cannot happen for a document we made).
    #[error("canonical document: {0}")]
    Json(#[from] serde_json::Error),
    /// Writing the output failed.
    #[error("writing the output: {0}")]
    Write(#[from] std::io::Error),
}

/// How `inspect firewall` prints the ruleset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FirewallFormat {
    /// The canonical document, pretty-printed for reading.
    #[default]
    Json,
    /// The exact canonical bytes whose SHA-256 the agent logs and extends (no trailing newline,
    /// so `| sha256sum` reproduces the digest).
    Canonical,
    /// The SHA-256 of the canonical bytes, as logged, then one line per table
    /// (`sha256:<hex>  table <family> <name>`).
    Digest,
    /// What the ruleset lets through (`palisade_firewall::exposure`, the facts policies read),
    /// as pretty JSON.
    Exposure,
}

/// How `inspect network` prints the network configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum NetworkFormat {
    /// The canonical `palisade.network/1` document, pretty-printed for reading.
    #[default]
    Json,
    /// The exact canonical bytes whose SHA-256 the agent logs and extends.
    Canonical,
    /// The SHA-256 of the canonical bytes, as logged, then one line per top-level section
    /// (`sha256:<hex>  section <name>`, each the digest of that section's canonical JSON).
    Digest,
}

/// How `inspect runtime` prints the inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RuntimeFormat {
    /// The canonical documents, pretty-printed, in one object keyed by kind.
    #[default]
    Json,
    /// The exact canonical bytes of each document, one per line (with `--object`, exactly the
    /// bytes the agent logs, without a newline).
    Canonical,
    /// The SHA-256 of each document as logged, then of each of its sections.
    Digest,
}

/// One part of the runtime inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RuntimeObject {
    /// BPF programs and where they are attached.
    Bpf,
    /// Listening, raw and packet sockets.
    Sockets,
    /// Kernel modules and security sysctls.
    Kernel,
}

impl From<RuntimeObject> for crate::runtime::Object {
    fn from(o: RuntimeObject) -> Self {
        match o {
            RuntimeObject::Bpf => Self::Bpf,
            RuntimeObject::Sockets => Self::Sockets,
            RuntimeObject::Kernel => Self::Kernel,
        }
    }
}

/// Reads the runtime inventory of `netns` (every part, or `object`) and writes it in `format`.
/// palisade's own programs are not marked (this process did not load them).
pub fn runtime(
    netns: &NetNs,
    object: Option<RuntimeObject>,
    format: RuntimeFormat,
    out: &mut impl Write,
) -> Result<(), InspectError> {
    use crate::runtime::{read, Object};
    let objects: Vec<Object> = match object {
        Some(o) => vec![o.into()],
        None => Object::ALL.to_vec(),
    };
    let own = crate::runtime::OwnPrograms::default();
    let mut docs = Vec::new();
    for o in objects {
        docs.push((o.kind(), read(o, netns, &own)?));
    }
    match format {
        RuntimeFormat::Json => {
            let mut all = serde_json::Map::new();
            for (kind, doc) in &docs {
                all.insert((*kind).to_owned(), serde_json::from_str(doc.as_str())?);
            }
            serde_json::to_writer_pretty(&mut *out, &all)?;
            writeln!(out)?;
        }
        RuntimeFormat::Canonical => {
            let single = docs.len() == 1;
            for (_, doc) in &docs {
                out.write_all(doc.as_bytes())?;
                if !single {
                    writeln!(out)?;
                }
            }
        }
        RuntimeFormat::Digest => {
            for (kind, doc) in &docs {
                writeln!(out, "sha256:{}  {kind}", doc.digest())?;
                for (section, digest) in section_digests(doc)? {
                    writeln!(out, "sha256:{digest}  {kind} section {section}")?;
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// The namespace a `--netns` argument names: none for the caller's own, a path if it contains a
/// `/`, else a name from `ip netns` (the same rule as the configuration's `netns`).
pub fn netns_arg(arg: Option<&str>) -> NetNs {
    match arg {
        None | Some("") => NetNs::Current,
        Some(s) if s.contains('/') => NetNs::Path(PathBuf::from(s)),
        Some(name) => NetNs::named(name),
    }
}

/// Reads the ruleset of `netns` and writes it to `out` in `format`.
pub fn firewall(
    netns: &NetNs,
    format: FirewallFormat,
    out: &mut impl Write,
) -> Result<(), InspectError> {
    let measurement = NftReader::default().measure_all(netns)?;
    write_firewall(&measurement, format, out)
}

/// Writes a ruleset measurement in `format`.
pub fn write_firewall(
    measurement: &Measurement,
    format: FirewallFormat,
    out: &mut impl Write,
) -> Result<(), InspectError> {
    let doc = &measurement.canonical;
    match format {
        FirewallFormat::Json => write_pretty(doc, out)?,
        FirewallFormat::Canonical => out.write_all(doc.as_bytes())?,
        FirewallFormat::Digest => {
            writeln!(out, "sha256:{}  ruleset", doc.digest())?;
            for (table, digest) in &measurement.table_digests {
                writeln!(out, "sha256:{digest}  table {table}")?;
            }
        }
        FirewallFormat::Exposure => {
            let exposure = palisade_firewall::exposure::exposure(&measurement.ruleset);
            serde_json::to_writer_pretty(&mut *out, &exposure)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Reads the network configuration of `netns` and writes it to `out` in `format`.
pub fn network(
    netns: &NetNs,
    format: NetworkFormat,
    out: &mut impl Write,
) -> Result<(), InspectError> {
    let doc = network::read(netns)?.canonical()?;
    write_network(&doc, format, out)
}

/// Writes a canonical network document in `format`.
pub fn write_network(
    doc: &Canonical,
    format: NetworkFormat,
    out: &mut impl Write,
) -> Result<(), InspectError> {
    match format {
        NetworkFormat::Json => write_pretty(doc, out)?,
        NetworkFormat::Canonical => out.write_all(doc.as_bytes())?,
        NetworkFormat::Digest => {
            writeln!(out, "sha256:{}  network", doc.digest())?;
            for (section, digest) in section_digests(doc)? {
                writeln!(out, "sha256:{digest}  section {section}")?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// The digest of each top-level member of a canonical document that is an object or an array.
fn section_digests(doc: &Canonical) -> Result<BTreeMap<String, Sha256Digest>, InspectError> {
    let value: serde_json::Value = serde_json::from_str(doc.as_str())?;
    let mut digests = BTreeMap::new();
    if let serde_json::Value::Object(members) = value {
        for (name, member) in members {
            if member.is_object() || member.is_array() {
                digests.insert(name, Canonical::from_value(&member)?.digest());
            }
        }
    }
    Ok(digests)
}

fn write_pretty(doc: &Canonical, out: &mut impl Write) -> Result<(), InspectError> {
    let value: serde_json::Value = serde_json::from_str(doc.as_str())?;
    serde_json::to_writer_pretty(&mut *out, &value)?;
    writeln!(out)?;
    Ok(())
}

#[cfg(test)]
mod tests;
