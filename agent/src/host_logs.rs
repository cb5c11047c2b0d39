//! The logs the kernel and firmware write beside the agent's own: the IMA measurement list
//! (PCR 10) and the UEFI boot event log (PCRs 0-7), read from files and sent as they are. The
//! agent does not judge them; the verifier replays them against the quote.

use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use palisade_evidence::wire::{BootLog, ImaSlice};

/// The kernel's ASCII IMA measurement list.
pub const DEFAULT_IMA_LIST: &str = "/sys/kernel/security/ima/ascii_runtime_measurements";
/// The firmware's TCG2 event log as the kernel exposes it.
pub const DEFAULT_BOOT_LOG: &str = "/sys/kernel/security/tpm0/binary_bios_measurements";
/// Largest host log the agent reads (the verifier refuses larger evidence anyway).
pub const MAX_HOST_LOG_BYTES: u64 = 48 * 1024 * 1024;

/// Where the host logs are (`None`: not sent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostLogPaths {
    /// The ASCII IMA measurement list.
    pub ima_list: Option<PathBuf>,
    /// The binary UEFI event log.
    pub boot_log: Option<PathBuf>,
}

/// Reads the IMA list's entries from `offset` (0-based) on; `None` if the file does not exist
/// (no IMA on this host). Read after the quote, so the list covers at least what was quoted.
pub fn read_ima(path: &Path, offset: u64) -> io::Result<Option<ImaSlice>> {
    let Some(bytes) = read_bounded(path)? else {
        return Ok(None);
    };
    let text = String::from_utf8(bytes)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.utf8_error()))?;
    Ok(Some(ImaSlice {
        offset,
        list: skip_lines(&text, offset).to_owned(),
    }))
}

/// Reads the boot event log; `None` if the file does not exist.
pub fn read_boot(path: &Path) -> io::Result<Option<BootLog>> {
    Ok(read_bounded(path)?.map(|bytes| BootLog { bytes }))
}

/// The text after the first `n` lines (empty if it has fewer).
fn skip_lines(text: &str, n: u64) -> &str {
    let mut rest = text;
    for _ in 0..n {
        match rest.find('\n') {
            Some(i) => rest = rest.get(i + 1..).unwrap_or_default(),
            None => return "",
        }
    }
    rest
}

/// The file's bytes (sysfs files report size 0: read to the end, bounded).
fn read_bounded(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    file.take(MAX_HOST_LOG_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_HOST_LOG_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is larger than {MAX_HOST_LOG_BYTES} bytes",
                path.display()
            ),
        ));
    }
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ima_slice_starts_at_the_requested_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ima");
        std::fs::write(&path, "a\nb\nc\n").unwrap();
        assert_eq!(read_ima(&path, 0).unwrap().unwrap().list, "a\nb\nc\n");
        let s = read_ima(&path, 2).unwrap().unwrap();
        assert_eq!((s.offset, s.list.as_str()), (2, "c\n"));
        assert_eq!(read_ima(&path, 3).unwrap().unwrap().list, "");
        assert_eq!(read_ima(&path, 9).unwrap().unwrap().list, "");
    }

    #[test]
    fn a_missing_log_is_none_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_ima(&dir.path().join("no"), 0).unwrap().is_none());
        assert!(read_boot(&dir.path().join("no")).unwrap().is_none());
        std::fs::write(dir.path().join("b"), [1, 2, 3]).unwrap();
        assert_eq!(
            read_boot(&dir.path().join("b")).unwrap().unwrap().bytes,
            [1, 2, 3]
        );
    }
}
