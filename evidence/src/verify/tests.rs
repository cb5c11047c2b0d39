//! Tests of the pure attestation checks with a software-signed quote (the AK public area is the
//! swtpm ECC AK's with a software key's point): every check passes on honest evidence and each
//! failure is named.

use super::*;
use crate::log::kind;
use crate::testing::SoftHost;

use serde_json::{json, value::RawValue};

const NONCE: &[u8] = b"0123456789abcdef0123";

/// The shared software host, as agent `a` with seed 7 on PCR 15.
fn host() -> SoftHost {
    SoftHost::new("a", 7, 15)
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
    let h = host();
    let j = judge(&h.tpm.ak, &VerifiedState::default(), &h.evidence(NONCE, 0));
    assert!(j.reasons.is_empty(), "{:?}", j.reasons);
    let state = j.state.unwrap();
    assert_eq!(state.log.unwrap().offset, 2);
    assert_eq!(
        j.documents["nftables/host"].value()["tables"]["inet filter"]["policy"],
        "drop"
    );
}

#[test]
fn incremental_attestation_continues_from_the_checkpoint() {
    let mut h = host();
    let first = judge(&h.tpm.ak, &VerifiedState::default(), &h.evidence(NONCE, 0))
        .state
        .unwrap();
    h.measure(kind::NFTABLES, "host", &json!({"tables": {}}));
    h.tpm.clock.clock += 10;
    let j = judge(&h.tpm.ak, &first, &h.evidence(NONCE, 2));
    assert!(j.reasons.is_empty(), "{:?}", j.reasons);
    assert_eq!(j.state.unwrap().measured["nftables/host"].seq, 2);
    assert_eq!(j.documents["nftables/host"].value()["tables"], json!({}));
}

#[test]
fn stale_nonce_is_rejected() {
    let h = host();
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
    let h = host();
    let other = crate::testing::SoftTpm::new(9, 15);
    let j = judge(&other.ak, &VerifiedState::default(), &h.evidence(NONCE, 0));
    assert_eq!(codes(&j), vec![ReasonCode::QuoteSignature]);
}

#[test]
fn pcr_extended_outside_the_log_is_a_replay_mismatch() {
    let mut h = host();
    h.tpm.value = h.tpm.value.extend(&Sha256Digest::of(b"tpm2_pcrextend"));
    let j = judge(&h.tpm.ak, &VerifiedState::default(), &h.evidence(NONCE, 0));
    assert_eq!(codes(&j), vec![ReasonCode::LogReplayMismatch]);
    assert!(j.reasons[0].message.contains("log replay mismatch"));
}

#[test]
fn pcr_values_that_do_not_match_the_quote_are_rejected() {
    let h = host();
    let mut ev = h.evidence(NONCE, 0);
    ev.pcrs.insert(15, Sha256Digest::ZERO);
    assert_eq!(
        codes(&judge(&h.tpm.ak, &VerifiedState::default(), &ev)),
        vec![ReasonCode::PcrDigestMismatch]
    );
}

#[test]
fn document_edited_after_measurement_is_rejected() {
    let h = host();
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
    let h = host();
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
    let mut h = host();
    h.measure_bytes(kind::NFTABLES, "host", br#"{"b": 1, "a": 2}"#.to_vec());
    let j = judge(&h.tpm.ak, &VerifiedState::default(), &h.evidence(NONCE, 0));
    assert_eq!(codes(&j), vec![ReasonCode::DocumentMalformed]);
}

#[test]
fn clock_going_backwards_is_rejected() {
    let mut h = host();
    let first = judge(&h.tpm.ak, &VerifiedState::default(), &h.evidence(NONCE, 0))
        .state
        .unwrap();
    h.tpm.clock.clock -= 1;
    let j = judge(&h.tpm.ak, &first, &h.evidence(NONCE, 2));
    assert_eq!(codes(&j), vec![ReasonCode::ClockRegressed]);
}

#[test]
fn tpm_reset_asks_for_the_whole_log_again() {
    let mut h = host();
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
    let mut h = host();
    h.tpm.clock.reset_count = 9;
    let j = judge(&h.tpm.ak, &VerifiedState::default(), &h.evidence(NONCE, 0));
    assert_eq!(codes(&j), vec![ReasonCode::BootBinding]);
}

#[test]
fn log_slice_from_the_wrong_offset_is_malformed() {
    let h = host();
    let j = judge(&h.tpm.ak, &VerifiedState::default(), &h.evidence(NONCE, 1));
    assert_eq!(codes(&j), vec![ReasonCode::LogMalformed]);
}

#[test]
fn documents_newer_than_the_quote_are_not_accepted_as_current() {
    let mut h = host();
    let quoted = h.evidence(NONCE, 0);
    h.measure(kind::NFTABLES, "host", &json!({"tables": {}}));
    // Log and documents read after the quote: the log is longer (allowed), but the document is
    // for an entry the quote does not cover.
    let mut ev = h.evidence(NONCE, 0);
    ev.quote = quoted.quote;
    ev.pcrs = quoted.pcrs;
    let j = judge(&h.tpm.ak, &VerifiedState::default(), &ev);
    assert_eq!(codes(&j), vec![ReasonCode::DocumentDigestMismatch]);
}
