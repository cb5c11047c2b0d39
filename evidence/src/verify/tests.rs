//! Tests of the pure attestation checks with a software-signed quote (the AK public area is the
//! swtpm ECC AK's with a software key's point): every check passes on honest evidence and each
//! failure is named.

use super::*;
use crate::log::{kind, Annotations, EventLog};
use crate::tpm::vectors::ECC_AK_TPMT;
use crate::wire::{Document, LogSlice, Quote};
use p256::ecdsa::signature::hazmat::PrehashSigner as _;
use p256::ecdsa::SigningKey;
use serde_json::{json, value::RawValue};

const NONCE: &[u8] = b"0123456789abcdef0123";

struct SoftTpm {
    key: SigningKey,
    ak: TpmPublic,
    clock: ClockInfo,
    pcr15: Sha256Digest,
}

impl SoftTpm {
    fn new(seed: u8) -> Self {
        let key = SigningKey::from_slice(&[seed; 32]).unwrap();
        let point = key.verifying_key().to_encoded_point(false);
        let mut b = ECC_AK_TPMT[..20].to_vec();
        for c in [point.x().unwrap().as_slice(), point.y().unwrap().as_slice()] {
            b.extend_from_slice(&u16::try_from(c.len()).unwrap().to_be_bytes());
            b.extend_from_slice(c);
        }
        let clock = ClockInfo {
            clock: 5000,
            reset_count: 2,
            restart_count: 0,
            safe: true,
        };
        Self {
            key,
            ak: TpmPublic::parse(&b).unwrap(),
            clock,
            pcr15: Sha256Digest::ZERO,
        }
    }

    fn quote(&self, nonce: &[u8]) -> Quote {
        let attest = crate::tpm::Attest {
            qualified_signer: vec![0, 4, 1, 2, 3, 4],
            extra_data: nonce.to_vec(),
            clock_info: self.clock,
            firmware_version: 7,
            pcr_select: PcrSelection::sha256(&[15]),
            pcr_digest: pcr_digest(HashAlg::Sha256, &[self.pcr15.as_bytes()]),
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

/// An agent's view: a log with a boot binding and one ruleset, and the documents.
struct Host {
    tpm: SoftTpm,
    log: EventLog,
    docs: BTreeMap<String, (u64, Vec<u8>)>,
}

impl Host {
    fn new() -> Self {
        let mut h = Self {
            tpm: SoftTpm::new(7),
            log: EventLog::new(),
            docs: BTreeMap::new(),
        };
        let binding = BootBinding {
            boot_id: "b".into(),
            tpm_reset_count: 2,
            pcr: 15,
            agent_id: "a".into(),
        };
        h.measure(
            kind::BOOT,
            BOOT_BINDING_NAME,
            serde_json::to_value(binding).unwrap(),
        );
        h.measure(
            kind::NFTABLES,
            "host",
            json!({"tables": {"inet filter": {"policy": "drop"}}}),
        );
        h
    }

    fn measure(&mut self, kind: &str, name: &str, doc: serde_json::Value) {
        let c = Canonical::from_value(&doc).unwrap();
        self.measure_bytes(kind, name, c.as_bytes().to_vec());
    }

    fn measure_bytes(&mut self, kind: &str, name: &str, bytes: Vec<u8>) {
        let e = self
            .log
            .next_entry(kind, name, Sha256Digest::of(&bytes), Annotations::default())
            .unwrap();
        self.tpm.pcr15 = self.tpm.pcr15.extend(&e.extend_value());
        self.docs.insert(doc_key(kind, name), (e.seq, bytes));
        self.log.push(e).unwrap();
    }

    fn evidence(&self, nonce: &[u8], offset: u64) -> Evidence {
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
            agent_id: "a".into(),
            quote: self.tpm.quote(nonce),
            pcrs: [(15, self.tpm.pcr15)].into(),
            log: LogSlice {
                pcr: 15,
                offset,
                entries: self.log.since(offset).to_vec(),
            },
            documents,
            events: None,
        }
    }
}

fn judge(ak: &TpmPublic, previous: &VerifiedState, evidence: &Evidence) -> Judgement {
    let expect = Expectations {
        ak,
        nonce: NONCE,
        pcrs: &[15],
        dedicated_pcr: 15,
        log_offset: previous.log_offset(),
        previous,
    };
    match check(&expect, evidence) {
        Checked::Judged(j) => j,
        Checked::Rebooted { .. } => panic!("unexpected reboot"),
    }
}

fn codes(j: &Judgement) -> Vec<ReasonCode> {
    j.reasons.iter().map(|r| r.code).collect()
}

#[test]
fn honest_evidence_passes_and_yields_state_and_documents() {
    let h = Host::new();
    let j = judge(&h.tpm.ak, &VerifiedState::default(), &h.evidence(NONCE, 0));
    assert!(j.reasons.is_empty(), "{:?}", j.reasons);
    let state = j.state.unwrap();
    assert_eq!(state.log.unwrap().offset, 2);
    assert_eq!(
        j.documents["nftables/host"].value["tables"]["inet filter"]["policy"],
        "drop"
    );
}

#[test]
fn incremental_attestation_continues_from_the_checkpoint() {
    let mut h = Host::new();
    let first = judge(&h.tpm.ak, &VerifiedState::default(), &h.evidence(NONCE, 0))
        .state
        .unwrap();
    h.measure(kind::NFTABLES, "host", json!({"tables": {}}));
    h.tpm.clock.clock += 10;
    let j = judge(&h.tpm.ak, &first, &h.evidence(NONCE, 2));
    assert!(j.reasons.is_empty(), "{:?}", j.reasons);
    assert_eq!(j.state.unwrap().measured["nftables/host"].seq, 2);
    assert_eq!(j.documents["nftables/host"].value["tables"], json!({}));
}

#[test]
fn stale_nonce_is_rejected() {
    let h = Host::new();
    let j = judge(
        &h.tpm.ak,
        &VerifiedState::default(),
        &h.evidence(b"an-old-nonce-replayed", 0),
    );
    assert_eq!(codes(&j), vec![ReasonCode::NonceMismatch]);
    assert!(j.state.is_none());
}

#[test]
fn quote_signed_by_another_ak_is_rejected() {
    let h = Host::new();
    let other = SoftTpm::new(9);
    let j = judge(&other.ak, &VerifiedState::default(), &h.evidence(NONCE, 0));
    assert_eq!(codes(&j), vec![ReasonCode::QuoteSignature]);
}

#[test]
fn pcr_extended_outside_the_log_is_a_replay_mismatch() {
    let mut h = Host::new();
    h.tpm.pcr15 = h.tpm.pcr15.extend(&Sha256Digest::of(b"tpm2_pcrextend"));
    let j = judge(&h.tpm.ak, &VerifiedState::default(), &h.evidence(NONCE, 0));
    assert_eq!(codes(&j), vec![ReasonCode::LogReplayMismatch]);
    assert!(j.reasons[0].message.contains("log replay mismatch"));
}

#[test]
fn pcr_values_that_do_not_match_the_quote_are_rejected() {
    let h = Host::new();
    let mut ev = h.evidence(NONCE, 0);
    ev.pcrs.insert(15, Sha256Digest::ZERO);
    assert_eq!(
        codes(&judge(&h.tpm.ak, &VerifiedState::default(), &ev)),
        vec![ReasonCode::PcrDigestMismatch]
    );
}

#[test]
fn document_edited_after_measurement_is_rejected() {
    let h = Host::new();
    let mut ev = h.evidence(NONCE, 0);
    let doc = ev
        .documents
        .iter_mut()
        .find(|d| d.kind == "nftables")
        .unwrap();
    let edited =
        Canonical::from_value(&json!({"tables": {"inet filter": {"policy": "accept"}}})).unwrap();
    doc.content = RawValue::from_string(edited.as_str().to_owned()).unwrap();
    let j = judge(&h.tpm.ak, &VerifiedState::default(), &ev);
    assert_eq!(codes(&j), vec![ReasonCode::DocumentDigestMismatch]);
    assert!(j.reasons[0].message.contains("edited after measurement"));
    assert!(!j.documents.contains_key("nftables/host"));
}

#[test]
fn missing_and_unmeasured_documents_are_rejected() {
    let h = Host::new();
    let mut ev = h.evidence(NONCE, 0);
    ev.documents.retain(|d| d.kind != "nftables");
    assert_eq!(
        codes(&judge(&h.tpm.ak, &VerifiedState::default(), &ev)),
        vec![ReasonCode::DocumentMissing]
    );
    let mut ev = h.evidence(NONCE, 0);
    let mut extra = ev.documents[0].clone();
    extra.name = "smuggled".into();
    ev.documents.push(extra);
    assert_eq!(
        codes(&judge(&h.tpm.ak, &VerifiedState::default(), &ev)),
        vec![ReasonCode::DocumentUnmeasured]
    );
}

#[test]
fn measured_bytes_that_are_not_canonical_are_rejected() {
    let mut h = Host::new();
    h.measure_bytes(kind::NFTABLES, "host", br#"{"b": 1, "a": 2}"#.to_vec());
    let j = judge(&h.tpm.ak, &VerifiedState::default(), &h.evidence(NONCE, 0));
    assert_eq!(codes(&j), vec![ReasonCode::DocumentMalformed]);
}

#[test]
fn clock_going_backwards_is_rejected() {
    let mut h = Host::new();
    let first = judge(&h.tpm.ak, &VerifiedState::default(), &h.evidence(NONCE, 0))
        .state
        .unwrap();
    h.tpm.clock.clock -= 1;
    let j = judge(&h.tpm.ak, &first, &h.evidence(NONCE, 2));
    assert_eq!(codes(&j), vec![ReasonCode::ClockRegressed]);
}

#[test]
fn tpm_reset_asks_for_the_whole_log_again() {
    let mut h = Host::new();
    let first = judge(&h.tpm.ak, &VerifiedState::default(), &h.evidence(NONCE, 0))
        .state
        .unwrap();
    h.tpm.clock.reset_count += 1;
    let expect = Expectations {
        ak: &h.tpm.ak,
        nonce: NONCE,
        pcrs: &[15],
        dedicated_pcr: 15,
        log_offset: 2,
        previous: &first,
    };
    assert!(matches!(
        check(&expect, &h.evidence(NONCE, 2)),
        Checked::Rebooted { .. }
    ));
}

#[test]
fn log_of_another_boot_fails_the_boot_binding() {
    let mut h = Host::new();
    h.tpm.clock.reset_count = 9;
    let j = judge(&h.tpm.ak, &VerifiedState::default(), &h.evidence(NONCE, 0));
    assert_eq!(codes(&j), vec![ReasonCode::BootBinding]);
}

#[test]
fn log_slice_from_the_wrong_offset_is_malformed() {
    let h = Host::new();
    let j = judge(&h.tpm.ak, &VerifiedState::default(), &h.evidence(NONCE, 1));
    assert_eq!(codes(&j), vec![ReasonCode::LogMalformed]);
}

#[test]
fn documents_newer_than_the_quote_are_not_accepted_as_current() {
    let mut h = Host::new();
    let quoted = h.evidence(NONCE, 0);
    h.measure(kind::NFTABLES, "host", json!({"tables": {}}));
    // Log and documents read after the quote: the log is longer (allowed), but the document is
    // for an entry the quote does not cover.
    let mut ev = h.evidence(NONCE, 0);
    ev.quote = quoted.quote;
    ev.pcrs = quoted.pcrs;
    let j = judge(&h.tpm.ak, &VerifiedState::default(), &ev);
    assert_eq!(codes(&j), vec![ReasonCode::DocumentDigestMismatch]);
}
