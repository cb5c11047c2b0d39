//! Small helpers: commands with a time limit, workspace binaries, free ports, polling, tool checks.

use std::ffi::OsStr;
use std::io::Write;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How long a short command (`ip`, `nft`, `tpm2_*`) may run before the harness kills it, so that a
/// wedged TPM or a hung tool fails one test instead of hanging the whole run.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// `program arg arg …`, for error messages.
pub(crate) fn describe(cmd: &Command) -> String {
    let mut out = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        out.push(' ');
        out.push_str(&arg.to_string_lossy());
    }
    out
}

/// Runs `cmd` to completion with `stdin` (if any) on its standard input, capturing its output;
/// kills it and fails after `timeout`. A non-zero exit is NOT an error here.
pub(crate) fn output_with_timeout(
    mut cmd: Command,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
) -> Result<Output> {
    let desc = describe(&cmd);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start `{desc}`"))?;
    let pid = child.id();
    if let (Some(mut pipe), Some(bytes)) = (child.stdin.take(), stdin) {
        // A separate writer, so a child that talks before it reads cannot deadlock us. A write
        // error means the child exited early; its exit status and stderr say why.
        thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
    }
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(result) => result.with_context(|| format!("waiting for `{desc}`")),
        Err(RecvTimeoutError::Timeout) => {
            // The waiter thread has not reaped the child yet, so the pid is still ours.
            if let Ok(raw) = i32::try_from(pid) {
                let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
            }
            let stderr = match rx.recv_timeout(Duration::from_secs(5)) {
                Ok(Ok(out)) => String::from_utf8_lossy(&out.stderr).into_owned(),
                _ => String::new(),
            };
            bail!("`{desc}` did not finish within {timeout:?} and was killed; stderr: {stderr}")
        }
        Err(RecvTimeoutError::Disconnected) => bail!("lost the waiter of `{desc}`"),
    }
}

/// Like [`output_with_timeout`] but a non-zero exit is an error carrying stderr; returns stdout.
pub(crate) fn run_checked(cmd: Command, stdin: Option<Vec<u8>>) -> Result<String> {
    let desc = describe(&cmd);
    let out = output_with_timeout(cmd, stdin, COMMAND_TIMEOUT)?;
    checked_stdout(&desc, out)
}

/// stdout of a finished command, or an error with its exit status and stderr.
pub(crate) fn checked_stdout(desc: &str, out: Output) -> Result<String> {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        bail!(
            "`{desc}` failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end(),
            if out.stdout.is_empty() {
                String::new()
            } else {
                format!(
                    "\nstdout: {}",
                    String::from_utf8_lossy(&out.stdout).trim_end()
                )
            }
        )
    }
}

/// `ip ARGS…` in the root namespace, failing with stderr on a non-zero exit.
pub(crate) fn ip<I, S>(args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new("ip");
    cmd.args(args);
    run_checked(cmd, None)
}

/// Path of a workspace binary built by `cargo build` (e.g. `palisade-agent`).
///
/// Looks next to the running executable: a test binary lives in `target/<profile>/deps/`, an
/// example in `target/<profile>/examples/`, the demo in `target/<profile>/`; the binaries sit in
/// `target/<profile>/`. `PALISADE_BIN_DIR` overrides the search.
pub fn bin(name: &str) -> Result<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("PALISADE_BIN_DIR") {
        dirs.push(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().context("cannot locate the running executable")?;
    if let Some(dir) = exe.parent() {
        if matches!(
            dir.file_name().and_then(OsStr::to_str),
            Some("deps" | "examples")
        ) {
            if let Some(profile_dir) = dir.parent() {
                dirs.push(profile_dir.to_path_buf());
            }
        }
        dirs.push(dir.to_path_buf());
    }
    for dir in &dirs {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "binary `{name}` not found in {dirs:?}; run `cargo build --workspace --bins` first \
         (same profile and CARGO_TARGET_DIR as this run), or set PALISADE_BIN_DIR"
    )
}

/// A TCP port that was free on 127.0.0.1 in the root namespace a moment ago (bind-probe on port 0).
/// Another process may take it before the caller binds it; prefer handing a bound listener over.
pub fn free_port() -> Result<u16> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("cannot bind 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Polls `f` every 50 ms until it returns `Ok(Some(v))`; after `timeout`, fails with `what` and
/// the last error `f` returned (if its last answer was an error).
pub fn wait_until<T>(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let start = Instant::now();
    loop {
        let last_err = match f() {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => None,
            Err(err) => Some(err),
        };
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            let msg = format!("timed out after {timeout:?} waiting for {what}");
            return Err(match last_err {
                Some(err) => err.context(msg),
                None => anyhow!(msg),
            });
        }
        thread::sleep((timeout - elapsed).min(Duration::from_millis(50)));
    }
}

/// The tools a [`crate::Host`] needs.
const TOOLS: &[&str] = &[
    "ip",
    "nft",
    "swtpm",
    "swtpm_setup",
    "tpm2_pcrextend",
    "tpm2_pcrread",
    "setpriv",
];

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| is_executable(&dir.join(tool))))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Ok if we are root and every tool the harness runs is installed. End-to-end tests call this
/// first and FAIL (never skip) when it errors: CI runs them as root with the tools installed.
pub fn require_root_tools() -> Result<()> {
    let mut problems = Vec::new();
    if !nix::unistd::geteuid().is_root() {
        problems.push("not running as root (network namespaces and veth pairs need it)".to_owned());
    }
    let missing: Vec<&str> = TOOLS.iter().copied().filter(|t| !on_path(t)).collect();
    if !missing.is_empty() {
        problems.push(format!(
            "missing tools on PATH: {} (Debian: apt-get install iproute2 nftables swtpm \
             swtpm-tools tpm2-tools util-linux)",
            missing.join(", ")
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        bail!("end-to-end tests need: {}", problems.join("; "))
    }
}
