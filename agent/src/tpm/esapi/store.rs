//! On-disk state of the attestation key: `ak.pub`, `ak.priv` and `ak.json` in the state directory.
//!
//! The AK is what the verifier enrols, so this module never replaces one it cannot use: a partial,
//! unreadable or mismatched set of files is a [`TpmError::KeyState`] for the operator to resolve.
//! Files are written to a temporary name, synced, then renamed, so a crash leaves either the old
//! file or the new one; the directory is `0700`, the files `0600`.

use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::tpm::{KeyAlg, TpmError};

/// File holding the AK public area, a marshalled TPMT_PUBLIC.
pub(super) const AK_PUB: &str = "ak.pub";
/// File holding the AK private blob (TPM2B_PRIVATE contents, wrapped by the EK).
pub(super) const AK_PRIV: &str = "ak.priv";
/// File recording what the AK was created with.
pub(super) const AK_META: &str = "ak.json";

/// The version of `ak.json` this code writes and reads.
const META_FORMAT: u32 = 1;

/// The contents of `ak.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct AkMeta {
    /// Layout version of this file.
    pub format: u32,
    /// The EK algorithm the AK was created under (its parent).
    pub ek_alg: KeyAlg,
    /// The AK's own algorithm.
    pub ak_alg: KeyAlg,
    /// The AK's TPM Name, hex, for operators matching it against the verifier's record.
    pub ak_name: String,
}

impl AkMeta {
    /// Metadata for a new AK.
    pub(super) fn new(ek_alg: KeyAlg, ak_alg: KeyAlg, ak_name: &[u8]) -> Self {
        Self {
            format: META_FORMAT,
            ek_alg,
            ak_alg,
            ak_name: hex::encode(ak_name),
        }
    }
}

/// A persisted AK as read from disk.
#[derive(Debug)]
pub(super) struct StoredAk {
    /// Marshalled TPMT_PUBLIC.
    pub public: Vec<u8>,
    /// Private blob bytes.
    pub private: Vec<u8>,
    /// What it was created with.
    pub meta: AkMeta,
}

/// The AK files under one state directory.
#[derive(Debug, Clone)]
pub(super) struct AkStore {
    dir: PathBuf,
}

impl AkStore {
    pub(super) fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Reads the stored AK: `Ok(None)` when none of the three files exists, an error when only
    /// some do or one cannot be read or parsed.
    pub(super) fn load(&self) -> Result<Option<StoredAk>, TpmError> {
        let public = read_optional(&self.path(AK_PUB))?;
        let private = read_optional(&self.path(AK_PRIV))?;
        let meta = read_optional(&self.path(AK_META))?;
        match (public, private, meta) {
            (None, None, None) => Ok(None),
            (Some(public), Some(private), Some(meta)) => {
                let meta: AkMeta =
                    serde_json::from_slice(&meta).map_err(|e| TpmError::KeyState {
                        path: self.path(AK_META),
                        reason: format!("cannot parse: {e}"),
                    })?;
                if meta.format != META_FORMAT {
                    return Err(TpmError::KeyState {
                        path: self.path(AK_META),
                        reason: format!(
                            "format {} is not the supported format {META_FORMAT}",
                            meta.format
                        ),
                    });
                }
                Ok(Some(StoredAk {
                    public,
                    private,
                    meta,
                }))
            }
            (public, private, meta) => {
                let missing: Vec<&str> = [(AK_PUB, public.is_none()), (AK_PRIV, private.is_none())]
                    .into_iter()
                    .chain([(AK_META, meta.is_none())])
                    .filter_map(|(name, absent)| absent.then_some(name))
                    .collect();
                Err(TpmError::KeyState {
                    path: self.dir.clone(),
                    reason: format!(
                        "incomplete attestation key state: {} missing; refusing to create a new \
                         AK over a partial one (move the directory aside to re-enrol)",
                        missing.join(", ")
                    ),
                })
            }
        }
    }

    /// Writes a new AK. The metadata goes last, so it marks a complete set.
    pub(super) fn save(
        &self,
        public: &[u8],
        private: &[u8],
        meta: &AkMeta,
    ) -> Result<(), TpmError> {
        self.create_dir()?;
        let meta = serde_json::to_vec_pretty(meta).map_err(|e| TpmError::KeyState {
            path: self.path(AK_META),
            reason: format!("cannot serialise: {e}"),
        })?;
        write_atomic(&self.path(AK_PUB), public)?;
        write_atomic(&self.path(AK_PRIV), private)?;
        write_atomic(&self.path(AK_META), &meta)?;
        sync_dir(&self.dir)
    }

    fn create_dir(&self) -> Result<(), TpmError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| io_error(&self.dir, "cannot create the state directory", &e))?;
        // An existing directory keeps its mode: say so if others can reach into it.
        let mode = fs::metadata(&self.dir)
            .map_err(|e| io_error(&self.dir, "cannot stat the state directory", &e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                dir = %self.dir.display(),
                mode = format_args!("{:o}", mode & 0o777),
                "the AK state directory is accessible to other users"
            );
        }
        Ok(())
    }
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, TpmError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path, "cannot read", &e)),
    }
}

/// Writes `bytes` to `path` through a synced temporary file in the same directory and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TpmError> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".tmp.{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let write = || -> std::io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        // `mode` applies only on creation: a stale temporary file keeps its old mode otherwise.
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_error(path, "cannot write", &e)
    })
}

fn sync_dir(dir: &Path) -> Result<(), TpmError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, "cannot sync the state directory", &e))
}

fn io_error(path: &Path, what: &str, e: &std::io::Error) -> TpmError {
    TpmError::KeyState {
        path: path.to_path_buf(),
        reason: format!("{what}: {e}"),
    }
}
