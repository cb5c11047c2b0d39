//! Self-tests of the end-to-end harness (root): hosts, veths, nftables, swtpm + multiplexer,
//! TPM reboot. Cleanup and process guards are in `lifecycle`.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use palisade_integration::tpm_mux::read_frame;
use palisade_integration::{bin, free_port, require_root_tools, spawn_root, wait_until, Host};
use sha2::{Digest, Sha256};

fn root() {
    require_root_tools().expect("the end-to-end harness needs root and its tools");
}

fn on_path(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

mod lifecycle;

// ---------------------------------------------------------------------------------------------
// 1. Hosts and their links

#[test]
fn two_hosts_get_distinct_namespaces_and_subnets_and_are_reachable_from_the_root_namespace() {
    root();
    let a = Host::create("web1").unwrap();
    let b = Host::create("web2").unwrap();
    assert_ne!(a.netns(), b.netns());
    assert_ne!(a.ip(), b.ip());
    assert_ne!(a.gateway_ip(), b.gateway_ip());
    assert_ne!(a.dir(), b.dir());
    for host in [&a, &b] {
        assert!(host.ip().is_private(), "{}", host.ip());
        // The namespace side has the host address and a default route via the gateway.
        let addrs = host.run("ip", &["-4", "-o", "addr", "show"]).unwrap();
        assert!(addrs.contains(&format!("{}/30", host.ip())), "{addrs}");
        let routes = host.run("ip", &["-4", "route"]).unwrap();
        assert!(
            routes.contains(&format!("default via {}", host.gateway_ip())),
            "{routes}"
        );

        if on_path("ping") {
            let ping = Command::new("ping")
                .args(["-c1", "-W1", &host.ip().to_string()])
                .output()
                .unwrap();
            assert!(ping.status.success(), "ping {}: {ping:?}", host.ip());
        } else {
            eprintln!("no `ping` on PATH: checking reachability over TCP only");
        }

        // A listener inside the host is reachable from the root namespace.
        let ip = host.ip();
        let listener = host
            .in_netns(move || TcpListener::bind((ip, 0)))
            .unwrap()
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let label = host.label().to_owned();
        let server = thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.write_all(format!("hello from {label}").as_bytes())
                .unwrap();
        });
        let mut conn =
            TcpStream::connect_timeout(&(ip, port).into(), Duration::from_secs(2)).unwrap();
        let mut greeting = String::new();
        conn.read_to_string(&mut greeting).unwrap();
        assert_eq!(greeting, format!("hello from {}", host.label()));
        server.join().unwrap();

        // And the host reaches a service in the root namespace at its gateway (push mode).
        let root_listener = TcpListener::bind((host.gateway_ip(), 0)).unwrap();
        let addr = root_listener.local_addr().unwrap();
        let client = host
            .in_netns(move || TcpStream::connect(addr).is_ok())
            .unwrap();
        assert!(client, "host {} cannot reach {addr}", host.label());
    }
}

#[test]
fn host_spawn_runs_the_process_inside_the_namespace_with_its_env_and_log() {
    root();
    let host = Host::create("spawner").unwrap();
    let p = host
        .spawn(
            "ipaddr",
            Path::new("/bin/sh"),
            &[
                "-c",
                "ip -4 -o addr show; echo \"greeting=$GREETING\"; sleep 30",
            ],
            &[("GREETING", "hi")],
        )
        .unwrap();
    p.wait_for_log("greeting=hi", Duration::from_secs(5))
        .unwrap();
    assert!(
        p.log().contains(&format!("{}/30", host.ip())),
        "{}",
        p.log()
    );
    assert_eq!(p.log_path(), host.dir().join("ipaddr.log"));
}

// ---------------------------------------------------------------------------------------------
// 2. nftables

#[test]
fn nft_ruleset_loads_inside_a_host_and_leaves_the_root_namespace_alone() {
    root();
    let host = Host::create("fw").unwrap();
    let table = format!("palisade_selftest_{}", std::process::id());
    host.nft(&format!(
        "table inet {table} {{\n  chain input {{\n    type filter hook input priority 0; policy accept;\n    tcp dport 9999 drop\n  }}\n}}\n"
    ))
    .unwrap();
    let inside = host.run("nft", &["list", "ruleset"]).unwrap();
    assert!(inside.contains(&format!("table inet {table}")), "{inside}");
    assert!(inside.contains("tcp dport 9999 drop"), "{inside}");
    let outside = Command::new("nft")
        .args(["list", "ruleset"])
        .output()
        .unwrap();
    assert!(outside.status.success());
    assert!(!String::from_utf8_lossy(&outside.stdout).contains(&table));
    // A broken script fails with nft's own error message.
    let err = host
        .nft("table inet broken { chain c { nonsense } }")
        .unwrap_err();
    assert!(format!("{err:#}").contains("Error"), "{err:#}");
}

// ---------------------------------------------------------------------------------------------
// 3. TPM through the multiplexer

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// TPM2_GetRandom(8): tag TPM_ST_NO_SESSIONS, size 12, TPM_CC_GetRandom, bytesRequested.
const GET_RANDOM: [u8; 12] = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7B, 0, 8];

/// A client that holds ONE connection to the multiplexer and sends GetRandom every 100 ms.
struct Holder {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    thread: Option<thread::JoinHandle<Result<(), String>>>,
}

impl Holder {
    fn start(host: &Host) -> Holder {
        let stream = host
            .in_netns(|| TcpStream::connect((Ipv4Addr::LOCALHOST, 2421)))
            .unwrap()
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let (s, a) = (Arc::clone(&stop), Arc::clone(&answered));
        let thread = thread::spawn(move || -> Result<(), String> {
            let mut stream = stream;
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            while !s.load(Ordering::SeqCst) {
                stream.write_all(&GET_RANDOM).map_err(|e| e.to_string())?;
                let rsp = read_frame(&mut stream)
                    .map_err(|e| e.to_string())?
                    .ok_or("EOF")?;
                // Header (10) + TPM2B_DIGEST size (2) + 8 random bytes; rc 0.
                if rsp.len() != 20 || rsp[6..10] != [0, 0, 0, 0] {
                    return Err(format!("unexpected GetRandom response {rsp:02x?}"));
                }
                a.fetch_add(1, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(100));
            }
            stream.shutdown(Shutdown::Both).ok();
            Ok(())
        });
        Holder {
            stop,
            answered,
            thread: Some(thread),
        }
    }

    fn answered(&self) -> u64 {
        self.answered.load(Ordering::SeqCst)
    }

    fn finish(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap().unwrap();
    }
}

#[test]
fn pcr_extend_matches_sha256_of_old_value_and_digest() {
    root();
    let host = Host::create("tpm").unwrap();
    let digest = sha256(&[b"palisade selftest"]);
    let before = host.pcr_read(15).unwrap();
    host.pcr_extend(15, digest).unwrap();
    assert_eq!(host.pcr_read(15).unwrap(), sha256(&[&before, &digest]));
    host.pcr_extend(15, digest).unwrap();
    assert_eq!(
        host.pcr_read(15).unwrap(),
        sha256(&[&sha256(&[&before, &digest]), &digest])
    );
    assert!(
        host.has_ek_cert(),
        "swtpm_setup fell back to no EK certificate"
    );
    // The EK certificate is in NV, like on a manufactured TPM (RSA EK cert index 0x01c00002).
    let nv = host.tpm2("tpm2_getcap", &["handles-nv-index"]).unwrap();
    assert!(nv.contains("0x1C00002"), "{nv}");
}

#[test]
fn pcr_extend_completes_while_another_client_holds_a_tpm_connection_through_the_mux() {
    root();
    let host = Host::create("shared-tpm").unwrap();
    let holder = Holder::start(&host);
    wait_until("the holder's first answers", Duration::from_secs(5), || {
        Ok((holder.answered() >= 3).then_some(()))
    })
    .unwrap();
    let start = Instant::now();
    let digest = sha256(&[b"attacker"]);
    let before = host.pcr_read(16).unwrap();
    host.pcr_extend(16, digest).unwrap();
    assert_eq!(host.pcr_read(16).unwrap(), sha256(&[&before, &digest]));
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "second client took {took:?}");
    // The holder kept being served on its one connection throughout.
    let seen = holder.answered();
    wait_until("more holder answers", Duration::from_secs(5), || {
        Ok((holder.answered() > seen + 2).then_some(()))
    })
    .unwrap();
    holder.finish();
    assert!(host.tpm_commands_forwarded() > 5);
    eprintln!("pcr read+extend+read beside a connected client: {took:?}");
}

#[test]
fn swtpm_without_the_mux_blocks_a_second_client_which_is_why_the_mux_exists() {
    root();
    let host = Host::create("no-mux").unwrap();
    // The multiplexer holds swtpm's only data connection; a client going to swtpm directly waits.
    let out = host
        .exec_env(
            "timeout",
            &["2", "tpm2_pcrread", "sha256:0"],
            &[("TPM2TOOLS_TCTI", "swtpm:host=127.0.0.1,port=2331")],
        )
        .unwrap();
    assert_eq!(out.status.code(), Some(124), "{out:?}");
    // Through the multiplexer it answers.
    host.pcr_read(0).unwrap();
}

// ---------------------------------------------------------------------------------------------
// 4. Reboot

fn reset_count(host: &Host) -> u64 {
    let clock = host.tpm2("tpm2_readclock", &[]).unwrap();
    clock
        .lines()
        .find_map(|l| l.trim().strip_prefix("reset_count:"))
        .unwrap_or_else(|| panic!("no reset_count in {clock}"))
        .trim()
        .parse()
        .unwrap()
}

fn ek_public(host: &Host, name: &str) -> Vec<u8> {
    let ctx = host.dir().join(format!("{name}.ctx"));
    let public = host.dir().join(format!("{name}.pub"));
    host.tpm2(
        "tpm2_createek",
        &[
            "-c",
            ctx.to_str().unwrap(),
            "-G",
            "rsa",
            "-u",
            public.to_str().unwrap(),
        ],
    )
    .unwrap();
    // No resource manager: flush the transient EK so TPM slots do not fill up.
    host.tpm2("tpm2_flushcontext", &["-t"]).unwrap();
    std::fs::read(public).unwrap()
}

#[test]
fn reboot_tpm_resets_pcrs_bumps_reset_count_and_keeps_the_ek() {
    root();
    let mut host = Host::create("reboot").unwrap();
    host.pcr_extend(15, sha256(&[b"before reboot"])).unwrap();
    assert_ne!(host.pcr_read(15).unwrap(), [0; 32]);
    let resets = reset_count(&host);
    let ek = ek_public(&host, "ek-before");

    let start = Instant::now();
    host.reboot_tpm().unwrap();
    eprintln!("reboot_tpm took {:?}", start.elapsed());

    assert_eq!(host.pcr_read(15).unwrap(), [0; 32]);
    assert!(reset_count(&host) > resets);
    assert_eq!(ek_public(&host, "ek-after"), ek);
    // A second reboot works as well.
    host.reboot_tpm().unwrap();
    assert_eq!(host.pcr_read(15).unwrap(), [0; 32]);
}
