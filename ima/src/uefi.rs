//! TCG2 crypto-agile UEFI event log (`binary_bios_measurements`): framing, events, errors.
//!
//! The first event is a SHA-1 format `TCG_PCR_EVENT` carrying the `Spec ID Event03` header that
//! declares the digest algorithms and sizes; every later event is a `TCG_PCR_EVENT2`. Only framing
//! errors fail [`EventLog::parse`]; event data that does not decode keeps its raw bytes and a note
//! ([`EventData::Invalid`]). Replay is in [`EventLog::replay`], reference state in [`reference`].

mod data;
mod devpath;
mod read;
pub mod reference;
mod replay;
mod siglist;
mod types;
mod variable;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod synthetic_tests;
#[cfg(test)]
mod tests;

use serde::Serialize;

pub use data::{
    EventData, GptEvent, GptPartition, HandoffTable, HandoffTables, ImageLoad, SeparatorKind,
};
pub use devpath::device_path_to_text;
pub use read::{Guid, TextEncoding};
pub use reference::BootReference;
pub use replay::Pcrs;
pub use siglist::{SignatureEntry, SignatureList, SignatureType};
pub use types::{Bank, EventType};
pub use variable::{LoadOption, Variable, VariableValue};

use read::{Reader, Short};

/// Why a log could not be framed. Offsets are bytes from the start of the log; event numbers
/// count from 0 (the Spec ID event), as `tpm2_eventlog` numbers them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UefiError {
    #[error("event log is empty")]
    Empty,
    #[error("not a crypto-agile TCG event log: first event (offset 0) {reason}")]
    NotCryptoAgile { reason: String },
    #[error("event {event} at offset {offset} is truncated: {detail}")]
    Truncated {
        event: usize,
        offset: usize,
        detail: String,
    },
    #[error("event {event} at offset {offset} is invalid: {reason}")]
    Invalid {
        event: usize,
        offset: usize,
        reason: String,
    },
}

/// One algorithm the Spec ID event declares, with the digest size events use for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlgorithmSize {
    pub algorithm: Bank,
    pub digest_size: u16,
}

/// The `TCG_EfiSpecIdEvent` header (`Spec ID Event03`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpecId {
    pub platform_class: u32,
    pub spec_version_major: u8,
    pub spec_version_minor: u8,
    pub spec_errata: u8,
    /// 1: UINTN is 32 bits, 2: 64 bits.
    pub uintn_size: u8,
    pub algorithms: Vec<AlgorithmSize>,
    #[serde(with = "hex::serde")]
    pub vendor_info: Vec<u8>,
}

impl SpecId {
    /// Bytes in a UINTN field of event data structures.
    pub fn uintn_bytes(&self) -> usize {
        if self.uintn_size == 1 {
            4
        } else {
            8
        }
    }

    fn digest_size(&self, bank: Bank) -> Option<u16> {
        self.algorithms
            .iter()
            .find(|a| a.algorithm == bank)
            .map(|a| a.digest_size)
    }
}

/// One digest of an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Digest {
    pub algorithm: Bank,
    #[serde(with = "hex::serde")]
    pub digest: Vec<u8>,
}

/// One event of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Position in the log; 0 is the Spec ID event.
    pub number: usize,
    /// Byte offset of the event in the log.
    pub offset: usize,
    pub pcr: u32,
    #[serde(rename = "type")]
    pub event_type: EventType,
    #[serde(rename = "type_id")]
    pub event_type_id: u32,
    pub digests: Vec<Digest>,
    /// The raw event data, as measured (for most types the digests are over these bytes).
    #[serde(with = "hex::serde")]
    pub data: Vec<u8>,
    /// What the event data says, as far as it decodes.
    pub decoded: EventData,
}

impl Event {
    /// This event's digest in `bank`, if it has one.
    pub fn digest(&self, bank: Bank) -> Option<&[u8]> {
        self.digests
            .iter()
            .find(|d| d.algorithm == bank)
            .map(|d| d.digest.as_slice())
    }
}

/// A parsed crypto-agile event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventLog {
    spec_id: SpecId,
    events: Vec<Event>,
}

impl EventLog {
    /// Parses a whole log. Fails only on framing errors (lengths, counts, undeclared algorithms).
    pub fn parse(bytes: &[u8]) -> Result<Self, UefiError> {
        if bytes.is_empty() {
            return Err(UefiError::Empty);
        }
        let mut r = Reader::new(bytes);
        let (spec_id, first) = parse_spec_id_event(&mut r)?;
        let mut events = vec![first];
        while !r.is_empty() {
            let number = events.len();
            let offset = r.pos();
            let event = parse_event2(&mut r, &spec_id, number).map_err(|e| e.at(number, offset))?;
            events.push(event);
        }
        Ok(Self { spec_id, events })
    }

    /// The header the first event carries.
    pub fn spec_id(&self) -> &SpecId {
        &self.spec_id
    }

    /// Every event, the Spec ID event first.
    pub fn events(&self) -> &[Event] {
        &self.events
    }
}

/// A framing failure inside one event, before the event number is attached.
enum Fail {
    Short(Short),
    Invalid(String),
}

impl From<Short> for Fail {
    fn from(short: Short) -> Self {
        Self::Short(short)
    }
}

impl Fail {
    fn at(self, event: usize, offset: usize) -> UefiError {
        match self {
            Self::Short(s) => UefiError::Truncated {
                event,
                offset,
                detail: s.to_string(),
            },
            Self::Invalid(reason) => UefiError::Invalid {
                event,
                offset,
                reason,
            },
        }
    }
}

const SPEC_ID_SIGNATURE: &[u8; 16] = b"Spec ID Event03\0";

fn parse_spec_id_event(r: &mut Reader<'_>) -> Result<(SpecId, Event), UefiError> {
    let not = |reason: String| UefiError::NotCryptoAgile { reason };
    let short = |s: Short| not(s.to_string());
    let pcr = r.u32("PCRIndex").map_err(short)?;
    let event_type = r.u32("EventType").map_err(short)?;
    let digest: [u8; 20] = r.array("SHA-1 digest").map_err(short)?;
    let size = r.u32("EventSize").map_err(short)?;
    if event_type != EventType::EV_NO_ACTION.0 {
        return Err(not(format!(
            "has event type {}, not EV_NO_ACTION with a Spec ID Event03 header",
            EventType(event_type)
        )));
    }
    if pcr != 0 || digest != [0; 20] {
        return Err(not(
            "is EV_NO_ACTION but not on PCR 0 with a zero digest".into()
        ));
    }
    let data = r
        .take(u64::from(size), "Spec ID event data")
        .map_err(short)?;
    let spec_id = parse_spec_id(data).map_err(|e| match e {
        Fail::Short(s) => not(format!("Spec ID event data is truncated: {s}")),
        Fail::Invalid(reason) => not(reason),
    })?;
    let event = Event {
        number: 0,
        offset: 0,
        pcr,
        event_type: EventType(event_type),
        event_type_id: event_type,
        digests: vec![Digest {
            algorithm: Bank::Known(crate::HashAlg::Sha1),
            digest: digest.into(),
        }],
        data: data.to_vec(),
        decoded: EventData::SpecId(spec_id.clone()),
    };
    Ok((spec_id, event))
}

fn parse_spec_id(data: &[u8]) -> Result<SpecId, Fail> {
    let mut r = Reader::new(data);
    if r.array::<16>("signature")? != *SPEC_ID_SIGNATURE {
        return Err(Fail::Invalid(
            "does not carry the signature \"Spec ID Event03\"".into(),
        ));
    }
    let platform_class = r.u32("platformClass")?;
    let spec_version_minor = r.u8("specVersionMinor")?;
    let spec_version_major = r.u8("specVersionMajor")?;
    let spec_errata = r.u8("specErrata")?;
    let uintn_size = r.u8("uintnSize")?;
    let count = r.u32("numberOfAlgorithms")?;
    if count == 0 {
        return Err(Fail::Invalid("Spec ID event declares no algorithms".into()));
    }
    // Each entry is 4 bytes: check the whole list fits before reading any of it.
    r.clone().take(u64::from(count) * 4, "digestSizes")?;
    let mut algorithms: Vec<AlgorithmSize> = Vec::new();
    for _ in 0..count {
        let algorithm = Bank::from_tpm_id(r.u16("algorithmId")?);
        let digest_size = r.u16("digestSize")?;
        if let Bank::Known(alg) = algorithm {
            if usize::from(digest_size) != alg.len() {
                return Err(Fail::Invalid(format!(
                    "Spec ID event declares {alg} with digest size {digest_size}, not {}",
                    alg.len()
                )));
            }
        }
        if algorithms.iter().any(|a| a.algorithm == algorithm) {
            return Err(Fail::Invalid(format!(
                "Spec ID event declares {algorithm} twice"
            )));
        }
        algorithms.push(AlgorithmSize {
            algorithm,
            digest_size,
        });
    }
    let vendor_size = r.u8("vendorInfoSize")?;
    let vendor_info = r.take(u64::from(vendor_size), "vendorInfo")?.to_vec();
    if !r.is_empty() {
        return Err(Fail::Invalid(format!(
            "{} bytes after the Spec ID event's vendorInfo",
            r.remaining()
        )));
    }
    Ok(SpecId {
        platform_class,
        spec_version_major,
        spec_version_minor,
        spec_errata,
        uintn_size,
        algorithms,
        vendor_info,
    })
}

fn parse_event2(r: &mut Reader<'_>, spec: &SpecId, number: usize) -> Result<Event, Fail> {
    let offset = r.pos();
    let pcr = r.u32("PCRIndex")?;
    let event_type = r.u32("EventType")?;
    let count = r.u32("DigestCount")?;
    if usize::try_from(count).map_or(true, |c| c > spec.algorithms.len()) {
        return Err(Fail::Invalid(format!(
            "DigestCount {count} exceeds the {} algorithms the Spec ID event declares",
            spec.algorithms.len()
        )));
    }
    let mut digests: Vec<Digest> = Vec::new();
    for _ in 0..count {
        let algorithm = Bank::from_tpm_id(r.u16("AlgorithmId")?);
        let Some(size) = spec.digest_size(algorithm) else {
            return Err(Fail::Invalid(format!(
                "digest algorithm {algorithm} is not declared in the Spec ID event"
            )));
        };
        if digests.iter().any(|d| d.algorithm == algorithm) {
            return Err(Fail::Invalid(format!("two {algorithm} digests")));
        }
        let digest = r.take(u64::from(size), "digest")?.to_vec();
        digests.push(Digest { algorithm, digest });
    }
    let size = r.u32("EventSize")?;
    let data = r.take(u64::from(size), "event data")?;
    let event_type = EventType(event_type);
    Ok(Event {
        number,
        offset,
        pcr,
        event_type,
        event_type_id: event_type.0,
        digests,
        data: data.to_vec(),
        decoded: data::decode(event_type, data, spec),
    })
}
