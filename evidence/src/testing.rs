//! TEST-ONLY software attesters: an AK that is a software P-256 key inside swtpm's ECC AK public
//! area, and a host that keeps a dedicated log and answers quote requests with evidence that
//! passes every check. Compiled only for tests and for the `test-util` feature (benchmarks, the
//! verifier's load harness); nothing here is evidence of a real TPM.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test-only fixtures: a malformed fixture should fail the test loudly"
)]

use std::collections::BTreeMap;

use p256::ecdsa::signature::hazmat::PrehashSigner as _;
use p256::ecdsa::SigningKey;
use serde_json::value::RawValue;

use crate::canonical::Canonical;
use crate::digest::Sha256Digest;
use crate::log::{kind, Annotations, BootBinding, EventLog, BOOT_BINDING_NAME};
use crate::tpm::{pcr_digest, Attest, ClockInfo, HashAlg, PcrSelection, TpmPublic};
use crate::verify::doc_key;
use crate::wire::{Document, Evidence, LogSlice, Quote, QuoteRequest};

/// The first 20 bytes of swtpm's ECC AK TPMT_PUBLIC (type, name alg, attributes, policy,
/// parameters); the point follows.
const ECC_AK_HEAD: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/testdata/swtpm/ecc_ak.tpmt"
));

/// A software TPM: a P-256 AK, a clock and one sha256 PCR.
#[derive(Debug, Clone)]
pub struct SoftTpm {
    key: SigningKey,
    /// The AK's public area (TPMT_PUBLIC bytes are [`SoftTpm::ak_public`]).
    pub ak: TpmPublic,
    ak_public: Vec<u8>,
    /// The clock the quotes report.
    pub clock: ClockInfo,
    /// The dedicated PCR.
    pub pcr: u8,
    /// Its value.
    pub value: Sha256Digest,
    /// Values of other PCRs a quote may select (absent: zero).
    pub others: BTreeMap<u8, Sha256Digest>,
}

impl SoftTpm {
    /// A TPM whose AK is derived from `seed`, quoting `pcr`.
    pub fn new(seed: u64, pcr: u8) -> Self {
        let scalar = Sha256Digest::of(&seed.to_be_bytes());
        let key = SigningKey::from_slice(scalar.as_bytes()).unwrap();
        let point = key.verifying_key().to_encoded_point(false);
        let mut ak_public = ECC_AK_HEAD[..20].to_vec();
        for c in [point.x().unwrap().as_slice(), point.y().unwrap().as_slice()] {
            ak_public.extend_from_slice(&u16::try_from(c.len()).unwrap().to_be_bytes());
            ak_public.extend_from_slice(c);
        }
        let clock = ClockInfo {
            clock: 5000,
            reset_count: 2,
            restart_count: 0,
            safe: true,
        };
        Self {
            key,
            ak: TpmPublic::parse(&ak_public).unwrap(),
            ak_public,
            clock,
            pcr,
            value: Sha256Digest::ZERO,
            others: BTreeMap::new(),
        }
    }

    /// The AK's TPMT_PUBLIC bytes, as an agent enrols them.
    pub fn ak_public(&self) -> &[u8] {
        &self.ak_public
    }

    /// A signed quote of the dedicated PCR over `nonce`.
    pub fn quote(&self, nonce: &[u8]) -> Quote {
        self.quote_of(nonce, &[self.pcr])
    }

    /// The value of `pcr` (SHA-256 bank).
    pub fn pcr_value(&self, pcr: u8) -> Sha256Digest {
        if pcr == self.pcr {
            self.value
        } else {
            self.others.get(&pcr).copied().unwrap_or(Sha256Digest::ZERO)
        }
    }

    /// A signed quote of `pcrs` (ascending) over `nonce`.
    pub fn quote_of(&self, nonce: &[u8], pcrs: &[u8]) -> Quote {
        let values: Vec<Sha256Digest> = pcrs.iter().map(|p| self.pcr_value(*p)).collect();
        let values: Vec<&[u8]> = values.iter().map(|v| v.as_bytes().as_slice()).collect();
        let attest = Attest {
            qualified_signer: vec![0, 4, 1, 2, 3, 4],
            extra_data: nonce.to_vec(),
            clock_info: self.clock,
            firmware_version: 7,
            pcr_select: PcrSelection::sha256(pcrs),
            pcr_digest: pcr_digest(HashAlg::Sha256, &values),
        }
        .marshal();
        let digest = HashAlg::Sha256.hash(&attest);
        let sig: p256::ecdsa::Signature = self.key.sign_prehash(&digest).unwrap();
        let (r, s) = sig.split_bytes();
        let mut signature = vec![0x00, 0x18, 0x00, 0x0b];
        for c in [r.as_slice(), s.as_slice()] {
            signature.extend_from_slice(&u16::try_from(c.len()).unwrap().to_be_bytes());
            signature.extend_from_slice(c);
        }
        Quote { attest, signature }
    }
}

/// An agent's view: a dedicated log that starts with the boot binding, the documents it
/// measured, and the software TPM it extends.
#[derive(Debug, Clone)]
pub struct SoftHost {
    /// The agent id.
    pub agent_id: String,
    /// The TPM.
    pub tpm: SoftTpm,
    /// The dedicated log.
    pub log: EventLog,
    /// Latest document per key: (entry seq, canonical bytes).
    pub docs: BTreeMap<String, (u64, Vec<u8>)>,
}

impl SoftHost {
    /// A host with its boot binding and one ruleset (`nftables/host`) measured.
    pub fn new(agent_id: &str, seed: u64, pcr: u8) -> Self {
        let mut h = Self {
            agent_id: agent_id.to_owned(),
            tpm: SoftTpm::new(seed, pcr),
            log: EventLog::new(),
            docs: BTreeMap::new(),
        };
        let binding = BootBinding {
            boot_id: "b".into(),
            tpm_reset_count: h.tpm.clock.reset_count,
            pcr,
            agent_id: agent_id.into(),
        };
        h.measure(
            kind::BOOT,
            BOOT_BINDING_NAME,
            &serde_json::to_value(binding).unwrap(),
        );
        h.measure(
            kind::NFTABLES,
            "host",
            &serde_json::json!({"tables": {"inet filter": {"policy": "drop"}}}),
        );
        h
    }

    /// Measures `doc` (canonicalised) as `kind/name`.
    pub fn measure(&mut self, kind: &str, name: &str, doc: &serde_json::Value) {
        let c = Canonical::from_value(doc).unwrap();
        self.measure_bytes(kind, name, c.as_bytes().to_vec());
    }

    /// Measures `bytes` verbatim as `kind/name`.
    pub fn measure_bytes(&mut self, kind: &str, name: &str, bytes: Vec<u8>) {
        let e = self
            .log
            .next_entry(kind, name, Sha256Digest::of(&bytes), Annotations::default())
            .unwrap();
        self.tpm.value = self.tpm.value.extend(&e.extend_value());
        self.docs.insert(doc_key(kind, name), (e.seq, bytes));
        self.log.push(e).unwrap();
    }

    /// Evidence answering `request`: its PCRs quoted, the log from its offset.
    pub fn evidence_for(&self, request: &QuoteRequest) -> Evidence {
        let mut evidence = self.evidence(&request.nonce, request.log_offset);
        evidence.quote = self.tpm.quote_of(&request.nonce, &request.pcrs);
        evidence.pcrs = request
            .pcrs
            .iter()
            .map(|p| (*p, self.tpm.pcr_value(*p)))
            .collect();
        evidence
    }

    /// Evidence for a request with `nonce` from log entry `offset`.
    pub fn evidence(&self, nonce: &[u8], offset: u64) -> Evidence {
        let documents = self
            .docs
            .iter()
            .map(|(key, (seq, bytes))| {
                let (kind, name) = key.split_once('/').unwrap();
                Document {
                    kind: kind.into(),
                    name: name.into(),
                    seq: *seq,
                    content: RawValue::from_string(String::from_utf8(bytes.clone()).unwrap())
                        .unwrap(),
                }
            })
            .collect();
        Evidence {
            agent_id: self.agent_id.clone(),
            quote: self.tpm.quote(nonce),
            pcrs: [(self.tpm.pcr, self.tpm.value)].into(),
            log: LogSlice {
                pcr: self.tpm.pcr,
                offset,
                entries: self.log.since(offset).to_vec(),
            },
            documents,
            events: None,
            ima: None,
            boot_log: None,
        }
    }
}
