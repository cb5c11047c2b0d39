//! [`Host`]: a network namespace with its own veth link, swtpm (behind the TPM multiplexer),
//! nftables ruleset and processes; everything is released when it is dropped.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use tempfile::TempDir;

use super::netns::{self, NetNs};
use super::proc::{spawn_logged, Proc, ProcKiller};
use super::reap;
use super::spawner::guarded_command;
use super::swtpm::{self, MUX_PORT, SWTPM_PORT};
use super::tpm_mux::TpmMux;
use super::util::{checked_stdout, describe, output_with_timeout, COMMAND_TIMEOUT};

/// A simulated host. See the crate documentation.
pub struct Host {
    label: String,
    mux: Option<TpmMux>,
    swtpm: Option<Proc>,
    net: NetNs,
    dir: Option<TempDir>,
    dir_path: PathBuf,
    ek_cert: bool,
    /// Every process [`Host::spawn`] started, killed on drop even if not yet inside the netns.
    spawned: Mutex<Vec<ProcKiller>>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("label", &self.label)
            .field("netns", &self.net.name)
            .field("ip", &self.net.ip)
            .field("dir", &self.dir_path)
            .finish()
    }
}

fn sanitize(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(32)
        .collect()
}

impl Host {
    /// Creates network namespace `pal<pid>-<n>` joined to the root namespace by veth
    /// `pv<pid>-<n>a` (root side, [`Host::gateway_ip`]) / `…b` (inside, [`Host::ip`]) on a /30
    /// from 10.128.0.0/9, loopback up, default route via the gateway; provisions a fresh TPM
    /// (its own EK, EK certificate in NV) and runs swtpm plus the multiplexer inside.
    pub fn create(label: &str) -> Result<Host> {
        reap::reap_stale_once();
        let started = Instant::now();
        let dir = tempfile::Builder::new()
            .prefix(&format!(
                "palisade-h{}-{}-",
                std::process::id(),
                sanitize(label)
            ))
            .tempdir()
            .context("cannot create the host's temp dir")?;
        let dir_path = dir.path().to_path_buf();
        // Built in this order so that on an error the guards drop in reverse and undo it all.
        let net = NetNs::create().with_context(|| format!("host {label}: network namespace"))?;
        let net_done = started.elapsed();
        let ek_cert = swtpm::provision(&dir_path.join("tpm"), &dir_path)
            .with_context(|| format!("host {label}: swtpm_setup"))?;
        let setup_done = started.elapsed();
        let swtpm = swtpm::start(&net.name, &dir_path)?;
        let mux = TpmMux::start(Some(&net.name), MUX_PORT, SWTPM_PORT).with_context(|| {
            format!(
                "host {label}: swtpm/multiplexer; swtpm log:\n{}",
                swtpm.log_tail()
            )
        })?;
        tracing::debug!(
            label,
            netns = %net.name,
            ip = %net.ip,
            net_ms = net_done.as_millis(),
            swtpm_setup_ms = (setup_done - net_done).as_millis(),
            total_ms = started.elapsed().as_millis(),
            "host created"
        );
        Ok(Host {
            label: label.to_owned(),
            mux: Some(mux),
            swtpm: Some(swtpm),
            net,
            dir: Some(dir),
            dir_path,
            ek_cert,
            spawned: Mutex::new(Vec::new()),
        })
    }

    /// The human name given to [`Host::create`] (e.g. "web1").
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The network namespace's name (for `ip netns exec`, and for the agent's `netns` config).
    pub fn netns(&self) -> &str {
        &self.net.name
    }

    /// The host's address, inside its namespace.
    pub fn ip(&self) -> Ipv4Addr {
        self.net.ip
    }

    /// The root-namespace end of the veth link (the host's default gateway).
    pub fn gateway_ip(&self) -> Ipv4Addr {
        self.net.gateway
    }

    /// The root-namespace name of the veth link.
    pub fn veth(&self) -> &str {
        &self.net.veth_root
    }

    /// The host's private temp dir: configs, state, logs (`<name>.log`), TPM state (`tpm/`).
    pub fn dir(&self) -> &Path {
        &self.dir_path
    }

    /// The swtpm state directory (appears on swtpm's command line).
    pub fn tpm_state_dir(&self) -> PathBuf {
        self.dir_path.join("tpm")
    }

    /// Whether swtpm_setup managed to put an EK certificate in NV (it falls back to none).
    pub fn has_ek_cert(&self) -> bool {
        self.ek_cert
    }

    /// The TCTI for processes INSIDE the namespace: the multiplexer, never swtpm directly.
    pub fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={MUX_PORT}")
    }

    /// How many TPM commands the multiplexer has forwarded so far.
    pub fn tpm_commands_forwarded(&self) -> u64 {
        self.mux.as_ref().map_or(0, TpmMux::commands_forwarded)
    }

    fn command(&self, program: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", self.net.name.as_str(), program])
            .args(args)
            .envs(env.iter().copied());
        cmd
    }

    /// Runs `program` inside the namespace (`ip netns exec`) with extra `env`, waits (killing it
    /// after 60 s) and returns its output; a non-zero exit is not an error here.
    pub fn exec_env(&self, program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<Output> {
        output_with_timeout(self.command(program, args, env), None, COMMAND_TIMEOUT)
    }

    /// Runs `program` inside the namespace, waits, returns its output (error only if it cannot
    /// start or runs over 60 s).
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<Output> {
        self.exec_env(program, args, &[])
    }

    /// Like [`Host::exec`] but fails, with stderr, on a non-zero exit; returns stdout.
    pub fn run(&self, program: &str, args: &[&str]) -> Result<String> {
        let cmd = self.command(program, args, &[]);
        let desc = describe(&cmd);
        checked_stdout(&desc, self.exec(program, args)?)
    }

    /// Runs a tpm2-tools command inside the namespace against this host's TPM
    /// (`TPM2TOOLS_TCTI` set), failing on a non-zero exit; returns stdout.
    pub fn tpm2(&self, tool: &str, args: &[&str]) -> Result<String> {
        let tcti = self.tcti();
        let env = [("TPM2TOOLS_TCTI", tcti.as_str())];
        let desc = describe(&self.command(tool, args, &env));
        checked_stdout(&desc, self.exec_env(tool, args, &env)?)
    }

    /// Loads an nft script (`nft -f -`, script on stdin) inside the namespace.
    pub fn nft(&self, script: &str) -> Result<()> {
        let cmd = self.command("nft", &["-f", "-"], &[]);
        let desc = describe(&cmd);
        let out = output_with_timeout(cmd, Some(script.as_bytes().to_vec()), COMMAND_TIMEOUT)?;
        checked_stdout(&desc, out).map(drop)
    }

    /// `tpm2_pcrextend PCR:sha256=HEX` from inside the namespace: what root on the host can do.
    pub fn pcr_extend(&self, pcr: u8, digest: [u8; 32]) -> Result<()> {
        let arg = format!("{pcr}:sha256={}", hex::encode(digest));
        self.tpm2("tpm2_pcrextend", &[&arg]).map(drop)
    }

    /// Extends the SHA-256 bank with each `(pcr, digest)` in order (as firmware or the kernel
    /// would, many per `tpm2_pcrextend` call).
    pub fn pcr_extend_many(&self, extends: &[(u8, [u8; 32])]) -> Result<()> {
        for chunk in extends.chunks(64) {
            let args: Vec<String> = chunk
                .iter()
                .map(|(pcr, d)| format!("{pcr}:sha256={}", hex::encode(d)))
                .collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            self.tpm2("tpm2_pcrextend", &args)?;
        }
        Ok(())
    }

    /// `tpm2_pcrread sha256:PCR`: the PCR's SHA-256 bank value.
    pub fn pcr_read(&self, pcr: u8) -> Result<[u8; 32]> {
        let out = self.tpm2("tpm2_pcrread", &[&format!("sha256:{pcr}")])?;
        parse_pcrread(&out, pcr)
    }

    /// Runs `name` inside the namespace in the background (`ip netns exec`) with extra `env`;
    /// stdout and stderr go to `dir()/<name>.log`. It dies with the harness process.
    pub fn spawn(
        &self,
        name: &str,
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Proc> {
        let mut cmd = guarded_command(Some(&self.net.name), program);
        cmd.args(args);
        let proc = spawn_logged(name, &self.dir_path, cmd, env)?;
        let mut spawned = self.spawned.lock().unwrap_or_else(PoisonError::into_inner);
        spawned.retain(|p| !p.is_gone());
        spawned.push(proc.killer());
        Ok(proc)
    }

    /// Runs `f` on a new thread inside the host's namespace and returns its result. Sockets made
    /// there stay in the namespace (e.g. a `TcpListener` bound to [`Host::ip`]).
    pub fn in_netns<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        netns::in_netns(&self.net.name, f)
    }

    /// Restarts swtpm on the same state, as a reboot does to a TPM: PCRs back to their reset
    /// values, resetCount + 1, same EK. TPM commands arriving meanwhile wait in the multiplexer.
    pub fn reboot_tpm(&mut self) -> Result<()> {
        let mux = self
            .mux
            .as_ref()
            .ok_or_else(|| anyhow!("host is shutting down"))?;
        let mut paused = mux.pause();
        if let Some(mut old) = self.swtpm.take() {
            old.stop();
        }
        let swtpm = swtpm::start(&self.net.name, &self.dir_path)?;
        let result = paused.reconnect();
        let log = swtpm.log_tail();
        self.swtpm = Some(swtpm);
        result.with_context(|| format!("host {}: swtpm after reboot; log:\n{log}", self.label))
    }
}

/// The value of `pcr` in `tpm2_pcrread sha256:PCR` output (`  sha256:\n    15: 0x…`; PCRs
/// below 10 are right-aligned: `    0 : 0x…`).
fn parse_pcrread(out: &str, pcr: u8) -> Result<[u8; 32]> {
    let wanted = pcr.to_string();
    let value = out
        .lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(index, _)| index.trim() == wanted)
        .find_map(|(_, value)| value.trim().strip_prefix("0x"))
        .ok_or_else(|| anyhow!("no sha256 value for PCR {pcr} in tpm2_pcrread output: {out}"))?;
    let bytes = hex::decode(value).with_context(|| format!("bad PCR value {value}"))?;
    <[u8; 32]>::try_from(bytes).map_err(|b| anyhow!("PCR value of {} bytes", b.len()))
}

impl Drop for Host {
    fn drop(&mut self) {
        let spawned = std::mem::take(
            self.spawned
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for proc in spawned {
            proc.kill();
        }
        if let Some(mut mux) = self.mux.take() {
            mux.stop();
        }
        if let Some(mut swtpm) = self.swtpm.take() {
            swtpm.stop();
        }
        self.net.destroy();
        if let Some(dir) = self.dir.take() {
            if std::env::var_os("PALISADE_KEEP_TEST_DIRS").is_some() {
                let path = dir.keep();
                // Tells the next run's reaper this dir was kept on purpose.
                let _ = std::fs::write(path.join(super::reap::KEEP_MARKER), b"");
                eprintln!(
                    "palisade harness: kept host {} dir {}",
                    self.label,
                    path.display()
                );
            } else if let Err(err) = dir.close() {
                eprintln!(
                    "palisade harness: cannot remove {}: {err}",
                    self.dir_path.display()
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_pcrread;

    #[test]
    fn parse_pcrread_reads_the_requested_pcr() {
        let out = "  sha256:\n    15: 0x90F4B39548DF55AD6187A1D20D731ECEE78C545B94AFD16F42EF7592D99CD365\n";
        let value = parse_pcrread(out, 15).unwrap();
        assert_eq!(value[0], 0x90);
        assert_eq!(value[31], 0x65);
        assert!(parse_pcrread(out, 1).is_err());
        let low = "  sha256:\n    0 : 0x0000000000000000000000000000000000000000000000000000000000000001\n";
        assert_eq!(parse_pcrread(low, 0).unwrap()[31], 1);
    }
}
