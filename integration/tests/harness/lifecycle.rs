//! Harness self-tests of resource lifecycle: cleanup on drop, on panic and after SIGKILL, and the
//! process guards.

use super::*;

// ---------------------------------------------------------------------------------------------
// 5. Cleanup

struct Footprint {
    netns: String,
    veth: String,
    tpm_state: PathBuf,
    dir: PathBuf,
}

impl Footprint {
    fn of(host: &Host) -> Footprint {
        Footprint {
            netns: host.netns().to_owned(),
            veth: host.veth().to_owned(),
            tpm_state: host.tpm_state_dir(),
            dir: host.dir().to_owned(),
        }
    }

    fn assert_present(&self) {
        assert!(netns_listed(&self.netns));
        assert!(Path::new("/sys/class/net").join(&self.veth).exists());
        assert!(swtpm_running(&self.tpm_state));
        assert!(self.dir.exists());
    }

    fn assert_released(&self) {
        assert!(
            !netns_listed(&self.netns),
            "netns {} left behind",
            self.netns
        );
        assert!(
            !Path::new("/sys/class/net").join(&self.veth).exists(),
            "veth {}",
            self.veth
        );
        assert!(
            !swtpm_running(&self.tpm_state),
            "swtpm on {:?} left",
            self.tpm_state
        );
        assert!(!self.dir.exists(), "dir {:?} left", self.dir);
    }
}

fn netns_listed(name: &str) -> bool {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.split_whitespace().next() == Some(name))
}

fn swtpm_running(state: &Path) -> bool {
    let out = Command::new("pgrep")
        .args(["-f", state.to_str().unwrap()])
        .output()
        .unwrap();
    out.status.success()
}

#[test]
fn dropping_a_host_removes_its_namespace_veth_swtpm_processes_and_dir() {
    root();
    let start = Instant::now();
    let host = Host::create("dropme").unwrap();
    let created = start.elapsed();
    let footprint = Footprint::of(&host);
    footprint.assert_present();
    let mut sleeper = host
        .spawn("sleeper", Path::new("sleep"), &["1000"], &[])
        .unwrap();
    assert!(sleeper.is_running());

    let start = Instant::now();
    drop(host);
    let dropped = start.elapsed();
    footprint.assert_released();
    assert!(
        !sleeper.is_running(),
        "a process inside the host outlived it"
    );
    eprintln!("Host::create {created:?}, drop {dropped:?}");
}

#[test]
fn a_test_panicking_while_it_owns_a_host_still_releases_the_host() {
    root();
    let footprint = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&footprint);
    let result = std::panic::catch_unwind(move || {
        let host = Host::create("panicky").unwrap();
        *seen.lock().unwrap() = Some(Footprint::of(&host));
        panic!("deliberate panic with a live Host");
    });
    assert!(result.is_err());
    let footprint = footprint.lock().unwrap().take().unwrap();
    footprint.assert_released();
}

// ---------------------------------------------------------------------------------------------
// 6. Process guards and helpers

#[test]
fn wait_for_log_returns_when_the_line_appears() {
    let dir = tempfile::tempdir().unwrap();
    let p = spawn_root(
        "talker",
        dir.path(),
        Path::new("/bin/sh"),
        &["-c", "echo starting; sleep 0.3; echo ready now; sleep 30"],
        &[],
    )
    .unwrap();
    let start = Instant::now();
    p.wait_for_log("ready now", Duration::from_secs(5)).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert_eq!(p.log_path(), dir.path().join("talker.log"));
}

#[test]
fn wait_for_log_times_out_with_the_log_tail_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = spawn_root(
        "quiet",
        dir.path(),
        Path::new("/bin/sh"),
        &["-c", "echo some context; sleep 30"],
        &[],
    )
    .unwrap();
    p.wait_for_log("some context", Duration::from_secs(5))
        .unwrap();
    let err = p
        .wait_for_log("never printed", Duration::from_millis(300))
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("some context") && msg.contains("within"),
        "{msg}"
    );
}

#[test]
fn wait_for_log_fails_early_when_the_process_exits() {
    let dir = tempfile::tempdir().unwrap();
    let p = spawn_root(
        "quitter",
        dir.path(),
        Path::new("/bin/sh"),
        &["-c", "echo giving up >&2; exit 3"],
        &[],
    )
    .unwrap();
    let start = Instant::now();
    let err = p
        .wait_for_log("never printed", Duration::from_secs(20))
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(5));
    let msg = format!("{err:#}");
    assert!(msg.contains("exited") && msg.contains("giving up"), "{msg}");
}

#[test]
fn proc_kill_and_stop_end_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = spawn_root("a", dir.path(), Path::new("sleep"), &["100"], &[]).unwrap();
    let mut b = spawn_root("b", dir.path(), Path::new("sleep"), &["100"], &[]).unwrap();
    assert!(a.is_running() && b.is_running());
    a.kill();
    assert!(!a.is_running());
    let start = Instant::now();
    b.stop();
    assert!(!b.is_running());
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "sleep ignores SIGTERM?"
    );
    // Restarting under the same name keeps the old log.
    drop(spawn_root("a", dir.path(), Path::new("true"), &[], &[]).unwrap());
    assert!(dir.path().join("a.log.1").exists());
}

/// True while `pid` exists and is not a zombie (an orphan's zombie waits for init to reap it).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

#[test]
fn proc_stop_also_ends_what_the_process_forked() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = spawn_root(
        "forker",
        dir.path(),
        Path::new("/bin/sh"),
        &["-c", "sleep 100 & echo child=$!; wait"],
        &[],
    )
    .unwrap();
    p.wait_for_log("child=", Duration::from_secs(5)).unwrap();
    let log = p.log();
    let child = log.trim().strip_prefix("child=").unwrap().to_owned();
    assert!(alive(&child));
    p.stop();
    wait_until("the forked child to die", Duration::from_secs(2), || {
        Ok((!alive(&child)).then_some(()))
    })
    .unwrap();
}

#[test]
fn host_and_proc_can_be_shared_across_threads_and_tasks() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Host>();
    send_sync::<palisade_integration::Proc>();
}

#[test]
fn helpers_report_missing_binaries_and_time_out_with_the_reason() {
    let err = bin("no-such-palisade-binary").unwrap_err();
    assert!(
        format!("{err}").contains("cargo build --workspace --bins"),
        "{err}"
    );
    let port = free_port().unwrap();
    assert!(TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok());

    let mut calls = 0;
    let v = wait_until("the third call", Duration::from_secs(5), || {
        calls += 1;
        Ok((calls == 3).then_some(calls))
    })
    .unwrap();
    assert_eq!(v, 3);
    let err = wait_until::<()>("godot", Duration::from_millis(120), || {
        Err(anyhow::anyhow!("still waiting"))
    })
    .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("godot") && msg.contains("still waiting"),
        "{msg}"
    );
}

// ---------------------------------------------------------------------------------------------
// A harness process killed with SIGKILL (a CI timeout)

/// Helper for the test below, run by it in a child process; a no-op in a normal run.
#[test]
#[ignore = "helper, run by a_sigkilled_harness_leaves_no_processes_and_the_next_run_reaps_the_rest"]
fn helper_process_owning_a_host() {
    let Ok(mode) = std::env::var("PALISADE_SELFTEST_HELPER") else {
        return;
    };
    let host = Host::create("orphan").unwrap();
    if mode == "hold" {
        let f = Footprint::of(&host);
        println!(
            "FOOTPRINT {} {} {} {}",
            f.netns,
            f.veth,
            f.tpm_state.display(),
            f.dir.display()
        );
        std::io::stdout().flush().unwrap();
        thread::sleep(Duration::from_secs(60));
    }
}

fn run_helper(mode: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "harness::lifecycle::helper_process_owning_a_host",
            "--ignored",
            "--nocapture",
        ])
        .env("PALISADE_SELFTEST_HELPER", mode)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_sigkilled_harness_leaves_no_processes_and_the_next_run_reaps_the_rest() {
    root();
    let mut holder = run_helper("hold");
    let stdout = holder.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("FOOTPRINT ") {
                tx.send(rest.to_owned()).unwrap();
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("helper never made its host");
    let parts: Vec<&str> = line.split(' ').collect();
    let footprint = Footprint {
        netns: parts[0].to_owned(),
        veth: parts[1].to_owned(),
        tpm_state: PathBuf::from(parts[2]),
        dir: PathBuf::from(parts[3]),
    };
    footprint.assert_present();

    holder.kill().unwrap(); // SIGKILL: no destructor runs
    holder.wait().unwrap();
    // Its swtpm died with it (pdeathsig) ...
    wait_until("the orphaned swtpm to die", Duration::from_secs(5), || {
        Ok((!swtpm_running(&footprint.tpm_state)).then_some(()))
    })
    .unwrap();
    // ... and the next harness process removes the namespace, veth and dir it left.
    assert!(run_helper("create").wait().unwrap().success());
    footprint.assert_released();
}
