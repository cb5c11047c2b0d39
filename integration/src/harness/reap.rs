//! Reaps what a killed harness process left behind: namespaces `pal<pid>-<n>`, veths
//! `pv<pid>-<n>a` and temp dirs `palisade-h<pid>-…` whose `<pid>` is no longer running (not dirs
//! kept on purpose by `PALISADE_KEEP_TEST_DIRS`). Its child processes died with it: see spawner.

use std::fs;
use std::path::Path;
use std::sync::Once;

use super::netns::kill_all_in;
use super::util::ip;

/// A file in a host dir kept by `PALISADE_KEEP_TEST_DIRS`: never reap that dir.
pub(crate) const KEEP_MARKER: &str = ".palisade-keep";

/// The pid a harness-made name carries: `<prefix><pid>-<n>…`.
fn owner(name: &str, prefix: &str) -> Option<u32> {
    let (pid, _) = name.strip_prefix(prefix)?.split_once('-')?;
    pid.parse().ok()
}

fn alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

fn names_in(dir: &str) -> Vec<String> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn reap_stale() {
    for name in names_in("/run/netns") {
        if owner(&name, "pal").is_some_and(|pid| !alive(pid)) {
            eprintln!("palisade harness: removing stale network namespace {name}");
            kill_all_in(&name);
            let _ = ip(["netns", "del", name.as_str()]);
        }
    }
    for name in names_in("/sys/class/net") {
        if owner(&name, "pv").is_some_and(|pid| !alive(pid)) {
            eprintln!("palisade harness: removing stale veth {name}");
            let _ = ip(["link", "del", name.as_str()]);
        }
    }
    if std::env::var_os("PALISADE_KEEP_TEST_DIRS").is_some() {
        return;
    }
    let tmp = std::env::temp_dir();
    for name in names_in(&tmp.to_string_lossy()) {
        if owner(&name, "palisade-h").is_some_and(|pid| !alive(pid))
            && !tmp.join(&name).join(KEEP_MARKER).exists()
        {
            eprintln!("palisade harness: removing stale temp dir {name}");
            let _ = fs::remove_dir_all(tmp.join(&name));
        }
    }
}

/// Reaps stale resources, once per process.
pub(crate) fn reap_stale_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(reap_stale);
}

#[cfg(test)]
mod tests {
    use super::owner;

    #[test]
    fn owner_is_the_pid_in_harness_names_only() {
        assert_eq!(owner("pal1234-7", "pal"), Some(1234));
        assert_eq!(owner("pv1234-7a", "pv"), Some(1234));
        assert_eq!(owner("palace", "pal"), None);
        assert_eq!(owner("eth0", "pv"), None);
        assert_eq!(owner("palisade-h99-web1-AbCd", "palisade-h"), Some(99));
    }
}
