//! The agent's persisted dedicated log: entries as JSON lines (`log.jsonl`) and the canonical
//! document each entry measured (`docs/<seq>.json`), written before the PCR is extended.
//!
//! Write order is persist → fsync → extend, so a crash can leave at most one entry that was
//! written but never extended; recovery ([`crate::recovery`]) drops it. The reverse order could
//! leave the PCR ahead of every log, which no recovery can explain.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use palisade_evidence::log::LogEntry;

/// Failure reading or writing the persisted log.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A line of the log is not an entry (not the torn last line, which is repaired).
    #[error("{path}: line {line} is not a log entry: {reason}")]
    Corrupt {
        /// The log file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The parse error.
        reason: String,
    },
}

/// What was on disk.
#[derive(Debug, Default)]
pub struct Stored {
    /// Entries in order.
    pub entries: Vec<LogEntry>,
    /// Document bytes by entry sequence number (only those still kept).
    pub documents: BTreeMap<u64, Vec<u8>>,
}

/// The on-disk log of one agent.
#[derive(Debug, Clone)]
pub struct LogStore {
    dir: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl LogStore {
    /// Opens (creating, mode 0700) the log directory.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let dir = dir.into();
        let docs = dir.join("docs");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&docs)
            .map_err(io(&docs))?;
        Ok(Self { dir })
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("log.jsonl")
    }

    fn doc_path(&self, seq: u64) -> PathBuf {
        self.dir.join("docs").join(format!("{seq}.json"))
    }

    /// Reads every entry and kept document. A torn final line (crash mid-write) is cut off.
    pub fn load(&self) -> Result<Stored, StoreError> {
        let path = self.log_path();
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Stored::default()),
            Err(e) => return Err(io(&path)(e)),
        };
        let mut entries = Vec::new();
        let mut good_len = 0u64;
        let lines: Vec<String> = BufReader::new(file)
            .lines()
            .collect::<Result<_, _>>()
            .map_err(io(&path))?;
        let last = lines.len();
        for (i, line) in lines.iter().enumerate() {
            match serde_json::from_str::<LogEntry>(line) {
                Ok(entry) => {
                    entries.push(entry);
                    good_len += line.len() as u64 + 1;
                }
                Err(e) if i + 1 == last => {
                    tracing::warn!(path = %path.display(), error = %e, "dropping torn last log line");
                    let f = OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(io(&path))?;
                    f.set_len(good_len).map_err(io(&path))?;
                    f.sync_all().map_err(io(&path))?;
                }
                Err(e) => {
                    return Err(StoreError::Corrupt {
                        path,
                        line: i + 1,
                        reason: e.to_string(),
                    })
                }
            }
        }
        let mut documents = BTreeMap::new();
        for entry in &entries {
            if let Ok(bytes) = fs::read(self.doc_path(entry.seq)) {
                documents.insert(entry.seq, bytes);
            }
        }
        Ok(Stored { entries, documents })
    }

    /// Durably writes an entry and its document.
    pub fn append(&self, entry: &LogEntry, document: &[u8]) -> Result<(), StoreError> {
        let doc = self.doc_path(entry.seq);
        write_synced(&doc, document)?;
        let path = self.log_path();
        let mut line =
            serde_json::to_vec(entry).map_err(|e| io(&path)(std::io::Error::other(e)))?;
        line.push(b'\n');
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .map_err(io(&path))?;
        f.write_all(&line).map_err(io(&path))?;
        f.sync_all().map_err(io(&path))
    }

    /// Removes the last entry (written but never extended) and its document.
    pub fn truncate_last(&self) -> Result<(), StoreError> {
        let path = self.log_path();
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        let body = text.strip_suffix('\n').unwrap_or(&text);
        let (keep, last) = match body.rfind('\n') {
            Some(i) => (
                body.get(..=i).unwrap_or_default(),
                body.get(i + 1..).unwrap_or_default(),
            ),
            None => ("", body),
        };
        if let Ok(entry) = serde_json::from_str::<LogEntry>(last) {
            let _ = fs::remove_file(self.doc_path(entry.seq));
        }
        write_synced(&path, keep.as_bytes())
    }

    /// Deletes a superseded document.
    pub fn forget_document(&self, seq: u64) {
        let _ = fs::remove_file(self.doc_path(seq));
    }

    /// Moves the whole log aside (a new boot starts a new log) into `previous/`.
    pub fn archive(&self) -> Result<(), StoreError> {
        let prev = self.dir.join("previous");
        if prev.exists() {
            fs::remove_dir_all(&prev).map_err(io(&prev))?;
        }
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&prev)
            .map_err(io(&prev))?;
        for name in ["log.jsonl", "docs"] {
            let from = self.dir.join(name);
            if from.exists() {
                fs::rename(&from, prev.join(name)).map_err(io(&from))?;
            }
        }
        let docs = self.dir.join("docs");
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&docs)
            .map_err(io(&docs))
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = path.with_extension("tmp");
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_evidence::log::{Annotations, EventLog};
    use palisade_evidence::Sha256Digest;

    fn entries(n: u64) -> Vec<LogEntry> {
        let mut log = EventLog::new();
        for i in 0..n {
            let e = log
                .next_entry(
                    "nftables",
                    "host",
                    Sha256Digest::of(&i.to_be_bytes()),
                    Annotations::default(),
                )
                .unwrap();
            log.push(e).unwrap();
        }
        log.entries().to_vec()
    }

    #[test]
    fn append_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open(dir.path()).unwrap();
        for e in entries(3) {
            store
                .append(&e, format!("doc{}", e.seq).as_bytes())
                .unwrap();
        }
        let stored = store.load().unwrap();
        assert_eq!(stored.entries, entries(3));
        assert_eq!(stored.documents[&2], b"doc2");
    }

    #[test]
    fn torn_last_line_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open(dir.path()).unwrap();
        for e in entries(2) {
            store.append(&e, b"{}").unwrap();
        }
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join("log.jsonl"))
            .unwrap();
        f.write_all(b"{\"seq\":2,\"ki").unwrap();
        assert_eq!(store.load().unwrap().entries.len(), 2);
        // Repaired on disk: appending works and loads cleanly.
        store.append(&entries(3)[2], b"{}").unwrap();
        assert_eq!(store.load().unwrap().entries, entries(3));
    }

    #[test]
    fn corruption_in_the_middle_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open(dir.path()).unwrap();
        for e in entries(2) {
            store.append(&e, b"{}").unwrap();
        }
        let path = dir.path().join("log.jsonl");
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, format!("garbage\n{text}")).unwrap();
        assert!(matches!(
            store.load(),
            Err(StoreError::Corrupt { line: 1, .. })
        ));
    }

    #[test]
    fn truncate_last_and_archive() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open(dir.path()).unwrap();
        for e in entries(3) {
            store.append(&e, b"{}").unwrap();
        }
        store.truncate_last().unwrap();
        let stored = store.load().unwrap();
        assert_eq!(stored.entries, entries(2));
        assert!(!stored.documents.contains_key(&2));
        store.archive().unwrap();
        assert!(store.load().unwrap().entries.is_empty());
        assert!(dir.path().join("previous/log.jsonl").exists());
    }
}
