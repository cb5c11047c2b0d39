//! swtpm for one host: state provisioned like a manufactured TPM (EK and EK certificate in NV),
//! and the emulator running inside the host's network namespace.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::proc::{spawn_logged, Proc};
use super::spawner::guarded_command;
use super::util::{describe, output_with_timeout, COMMAND_TIMEOUT};

/// swtpm's command port inside the namespace (control: +1). Only the multiplexer connects here.
pub(crate) const SWTPM_PORT: u16 = 2331;
/// The multiplexer's command port inside the namespace (control: +1): what clients use.
pub(crate) const MUX_PORT: u16 = 2421;

/// `swtpm_setup` arguments that make the state look manufactured: EKs (RSA and ECC) with
/// certificates from swtpm's local CA and a platform certificate in NV, NV locked.
const WITH_CERTS: &[&str] = &[
    "--createek",
    "--create-ek-cert",
    "--create-platform-cert",
    "--lock-nvram",
];
/// Fallback when the local CA is unusable: EKs without certificates.
const WITHOUT_CERTS: &[&str] = &["--createek", "--lock-nvram"];

/// Provisions a fresh TPM state in `state_dir` (log in `log_dir/swtpm_setup.log`). Returns whether
/// the EK certificate is in NV (false when only the certificate-less fallback worked).
pub(crate) fn provision(state_dir: &Path, log_dir: &Path) -> Result<bool> {
    let log_path = log_dir.join("swtpm_setup.log");
    let mut log = String::new();
    for (flags, certs) in [(WITH_CERTS, true), (WITHOUT_CERTS, false)] {
        if state_dir.exists() {
            fs::remove_dir_all(state_dir)?;
        }
        fs::create_dir_all(state_dir)
            .with_context(|| format!("cannot create {}", state_dir.display()))?;
        let mut cmd = Command::new("swtpm_setup");
        cmd.args(["--tpm2", "--tpmstate"])
            .arg(state_dir)
            .args(flags)
            .arg("--display");
        let desc = describe(&cmd);
        let out = output_with_timeout(cmd, None, COMMAND_TIMEOUT)?;
        log.push_str(&format!(
            "$ {desc}\n{}{}\n=> {}\n\n",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            out.status
        ));
        fs::write(&log_path, &log)?;
        if out.status.success() {
            if !certs {
                eprintln!(
                    "palisade harness: swtpm_setup could not create EK certificates; this TPM \
                     has none (see {})",
                    log_path.display()
                );
            }
            return Ok(certs);
        }
    }
    bail!("swtpm_setup failed with and without certificates:\n{log}")
}

/// Starts swtpm on `dir/tpm` inside namespace `netns`, listening on 127.0.0.1:2331 (commands)
/// and 2332 (control). `startup-clear`: it issues TPM2_Startup(CLEAR) itself, like firmware does.
pub(crate) fn start(netns: &str, dir: &Path) -> Result<Proc> {
    let mut cmd = guarded_command(Some(netns), "swtpm");
    cmd.args(["socket", "--tpm2", "--tpmstate"])
        .arg(format!("dir={}", dir.join("tpm").display()))
        .arg("--server")
        .arg(format!("type=tcp,port={SWTPM_PORT},bindaddr=127.0.0.1"))
        .arg("--ctrl")
        .arg(format!(
            "type=tcp,port={},bindaddr=127.0.0.1",
            SWTPM_PORT + 1
        ))
        .args(["--flags", "not-need-init,startup-clear", "--pid"])
        .arg(format!("file={}", dir.join("swtpm.pid").display()));
    spawn_logged("swtpm", dir, cmd, &[])
}
