//! Kernel-wide security state: loaded modules (or the fact that the kernel cannot load any),
//! security-relevant sysctls and the lockdown mode, reduced to the canonical document
//! `palisade.kernel/1` (rules in `docs/canonical-runtime.md`).
//!
//! The state is global, not per network namespace; the few `net.*` sysctls in the table are
//! read in the calling thread's namespace (the agent's own).
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use palisade_collectors::runtime::kernel;
//! let state = kernel::read()?;
//! let canonical = state.canonical()?; // the measured bytes and their SHA-256
//! println!("{}", serde_json::to_string_pretty(&state)?);
//! # let _ = canonical; Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use palisade_evidence::{Canonical, CanonicalError};
use serde::{Deserialize, Serialize};

/// The document format this module writes.
pub const FORMAT: &str = "palisade.kernel/1";

/// The sysctls measured, by dotted name (the file is `/proc/sys/` + the name with `.` → `/`).
/// Adding one is one line; the per-namespace forwarding and `rp_filter` family is in the
/// network document instead.
pub const SYSCTLS: &[&str] = &[
    "kernel.dmesg_restrict",
    "kernel.kexec_load_disabled",
    "kernel.kptr_restrict",
    "kernel.modules_disabled",
    "kernel.perf_event_paranoid",
    "kernel.sysrq",
    "kernel.unprivileged_bpf_disabled",
    "kernel.unprivileged_userns_clone",
    "kernel.yama.ptrace_scope",
    "net.core.bpf_jit_enable",
    "net.core.bpf_jit_harden",
    "net.core.bpf_jit_kallsyms",
    "net.ipv4.conf.all.log_martians",
    "user.max_user_namespaces",
];

/// `/proc/modules`, below the root.
const MODULES: &str = "proc/modules";
/// The lockdown LSM's state, below the root.
const LOCKDOWN: &str = "sys/kernel/security/lockdown";

/// Failure to read the kernel's state.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// A file exists but could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A line of `/proc/modules` is not in the kernel's format.
    #[error("{path} line {line}: cannot parse {text:?}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
}

/// The kernel's security state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Kernel {
    /// Always [`FORMAT`].
    pub format: String,
    /// Loadable modules.
    pub modules: Modules,
    /// Every name of [`SYSCTLS`] → its value (trimmed, whitespace runs collapsed to one
    /// space), `null` when the kernel has no such file.
    pub sysctls: BTreeMap<String, Option<String>>,
    /// Lockdown mode (`none`, `integrity`, `confidentiality`), `null` without the lockdown LSM
    /// or securityfs.
    pub lockdown: Option<String>,
}

/// Loadable kernel modules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Modules {
    /// Whether the kernel supports modules at all (`/proc/modules` exists).
    pub supported: bool,
    /// Loaded modules, sorted by name.
    pub loaded: Vec<Module>,
}

/// One loaded module.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(default)]
pub struct Module {
    /// Module name.
    pub name: String,
    /// `Live`, `Loading` or `Unloading`.
    pub state: String,
    /// Taint letters the module carries (`O` out of tree, `E` unsigned, `P` proprietary, …),
    /// absent when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taints: Option<String>,
}

impl Kernel {
    /// Sorts the module list. [`read`] returns documents already in this form.
    pub fn normalize(&mut self) {
        self.modules.loaded.sort();
    }

    /// The RFC 8785 canonical form: the bytes that are measured (normalised first, so they
    /// depend on the content only).
    pub fn canonical(&self) -> Result<Canonical, CanonicalError> {
        let mut normalized = self.clone();
        normalized.normalize();
        Canonical::from_serialize(&normalized)
    }
}

/// Reads the running kernel's state.
pub fn read() -> Result<Kernel, KernelError> {
    read_from(Path::new("/"))
}

/// Reads the state from a tree laid out like `/` (`proc/modules`, `proc/sys/…`,
/// `sys/kernel/security/lockdown`); tests point it at a directory of their own.
pub fn read_from(root: &Path) -> Result<Kernel, KernelError> {
    let modules_path = root.join(MODULES);
    let modules = match read_optional(&modules_path)? {
        None => Modules {
            supported: false,
            loaded: Vec::new(),
        },
        Some(text) => Modules {
            supported: true,
            loaded: parse_modules(&text).map_err(|(line, text)| KernelError::Malformed {
                path: modules_path,
                line,
                text,
            })?,
        },
    };
    let mut sysctls = BTreeMap::new();
    for name in SYSCTLS {
        let path = root.join("proc/sys").join(name.replace('.', "/"));
        let value = read_optional(&path)?.map(|t| sysctl_value(&t));
        sysctls.insert((*name).to_owned(), value);
    }
    let lockdown = read_optional(&root.join(LOCKDOWN))?.map(|t| parse_lockdown(&t));
    let mut kernel = Kernel {
        format: FORMAT.to_owned(),
        modules,
        sysctls,
        lockdown,
    };
    kernel.normalize();
    Ok(kernel)
}

/// A file's text, `None` when it does not exist.
fn read_optional(path: &Path) -> Result<Option<String>, KernelError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(source) => Err(KernelError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Parses `/proc/modules`: `name size refcount users state address [(taints)]`, keeping name,
/// state and taints. The first bad line is returned as `(1-based number, text)`.
pub(crate) fn parse_modules(text: &str) -> Result<Vec<Module>, (usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = || (n.saturating_add(1), line.to_owned());
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [name, size, refcount, _users, state, rest @ ..] = fields.as_slice() else {
            return Err(bad());
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(size) || !(digits(refcount) || *refcount == "-") {
            return Err(bad());
        }
        // After the address, the kernel prints the taints in parentheses when there are any.
        let taints = match rest {
            [] | [_] => None,
            [_, taints] => {
                let letters = taints.strip_prefix('(').and_then(|t| t.strip_suffix(')'));
                Some(letters.ok_or_else(bad)?.to_owned())
            }
            _ => return Err(bad()),
        };
        out.push(Module {
            name: (*name).to_owned(),
            state: (*state).to_owned(),
            taints: taints.filter(|t| !t.is_empty()),
        });
    }
    out.sort();
    Ok(out)
}

/// A sysctl's text, trimmed, with whitespace runs collapsed to one space.
pub(crate) fn sysctl_value(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The active mode from `/sys/kernel/security/lockdown` (`none [integrity] confidentiality`
/// → `integrity`); text without a bracketed word is kept whole, so a policy that expects a
/// mode fails on it.
pub(crate) fn parse_lockdown(text: &str) -> String {
    text.split_whitespace()
        .find_map(|w| w.strip_prefix('[').and_then(|w| w.strip_suffix(']')))
        .map_or_else(|| sysctl_value(text), str::to_owned)
}

#[cfg(test)]
mod tests;
