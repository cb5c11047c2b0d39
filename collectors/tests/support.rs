//! Throwaway network namespaces and command runners shared by the collectors' integration-test
//! modules. Each module adds the helpers only it needs in its own `impl Ns` block.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use palisade_collectors::NetNs;

/// A network namespace `pal<tag>-<pid>-<n>` with `lo` up, deleted on drop.
pub struct Ns {
    pub name: String,
}

impl Ns {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("pal{tag}-{}-{n}", std::process::id());
        run("ip", &["netns", "add", &name], None);
        let ns = Self { name };
        ns.exec(&["ip", "link", "set", "lo", "up"], None);
        ns
    }

    pub fn netns(&self) -> NetNs {
        NetNs::named(&self.name)
    }

    /// `ip netns exec NS ARGS…`, with `stdin` if given; panics on failure.
    pub fn exec(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut all = vec!["netns", "exec", self.name.as_str()];
        all.extend_from_slice(args);
        run("ip", &all, stdin)
    }

    /// `ip -n NS -batch -` with these lines; panics on failure.
    pub fn ip_batch(&self, lines: &str) {
        run("ip", &["-n", &self.name, "-batch", "-"], Some(lines));
    }

    /// `nft -f -` with `script`; panics on failure.
    pub fn load(&self, script: &str) {
        self.exec(&["nft", "-f", "-"], Some(script));
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Runs `program ARGS…` with `stdin` if given; panics with its stderr on failure.
pub fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
