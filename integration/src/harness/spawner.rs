//! Forks long-lived children from one thread that lives as long as the process, each wrapped in
//! `setpriv --pdeathsig KILL`, so they die with the harness even if it is SIGKILLed.
//!
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits, not the process: a child
//! forked from a cargo-test thread or a tokio blocking-pool thread would be killed when that thread
//! ends. Forking from a thread that never exits ties the children to the process instead.

use std::ffi::OsStr;
use std::io;
use std::process::{Child, Command};
use std::sync::mpsc::{self, Sender, SyncSender};
use std::sync::OnceLock;
use std::thread;

use anyhow::{anyhow, Context, Result};

use super::util::describe;

struct Job {
    cmd: Command,
    reply: SyncSender<io::Result<Child>>,
}

fn spawner() -> Result<&'static Sender<Job>> {
    static SPAWNER: OnceLock<Sender<Job>> = OnceLock::new();
    if let Some(tx) = SPAWNER.get() {
        return Ok(tx);
    }
    let (tx, rx) = mpsc::channel::<Job>();
    let started = thread::Builder::new()
        .name("palisade-spawner".into())
        .spawn(move || {
            for mut job in rx {
                let _ = job.reply.send(job.cmd.spawn());
            }
        });
    started.context("cannot start the spawner thread")?;
    // If another thread won the race, our spawner thread sees its channel close and exits.
    Ok(SPAWNER.get_or_init(|| tx))
}

/// A command running `program` under `setpriv --pdeathsig KILL`, inside network namespace
/// `netns` (through `ip netns exec`, which execs, so the child's pid is `program`'s) or in the
/// root namespace when `netns` is `None`. Add arguments, environment and stdio, then [`spawn`].
pub(crate) fn guarded_command(netns: Option<&str>, program: impl AsRef<OsStr>) -> Command {
    let mut cmd = match netns {
        Some(ns) => {
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "exec", ns, "setpriv"]);
            cmd
        }
        None => Command::new("setpriv"),
    };
    cmd.args(["--pdeathsig", "KILL", "--"]).arg(program);
    cmd
}

/// Spawns `cmd` from the spawner thread.
pub(crate) fn spawn(cmd: Command) -> Result<Child> {
    let desc = describe(&cmd);
    let (reply, answer) = mpsc::sync_channel(1);
    spawner()?
        .send(Job { cmd, reply })
        .map_err(|_| anyhow!("the spawner thread is gone"))?;
    answer
        .recv()
        .map_err(|_| anyhow!("the spawner thread is gone"))?
        .with_context(|| format!("cannot start `{desc}`"))
}
