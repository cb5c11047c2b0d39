//! Test harness: a private swtpm per test on its own port pair, temporary directories, and a
//! runner for tpm2-tools.
//!
//! swtpm serves one TCP client at a time: a second client (a tpm2-tools command, a second
//! `EsapiTpm`) blocks until the first disconnects, so tests drop their `EsapiTpm` before running a
//! tool against the same swtpm.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long swtpm may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// swtpm's stderr, inside its state directory.
const LOG: &str = "swtpm.stderr";
/// Port pairs tried before giving up (another process may take a probed port first).
const START_ATTEMPTS: usize = 20;

/// A running `swtpm socket` with its state in a temporary directory; killed on drop.
pub struct Swtpm {
    child: Child,
    port: u16,
    /// Kept so the directory lives as long as the process.
    _state: TempDir,
}

impl Swtpm {
    /// Starts a fresh (unmanufactured: no EK certificate) TPM 2.0.
    pub fn start() -> Self {
        Self::start_in(tempdir())
    }

    /// Starts a TPM manufactured by `swtpm_setup`: persistent EKs and EK certificates (RSA-2048
    /// at NV 0x01c00002, ECC P-384 at 0x01c00016) signed by swtpm's local CA.
    pub fn start_manufactured() -> Self {
        let state = tempdir();
        let output = Command::new("swtpm_setup")
            .args(["--tpm2", "--create-ek-cert", "--overwrite", "--tpmstate"])
            .arg(state.path())
            .output()
            .expect("run swtpm_setup");
        assert_success("swtpm_setup", &output);
        Self::start_in(state)
    }

    fn start_in(state: TempDir) -> Self {
        for _ in 0..START_ATTEMPTS {
            let port = free_port_pair();
            let mut child = Command::new("swtpm")
                .args(["socket", "--tpm2", "--tpmstate"])
                .arg(format!("dir={}", state.path().display()))
                .arg("--server")
                .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
                .arg("--ctrl")
                .arg(format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1))
                .args(["--flags", "not-need-init,startup-clear"])
                .stdout(Stdio::null())
                .stderr(log_file(state.path()))
                .spawn()
                .expect("spawn swtpm (is it installed?)");
            if wait_until_listening(&mut child, port + 1) {
                return Self {
                    child,
                    port,
                    _state: state,
                };
            }
            // Lost the race for the port pair (or swtpm failed): try the next pair.
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(state.path().join(LOG)).unwrap_or_default();
            eprintln!("swtpm on port {port} did not come up: {log}");
        }
        panic!("could not start swtpm after {START_ATTEMPTS} attempts");
    }

    /// The TCTI string for tss-esapi and tpm2-tools.
    pub fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }

    /// Runs a tpm2-tools command against this TPM; the caller must have dropped its own
    /// connection (see the module documentation).
    pub fn tool(&self, program: &str, args: &[&str]) -> Output {
        Command::new(program)
            .args(args)
            .env("TPM2TOOLS_TCTI", self.tcti())
            .output()
            .unwrap_or_else(|e| panic!("run {program}: {e}"))
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary directory for one test.
pub fn tempdir() -> TempDir {
    tempfile::Builder::new()
        .prefix("palisade-agent-test.")
        .tempdir()
        .expect("create temp dir")
}

/// Runs a command that needs no TPM (`--tcti none` tools, openssl).
pub fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .env("TPM2TOOLS_TCTI", "none")
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

/// Panics with the command's stderr unless it succeeded.
pub fn assert_success(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Writes `bytes` to `dir/name` and returns the path as a string for command lines.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, bytes).expect("write test file");
    path.to_str().expect("UTF-8 temp path").to_owned()
}

/// Returns a port `p` such that `p` and `p + 1` are free on 127.0.0.1 right now. Ports come from
/// a counter starting at a pid-derived base, so parallel tests in this process never collide and
/// concurrent test processes start far apart; the bind probe skips ports someone else holds.
fn free_port_pair() -> u16 {
    static NEXT: OnceLock<AtomicU16> = OnceLock::new();
    let next = NEXT.get_or_init(|| {
        let slot = u16::try_from(std::process::id() % 400).expect("< 400");
        AtomicU16::new(20_000 + slot * 100)
    });
    loop {
        let port = next.fetch_add(2, Ordering::Relaxed);
        if port > 60_000 {
            next.store(20_000, Ordering::Relaxed);
            continue;
        }
        let probe = |p: u16| TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], p))).is_ok();
        if probe(port) && probe(port + 1) {
            return port;
        }
    }
}

fn log_file(state: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(state.join(LOG))
        .expect("open swtpm log")
}

fn wait_until_listening(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + START_TIMEOUT;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
