//! [`Proc`], the guard of a long-running child (agent, verifier, swtpm) whose output goes to a log.

use std::fs::{self, OpenOptions};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::spawner;

/// How long [`Proc::stop`] waits after SIGTERM before it sends SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How many bytes of the log an error message quotes.
const TAIL_BYTES: usize = 4000;

/// A child process, stopped (SIGTERM, then SIGKILL after 5 s) when the guard is dropped.
/// stdout and stderr both go to [`Proc::log_path`].
pub struct Proc {
    name: String,
    log_path: PathBuf,
    child: Arc<Mutex<Child>>,
}

/// A handle that kills a [`Proc`]'s process (if the guard still exists) without owning it: a
/// [`crate::Host`] keeps one per process it spawned, because a process still between `ip netns
/// exec` and its `setns` is not yet listed by `ip netns pids`.
#[derive(Debug)]
pub(crate) struct ProcKiller(Weak<Mutex<Child>>);

impl ProcKiller {
    /// True once the guard is gone (the process was stopped and reaped by it).
    pub(crate) fn is_gone(&self) -> bool {
        self.0.strong_count() == 0
    }

    /// SIGKILLs the process and its group and reaps it; a no-op once the guard is gone.
    pub(crate) fn kill(&self) {
        if let Some(child) = self.0.upgrade() {
            kill(&child);
        }
    }
}

impl std::fmt::Debug for Proc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proc")
            .field("name", &self.name)
            .field("pid", &self.pid())
            .field("log_path", &self.log_path)
            .finish()
    }
}

/// Spawns a long-running process in the ROOT network namespace (the verifier); stdout and stderr
/// go to `dir/<name>.log`. It is killed with the harness process even if that is SIGKILLed.
pub fn spawn_root(
    name: &str,
    dir: &Path,
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<Proc> {
    let mut cmd = spawner::guarded_command(None, program);
    cmd.args(args);
    spawn_logged(name, dir, cmd, env)
}

/// Spawns `cmd` (built by [`spawner::guarded_command`]) with `env` added and its output in
/// `dir/<name>.log`. An older log of the same name is kept as `<name>.log.1`, `.2`, ….
pub(crate) fn spawn_logged(
    name: &str,
    dir: &Path,
    mut cmd: Command,
    env: &[(&str, &str)],
) -> Result<Proc> {
    let log_path = dir.join(format!("{name}.log"));
    rotate(&log_path)?;
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    let log_err = log.try_clone()?;
    // Its own process group, so stop/kill reach what it forks too (a shell's children).
    cmd.process_group(0)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    let child = spawner::spawn(cmd).with_context(|| format!("cannot start process `{name}`"))?;
    Ok(Proc {
        name: name.to_owned(),
        log_path,
        child: Arc::new(Mutex::new(child)),
    })
}

fn rotate(log_path: &Path) -> Result<()> {
    if !log_path.exists() {
        return Ok(());
    }
    let mut n = 1;
    loop {
        let old = PathBuf::from(format!("{}.{n}", log_path.display()));
        if !old.exists() {
            return fs::rename(log_path, &old)
                .with_context(|| format!("cannot rotate {}", log_path.display()));
        }
        n += 1;
    }
}

fn lock(child: &Mutex<Child>) -> MutexGuard<'_, Child> {
    child.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The exit status, if the process has exited. Reaping it, this first SIGKILLs what is left in
/// its process group: the guard owns the whole group, and while the exited leader is still
/// unreaped the group id cannot have been reused.
fn exit_status(child: &Mutex<Child>) -> Option<ExitStatus> {
    let mut child = lock(child);
    let Ok(pid) = i32::try_from(child.id()) else {
        return child.try_wait().ok().flatten();
    };
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    match waitid(Id::Pid(Pid::from_raw(pid)), flags) {
        Ok(WaitStatus::StillAlive) => None,
        Ok(_) => {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            child.wait().ok()
        }
        // ECHILD: already reaped (std keeps the status).
        Err(_) => child.try_wait().ok().flatten(),
    }
}

/// Signals the process group the child leads, if the leader has not exited yet.
fn signal_group(child: &Mutex<Child>, signal: Signal) {
    if exit_status(child).is_none() {
        if let Ok(pid) = i32::try_from(lock(child).id()) {
            let _ = killpg(Pid::from_raw(pid), signal);
        }
    }
}

/// SIGKILL to the process and its group, then reap it (waiting at most `STOP_GRACE`).
fn kill(child: &Mutex<Child>) {
    signal_group(child, Signal::SIGKILL);
    let deadline = Instant::now() + STOP_GRACE;
    while exit_status(child).is_none() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
}

impl Proc {
    fn child(&self) -> MutexGuard<'_, Child> {
        lock(&self.child)
    }

    /// A handle that can kill this process while someone else owns the guard.
    pub(crate) fn killer(&self) -> ProcKiller {
        ProcKiller(Arc::downgrade(&self.child))
    }

    /// The name given at spawn time.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id (of the program itself: `ip netns exec` and `setpriv` exec it).
    pub fn pid(&self) -> u32 {
        self.child().id()
    }

    /// Where stdout and stderr go.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The log as it is now (lossy UTF-8; empty if unreadable).
    pub fn log(&self) -> String {
        fs::read(&self.log_path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// The last few KiB of the log, for error messages.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let mut start = log.len().saturating_sub(TAIL_BYTES);
        while !log.is_char_boundary(start) {
            start += 1;
        }
        log.get(start..).unwrap_or_default().to_owned()
    }

    fn exit_status(&self) -> Option<ExitStatus> {
        exit_status(&self.child)
    }

    /// Waits until the log contains `needle`. Fails with the log tail after `timeout`, and at once
    /// if the process exits without having logged it.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log().contains(needle) {
                return Ok(());
            }
            if let Some(status) = self.exit_status() {
                // It may have logged the line just before exiting.
                if self.log().contains(needle) {
                    return Ok(());
                }
                bail!(
                    "process `{}` exited ({status}) without logging {needle:?}; log {} ends with:\n{}",
                    self.name,
                    self.log_path.display(),
                    self.log_tail()
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "process `{}` did not log {needle:?} within {timeout:?}; log {} ends with:\n{}",
                    self.name,
                    self.log_path.display(),
                    self.log_tail()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        self.exit_status().is_none()
    }

    /// SIGKILL to the process and its group, and reap (a `kill -9`).
    pub fn kill(&mut self) {
        kill(&self.child);
    }

    /// SIGTERM to the process and its group; SIGKILL if it has not exited 5 s later; reaps it.
    pub fn stop(&mut self) {
        signal_group(&self.child, Signal::SIGTERM);
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if self.exit_status().is_some() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        eprintln!(
            "palisade harness: `{}` ignored SIGTERM for {STOP_GRACE:?}; killing it",
            self.name
        );
        self.kill();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}
