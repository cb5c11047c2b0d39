//! Measurement logic over the fake PCR bank: boot binding, dedup, extend failures, restarts.

use super::*;
use crate::tpm::fake::FakeTpm;
use serde_json::json;

fn doc(v: serde_json::Value) -> Canonical {
    Canonical::from_value(&v).unwrap()
}

async fn start(fake: &FakeTpm, dir: &std::path::Path) -> Result<Arc<Measurer>, MeasureError> {
    let tpm = TpmHandle::spawn(Box::new(fake.clone())).unwrap();
    Measurer::start(
        tpm,
        15,
        "agent-1".into(),
        LogStore::open(dir).unwrap(),
        "boot-1".into(),
        Default::default(),
    )
    .await
}

fn pcr15(fake: &FakeTpm) -> Sha256Digest {
    fake.state().pcrs[15]
}

#[tokio::test]
async fn first_start_writes_a_boot_binding_and_extends() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeTpm::default();
    let m = start(&fake, dir.path()).await.unwrap();
    let inner = m.inner.lock().await;
    let first = &inner.log.entries()[0];
    assert_eq!(
        (first.kind.as_str(), first.name.as_str(), first.seq),
        ("boot", "binding", 0)
    );
    assert_eq!(pcr15(&fake), inner.log.pcr());
    let (_, binding) = &inner.documents["boot/binding"];
    let b: BootBinding = serde_json::from_slice(binding.as_bytes()).unwrap();
    assert_eq!(b.tpm_reset_count, 3);
}

#[tokio::test]
async fn unchanged_documents_are_not_measured_twice() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeTpm::default();
    let m = start(&fake, dir.path()).await.unwrap();
    assert!(m
        .record(
            "nftables",
            "host",
            doc(json!({"a": 1})),
            Annotations::default()
        )
        .await
        .unwrap()
        .is_some());
    assert!(m
        .record(
            "nftables",
            "host",
            doc(json!({"a": 1})),
            Annotations::default()
        )
        .await
        .unwrap()
        .is_none());
    let e = m
        .record(
            "nftables",
            "host",
            doc(json!({"a": 2})),
            Annotations::default(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.seq, 2);
    assert_eq!(m.log_len().await, 3);
    assert_eq!(pcr15(&fake), m.inner.lock().await.log.pcr());
}

#[tokio::test]
async fn failed_extend_leaves_no_entry_behind() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeTpm::default();
    let m = start(&fake, dir.path()).await.unwrap();
    fake.state().fail_extend = true;
    assert!(m
        .record(
            "nftables",
            "host",
            doc(json!({"a": 1})),
            Annotations::default()
        )
        .await
        .is_err());
    assert_eq!(m.log_len().await, 1);
    assert_eq!(
        LogStore::open(dir.path())
            .unwrap()
            .load()
            .unwrap()
            .entries
            .len(),
        1
    );
    fake.state().fail_extend = false;
    let e = m
        .record(
            "nftables",
            "host",
            doc(json!({"a": 1})),
            Annotations::default(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.seq, 1);
}

#[tokio::test]
async fn restart_resumes_the_same_log_with_its_documents() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeTpm::default();
    let m = start(&fake, dir.path()).await.unwrap();
    m.record(
        "nftables",
        "host",
        doc(json!({"a": 1})),
        Annotations::default(),
    )
    .await
    .unwrap();
    drop(m);
    let m = start(&fake, dir.path()).await.unwrap();
    assert_eq!(m.log_len().await, 2);
    let inner = m.inner.lock().await;
    assert_eq!(inner.documents["nftables/host"].0, 1);
    assert_eq!(inner.log.pcr(), pcr15(&fake));
}

#[tokio::test]
async fn restart_after_an_outside_extend_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeTpm::default();
    drop(start(&fake, dir.path()).await.unwrap());
    let tampered = pcr15(&fake).extend(&Sha256Digest::of(b"attacker"));
    fake.state().pcrs[15] = tampered;
    let err = start(&fake, dir.path()).await.unwrap_err();
    assert!(
        matches!(
            err,
            MeasureError::Recovery(RecoveryError::PcrMismatch { .. })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn tpm_reset_starts_a_new_log() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeTpm::default();
    let m = start(&fake, dir.path()).await.unwrap();
    m.record(
        "nftables",
        "host",
        doc(json!({"a": 1})),
        Annotations::default(),
    )
    .await
    .unwrap();
    drop(m);
    {
        let mut s = fake.state();
        s.pcrs[15] = Sha256Digest::ZERO;
        s.clock.reset_count += 1;
    }
    let m = start(&fake, dir.path()).await.unwrap();
    assert_eq!(m.log_len().await, 1);
    assert!(dir.path().join("previous/log.jsonl").exists());
}
