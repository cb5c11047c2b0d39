//! A handle on a network namespace, and running work inside it.
//!
//! `setns(2)` changes the namespace of the calling *thread* only, so work for another namespace
//! runs on a short-lived thread that enters it first; processes spawned from that thread (such as
//! `nft`) inherit the namespace. The caller's threads are never moved.

use std::fs::File;
use std::path::{Path, PathBuf};

use nix::sched::{setns, CloneFlags};

/// Failure to enter a namespace or to run work in it.
#[derive(Debug, thiserror::Error)]
pub enum NetNsError {
    /// The namespace file could not be opened.
    #[error("cannot open network namespace {path}: {source}")]
    Open {
        /// Path of the namespace file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `setns` failed (not root, or not a network namespace).
    #[error("cannot enter network namespace {path}: {source}")]
    Enter {
        /// Path of the namespace file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: nix::Error,
    },
    /// The worker thread could not be started or panicked.
    #[error("worker thread for network namespace {path} failed")]
    Thread {
        /// Path of the namespace file.
        path: PathBuf,
    },
}

/// Which network namespace to read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NetNs {
    /// The namespace of the calling process.
    Current,
    /// A namespace file: `/run/netns/NAME` (from `ip netns add`) or `/proc/PID/ns/net`.
    Path(PathBuf),
}

impl NetNs {
    /// A namespace created by `ip netns add NAME`.
    pub fn named(name: &str) -> Self {
        Self::Path(Path::new("/run/netns").join(name))
    }

    /// A short name for logs and log entries: `host` for the current namespace, else the file name.
    pub fn label(&self) -> String {
        match self {
            Self::Current => "host".to_owned(),
            Self::Path(p) => p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
        }
    }

    /// Runs `work` inside this namespace and returns its result.
    pub fn run<T, F>(&self, work: F) -> Result<T, NetNsError>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        let path = match self {
            Self::Current => return Ok(work()),
            Self::Path(p) => p,
        };
        let file = File::open(path).map_err(|source| NetNsError::Open {
            path: path.clone(),
            source,
        })?;
        std::thread::scope(|scope| {
            let handle = std::thread::Builder::new()
                .name("netns".to_owned())
                .spawn_scoped(scope, move || {
                    setns(&file, CloneFlags::CLONE_NEWNET).map_err(|source| NetNsError::Enter {
                        path: path.clone(),
                        source,
                    })?;
                    Ok(work())
                })
                .map_err(|_| NetNsError::Thread { path: path.clone() })?;
            handle
                .join()
                .map_err(|_| NetNsError::Thread { path: path.clone() })?
        })
    }
}

impl std::fmt::Display for NetNs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Current => f.write_str("current network namespace"),
            Self::Path(p) => write!(f, "network namespace {}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(NetNs::Current.label(), "host");
        assert_eq!(NetNs::named("web1").label(), "web1");
        assert_eq!(NetNs::Path("/proc/1/ns/net".into()).label(), "net");
    }

    #[test]
    fn missing_namespace_is_an_open_error() {
        let err = NetNs::named("palisade-does-not-exist")
            .run(|| ())
            .unwrap_err();
        assert!(matches!(err, NetNsError::Open { .. }), "{err}");
    }

    #[test]
    fn current_runs_inline() {
        assert_eq!(NetNs::Current.run(|| 41 + 1).unwrap(), 42);
    }
}
