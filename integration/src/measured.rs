//! Playing firmware and kernel on a test host (these machines have no TPM event log and no
//! IMA): a real UEFI event log is extended into the host's swtpm PCRs 0-7 and a real IMA list
//! into PCR 10, as Keylime's tests do with its emulator helper; the agent is pointed at the files.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use palisade_ima::list::{parse_ascii, to_ascii};
use palisade_ima::policy::{CreateOptions, RuntimePolicy};
use palisade_ima::uefi::{Bank, EventLog, EventType};
use palisade_ima::{Entry, FileDigest, HashAlg};

use crate::Host;

/// A UEFI log (Secure Boot on, 99 events, SHA-256 bank) from a peer project.
pub const UEFI_LOG: &str = "binary_bios_measurements-secureboot";
/// A real IMA list (826 `ima-ng` entries) from a peer project.
pub const IMA_LIST: &str = "ascii_runtime_measurements";

/// A file of `ima/testdata/`.
pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ima/testdata")
        .join(name)
}

/// Extends every event of the UEFI log at `log` into the SHA-256 bank, as firmware does.
pub fn boot(host: &Host, log: &Path) -> Result<()> {
    let bytes = std::fs::read(log).with_context(|| format!("reading {}", log.display()))?;
    let log = EventLog::parse(&bytes)?;
    let extends: Vec<(u8, [u8; 32])> = log
        .events()
        .iter()
        .skip(1)
        .filter(|e| e.event_type != EventType::EV_NO_ACTION)
        .filter_map(|e| {
            let digest = e.digest(Bank::Known(HashAlg::Sha256))?;
            Some((u8::try_from(e.pcr).ok()?, digest.try_into().ok()?))
        })
        .collect();
    host.pcr_extend_many(&extends)
}

/// Extends each entry into PCR 10's SHA-256 bank, as the kernel does as it measures.
pub fn measure(host: &Host, entries: &[Entry]) -> Result<()> {
    let extends: Vec<(u8, [u8; 32])> = entries
        .iter()
        .filter_map(|e| Some((10, HashAlg::Sha256.digest(&[&e.data]).try_into().ok()?)))
        .collect();
    host.pcr_extend_many(&extends)
}

/// The entries of the IMA list at `list`, its `boot_aggregate` recomputed over this host's
/// PCRs 0-7 (as this boot's kernel would have logged it).
pub fn kernel_list(host: &Host, list: &Path) -> Result<Vec<Entry>> {
    let mut entries = parse_ascii(&std::fs::read(list)?)?;
    let mut pcrs = Vec::with_capacity(8 * 32);
    for i in 0..8 {
        pcrs.extend(host.pcr_read(i)?);
    }
    let aggregate = FileDigest::of(HashAlg::Sha256, &[&pcrs]);
    if let Some(first) = entries.first_mut() {
        *first = Entry::ima_ng(10, aggregate, "boot_aggregate");
    }
    Ok(entries)
}

/// An `ima-ng` entry for an executable with these contents.
pub fn executable(path: &str, contents: &[u8]) -> Entry {
    let digest = FileDigest::of(HashAlg::Sha256, &[contents]);
    Entry::ima_ng(10, digest, path)
}

/// Appends `entries` to the ASCII list at `path` (the kernel's file grows).
pub fn append(path: &Path, entries: &[Entry]) -> Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new().append(true).open(path)?;
    file.write_all(to_ascii(entries).as_bytes())?;
    Ok(())
}

/// Writes a Keylime runtime policy allowing every file the list at `list` measured (what
/// `palisade ima policy create` writes) to `out`.
pub fn policy_from(list: &Path, out: &Path) -> Result<()> {
    let entries = parse_ascii(&std::fs::read(list)?)?;
    let policy = RuntimePolicy::create(entries.iter().skip(1), &CreateOptions::default())?;
    std::fs::write(out, policy.to_json())?;
    Ok(())
}

/// Verifier and agent configuration for IMA and measured boot, in `dir`: the runtime policy
/// `host` made from the real list (the default policy), the (initially empty) list file the
/// agent sends and the UEFI log. Returns (verifier TOML, agent TOML, list path).
pub fn configure(dir: &Path) -> Result<(String, String, PathBuf)> {
    let (list, policies) = (dir.join("ima.log"), dir.join("ima-policies"));
    std::fs::create_dir_all(&policies)?;
    policy_from(&testdata(IMA_LIST), &policies.join("host.json"))?;
    std::fs::write(&list, "")?;
    let verifier = format!(
        "ima_policy_dir = {:?}\nima_default_policy = \"host\"",
        policies.display().to_string()
    );
    let agent = format!(
        "host_logs.ima_list = {:?}\nhost_logs.boot_log = {:?}",
        list.display().to_string(),
        testdata(UEFI_LOG).display().to_string()
    );
    Ok((verifier, agent, list))
}

/// Boots `host` with the UEFI log, then runs the kernel's part: the real list with this boot's
/// aggregate, extended into PCR 10 and written to `list`. Returns its entries.
pub fn boot_and_run(host: &Host, list: &Path) -> Result<Vec<Entry>> {
    boot(host, &testdata(UEFI_LOG))?;
    let entries = kernel_list(host, &testdata(IMA_LIST))?;
    measure(host, &entries)?;
    std::fs::write(list, to_ascii(&entries))?;
    Ok(entries)
}
