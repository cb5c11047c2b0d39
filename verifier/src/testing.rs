//! Test support, compiled only for tests and the `test-util` feature: a throwaway PostgreSQL
//! server from the Debian `postgresql` package, so the store is exercised on a real server.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A PostgreSQL server in a temporary directory, listening on 127.0.0.1 with trust
/// authentication, stopped and deleted on drop. As root, it runs as the `postgres` user (the
/// server refuses root). It also dies with the thread that started it (`PR_SET_PDEATHSIG`),
/// so start it from the test's own thread, not from a pool thread that may exit first.
#[derive(Debug)]
pub struct Postgres {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Postgres {
    /// Creates a cluster (`initdb`) and starts its server; returns once it accepts connections.
    pub fn start() -> io::Result<Self> {
        let bin = server_bin()?;
        let dir = tempfile::Builder::new().prefix("palisade-pg-").tempdir()?;
        let data = dir.path().join("data");
        if is_root() {
            run(Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path()))?;
        }
        run(as_postgres(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "--no-locale"])
            .args(["-E", "UTF8", "--no-instructions"]))?;
        let port = free_port()?;
        let log = std::fs::File::create(dir.path().join("server.log"))?;
        let child = as_postgres(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(dir.path())
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "fsync=off", "-c", "max_connections=200"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let mut server = Self { child, port, dir };
        server.wait_ready(&data)?;
        Ok(server)
    }

    /// The URL of database `name` on this server (see [`Postgres::create_database`]).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates an empty database `name` and returns its URL.
    pub fn create_database(&self, name: &str) -> io::Result<String> {
        let bin = server_bin()?;
        run(as_postgres(&bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .arg(name))?;
        Ok(self.url(name))
    }

    /// The server's log so far (for test failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self, data: &Path) -> io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // The eighth line of postmaster.pid is the server's status.
            let pid_file = std::fs::read_to_string(data.join("postmaster.pid")).unwrap_or_default();
            if pid_file.lines().nth(7).is_some_and(|s| s.trim() == "ready") {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "postgres exited ({status}): {}",
                    self.log()
                )));
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "postgres not ready: {}",
                    self.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGQUIT would skip the shutdown checkpoint; the directory is deleted anyway, but a
        // plain kill is enough and leaves no server behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The newest installed server's `bin` directory (`/usr/lib/postgresql/<major>/bin`), or
/// `PALISADE_PG_BIN`.
fn server_bin() -> io::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PALISADE_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major: u32 = e.file_name().to_str()?.parse().ok()?;
            Some((major, e.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").exists())
        .max_by_key(|(major, _)| *major);
    newest.map(|(_, bin)| bin).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "no PostgreSQL server in /usr/lib/postgresql (apt-get install postgresql; \
             scripts/setup.sh installs it)",
        )
    })
}

/// `program` as the `postgres` user when we are root, dying with the calling thread.
fn as_postgres(program: &Path) -> Command {
    let mut cmd = Command::new("setpriv");
    if is_root() {
        cmd.args(["--reuid=postgres", "--regid=postgres", "--init-groups"]);
    }
    cmd.args(["--pdeathsig", "KILL", "--"]).arg(program);
    cmd
}

fn is_root() -> bool {
    // `id -u` keeps this crate free of unsafe code and of a libc dependency.
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn run(cmd: &mut Command) -> io::Result<()> {
    let out = cmd.stdin(Stdio::null()).output()?;
    if out.status.success() {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    )))
}

fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
