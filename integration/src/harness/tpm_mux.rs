//! A command-level TPM multiplexer in front of swtpm, standing in for the kernel's `/dev/tpmrm0`.
//!
//! Why it exists: swtpm serves ONE client per socket at a time. Its main loop stops polling the
//! listening socket while a data connection is open (swtpm 0.7.1 `mainloop.c`), so a client that
//! keeps its connection open (a daemon, a test's raw TPM client, a TCTI that keeps its socket)
//! blocks every other client, e.g. an attacker's `tpm2_pcrextend`, for as long as it stays
//! connected. On a real host `/dev/tpmrm0` lets any number of processes use the TPM at once, and
//! palisade's tests need that: an agent running while an "attacker" extends PCRs from a shell.
//! (tpm2-tss 3.2.1's `tcti-swtpm`, which the agent and tpm2-tools use here, happens to open a new
//! connection per command and send `CMD_SET_LOCALITY` on the control port once, at TCTI init, so
//! its clients interleave; the multiplexer makes that a property of the harness instead of a detail
//! of one TCTI version, and lets [`TpmMux::pause`] hold clients back while swtpm restarts.)
//!
//! The multiplexer owns the only connection to swtpm's command port and serialises whole
//! commands over it: per client connection, read one complete TPM command (10-byte header: tag
//! u16, size u32, code u32, all big-endian; `size` bytes in all), lock the upstream connection,
//! forward it, read one complete response (same header shape: tag, size, rc), unlock, write it
//! back. It does no resource management (handle virtualisation), unlike `/dev/tpmrm0`: clients
//! share swtpm's three transient-object slots and must flush what they load.
//!
//! The control port is proxied per connection (connect to swtpm's control port, copy both ways,
//! half-closes passed on). swtpm serves its control port one connection at a time too, so a client
//! holding it open would block other control clients; `tcti-swtpm` closes it after each 4-byte
//! reply, so that is not multiplexed further.
//!
//! All sockets live in the host's network namespace: they are created by threads that entered it.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::netns;

mod frame;
pub use frame::{frame_size, read_frame, HEADER_LEN, MAX_FRAME};

/// How long the multiplexer waits for swtpm to answer one command (RSA key generation can take
/// seconds on a loaded machine).
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(120);
/// How long it retries connecting to swtpm (start-up, reboot).
const CONNECT_RETRY: Duration = Duration::from_secs(10);

/// State shared by the multiplexer's threads.
struct Shared {
    /// The namespace the sockets live in (`None`: the creator's, for unit tests).
    netns: Option<String>,
    upstream_cmd: SocketAddr,
    upstream_ctrl: SocketAddr,
    /// The one connection to swtpm's command port; `None` until (re)connected.
    upstream: Mutex<Option<TcpStream>>,
    /// A clone of `upstream`, to shut it down while a thread is blocked on it under the lock.
    upstream_handle: Mutex<Option<TcpStream>>,
    shutdown: AtomicBool,
    /// Clones of every open client-side and control-upstream socket, to shut them down on stop.
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
    threads: Mutex<Vec<JoinHandle<()>>>,
    commands: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Connects to `addr`, retrying for up to `CONNECT_RETRY` (call from inside the namespace).
fn connect_retry(addr: SocketAddr) -> io::Result<TcpStream> {
    let deadline = Instant::now() + CONNECT_RETRY;
    loop {
        match TcpStream::connect(addr) {
            Ok(stream) => return Ok(stream),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Runs `f` inside namespace `netns` (on a new thread), or on this thread for `None`.
fn in_ns<T, F>(netns: Option<&str>, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    match netns {
        Some(name) => netns::in_netns(name, f),
        None => Ok(f()),
    }
}

impl Shared {
    fn name(&self) -> &str {
        self.netns.as_deref().unwrap_or("current netns")
    }

    fn stopping(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    fn register(&self, stream: &TcpStream) -> Option<u64> {
        let clone = stream.try_clone().ok()?;
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        lock(&self.conns).insert(id, clone);
        Some(id)
    }

    fn unregister(&self, id: Option<u64>) {
        if let Some(id) = id {
            lock(&self.conns).remove(&id);
        }
    }

    fn spawn(self: &Arc<Self>, name: &str, f: impl FnOnce(Arc<Shared>) + Send + 'static) {
        let shared = Arc::clone(self);
        let spawned = thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || f(shared));
        let mut threads = lock(&self.threads);
        threads.retain(|t| !t.is_finished());
        match spawned {
            Ok(handle) => threads.push(handle),
            Err(e) => eprintln!("palisade tpm mux: cannot spawn a thread: {e}"),
        }
    }

    fn set_upstream(&self, slot: &mut Option<TcpStream>, stream: TcpStream) -> io::Result<()> {
        stream.set_read_timeout(Some(UPSTREAM_TIMEOUT))?;
        stream.set_nodelay(true)?;
        *lock(&self.upstream_handle) = Some(stream.try_clone()?);
        *slot = Some(stream);
        Ok(())
    }

    /// Forwards one command to swtpm and returns its response, under the upstream lock.
    fn transact(&self, command: &[u8]) -> io::Result<Vec<u8>> {
        let mut slot = lock(&self.upstream);
        if self.stopping() {
            return Err(io::Error::other("multiplexer stopping"));
        }
        if slot.is_none() {
            self.set_upstream(&mut slot, connect_retry(self.upstream_cmd)?)?;
        }
        let result = match slot.as_mut() {
            Some(up) => up.write_all(command).and_then(|()| {
                read_frame(up)?.ok_or_else(|| {
                    io::Error::new(io::ErrorKind::UnexpectedEof, "swtpm closed the connection")
                })
            }),
            None => Err(io::Error::other("no upstream connection")),
        };
        if result.is_err() {
            *slot = None; // reconnect on the next command
        } else {
            self.commands.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    fn serve_command_client(&self, mut client: TcpStream) {
        let _ = client.set_nodelay(true);
        loop {
            let command = match read_frame(&mut client) {
                Ok(Some(command)) => command,
                Ok(None) => return,
                // A client killed mid-session (an agent stopped by a test) just disconnects.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                    ) =>
                {
                    return
                }
                Err(e) => {
                    if !self.stopping() {
                        eprintln!(
                            "palisade tpm mux ({}): bad command from client: {e}",
                            self.name()
                        );
                    }
                    return;
                }
            };
            let response = match self.transact(&command) {
                Ok(response) => response,
                Err(e) => {
                    if !self.stopping() {
                        eprintln!("palisade tpm mux ({}): swtpm: {e}", self.name());
                    }
                    return; // the client sees its connection close: an I/O error, as with a dead TPM
                }
            };
            if client.write_all(&response).is_err() {
                return;
            }
        }
    }

    fn serve_ctrl_client(self: &Arc<Self>, client: TcpStream) -> io::Result<()> {
        let upstream = connect_retry(self.upstream_ctrl)?;
        let up_id = self.register(&upstream);
        let (client_r, upstream_w) = (client.try_clone()?, upstream.try_clone()?);
        self.spawn("tpm-mux-ctrl-up", move |_| copy_half(client_r, upstream_w));
        copy_half(upstream, client);
        self.unregister(up_id);
        Ok(())
    }

    fn accept_loop(self: &Arc<Self>, listener: &TcpListener, ctrl: bool) {
        for conn in listener.incoming() {
            if self.stopping() {
                return;
            }
            let Ok(client) = conn else {
                thread::sleep(Duration::from_millis(10)); // e.g. EMFILE: back off
                continue;
            };
            let id = self.register(&client);
            let name = if ctrl { "tpm-mux-ctrl" } else { "tpm-mux-cmd" };
            self.spawn(name, move |shared| {
                if ctrl {
                    if let Err(e) = shared.serve_ctrl_client(client) {
                        if !shared.stopping() {
                            eprintln!("palisade tpm mux ({}): control: {e}", shared.name());
                        }
                    }
                } else {
                    shared.serve_command_client(client);
                }
                shared.unregister(id);
            });
        }
    }
}

/// Copies `from` to `to` until `from` ends, then passes the end on (half-close).
fn copy_half(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

/// The multiplexer of one host: listens on `127.0.0.1:<port>` (commands) and `<port>+1` (control)
/// inside the host's namespace, forwarding to swtpm on `<upstream>` and `<upstream>+1`. Stopped
/// (threads joined, best effort for 2 s) when dropped.
pub struct TpmMux {
    shared: Arc<Shared>,
    listeners: Vec<TcpListener>,
    stopped: bool,
}

impl std::fmt::Debug for TpmMux {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TpmMux")
            .field("netns", &self.shared.netns)
            .field("upstream", &self.shared.upstream_cmd)
            .finish()
    }
}

/// While alive, no command reaches swtpm (the upstream lock is held): restart swtpm under it.
pub struct Paused<'a> {
    slot: MutexGuard<'a, Option<TcpStream>>,
    shared: &'a Shared,
}

impl Paused<'_> {
    /// Connects to the (restarted) swtpm, retrying for up to 10 s, so it is known to be up.
    pub fn reconnect(&mut self) -> Result<()> {
        let addr = self.shared.upstream_cmd;
        let stream = in_ns(self.shared.netns.as_deref(), move || connect_retry(addr))?
            .with_context(|| format!("cannot reach swtpm at {addr}"))?;
        self.shared.set_upstream(&mut self.slot, stream)?;
        Ok(())
    }
}

impl TpmMux {
    /// Starts the multiplexer inside network namespace `netns` (`None`: the caller's) once swtpm
    /// answers on `upstream_port` (waiting up to 10 s for it). Binds `listen_port` and the next
    /// port; `listen_port` 0 picks free ports (see [`TpmMux::ports`]).
    pub fn start(netns: Option<&str>, listen_port: u16, upstream_port: u16) -> Result<TpmMux> {
        let ctrl_port = |p: u16| p.checked_add(1).context("port out of range");
        let shared = Arc::new(Shared {
            netns: netns.map(str::to_owned),
            upstream_cmd: (Ipv4Addr::LOCALHOST, upstream_port).into(),
            upstream_ctrl: (Ipv4Addr::LOCALHOST, ctrl_port(upstream_port)?).into(),
            upstream: Mutex::new(None),
            upstream_handle: Mutex::new(None),
            shutdown: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
            threads: Mutex::new(Vec::new()),
            commands: AtomicU64::new(0),
        });
        let listen_ctrl = if listen_port == 0 {
            0
        } else {
            ctrl_port(listen_port)?
        };
        let setup = Arc::clone(&shared);
        // This thread is inside the namespace; the accept threads it spawns inherit that.
        let listeners = in_ns(netns, move || -> Result<Vec<TcpListener>> {
            let up = connect_retry(setup.upstream_cmd)
                .with_context(|| format!("swtpm did not come up on {}", setup.upstream_cmd))?;
            setup.set_upstream(&mut lock(&setup.upstream), up)?;
            let bind = |port: u16| {
                TcpListener::bind((Ipv4Addr::LOCALHOST, port))
                    .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))
            };
            let (cmd, ctrl) = (bind(listen_port)?, bind(listen_ctrl)?);
            let handles = vec![cmd.try_clone()?, ctrl.try_clone()?];
            // Nothing fails after the first accept thread starts, so none can be left behind.
            setup.spawn("tpm-mux-accept", move |shared| {
                shared.accept_loop(&cmd, false)
            });
            setup.spawn("tpm-mux-accept", move |shared| {
                shared.accept_loop(&ctrl, true)
            });
            Ok(handles)
        })??;
        Ok(TpmMux {
            shared,
            listeners,
            stopped: false,
        })
    }

    /// Holds back every client command until the returned guard is dropped.
    pub fn pause(&self) -> Paused<'_> {
        let mut slot = lock(&self.shared.upstream);
        *slot = None; // swtpm is about to go away; the guard reconnects
        Paused {
            slot,
            shared: &self.shared,
        }
    }

    /// The ports actually listened on: (commands, control).
    pub fn ports(&self) -> Result<(u16, u16)> {
        match self.listeners.as_slice() {
            [cmd, ctrl] => Ok((cmd.local_addr()?.port(), ctrl.local_addr()?.port())),
            _ => anyhow::bail!("multiplexer stopped"),
        }
    }

    /// How many commands have been forwarded to swtpm and answered.
    pub fn commands_forwarded(&self) -> u64 {
        self.shared.commands.load(Ordering::Relaxed)
    }

    /// Stops accepting, closes every connection, and joins the threads (waiting at most 2 s;
    /// a thread still stuck after that is left detached). Idempotent.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let shared = &self.shared;
        shared.shutdown.store(true, Ordering::SeqCst);
        for listener in self.listeners.drain(..) {
            // shutdown(2) on a listening socket wakes a thread blocked in accept(2) (EINVAL).
            let _ =
                nix::sys::socket::shutdown(listener.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        }
        for conn in lock(&shared.conns).values() {
            let _ = conn.shutdown(Shutdown::Both);
        }
        if let Some(up) = lock(&shared.upstream_handle).take() {
            let _ = up.shutdown(Shutdown::Both);
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let handles: Vec<JoinHandle<()>> = std::mem::take(&mut *lock(&shared.threads));
            let (done, running): (Vec<_>, Vec<_>) =
                handles.into_iter().partition(|t| t.is_finished());
            for handle in done {
                let _ = handle.join();
            }
            if running.is_empty() {
                break;
            }
            lock(&shared.threads).extend(running);
            if Instant::now() >= deadline {
                eprintln!(
                    "palisade tpm mux ({}): threads still running after stop",
                    shared.name()
                );
                break;
            }
            // A connection accepted during shutdown: close it too.
            for conn in lock(&shared.conns).values() {
                let _ = conn.shutdown(Shutdown::Both);
            }
            thread::sleep(Duration::from_millis(5));
        }
        if let Ok(mut slot) = shared.upstream.try_lock() {
            *slot = None;
        }
    }
}

impl Drop for TpmMux {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests;
