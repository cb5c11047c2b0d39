//! Boot reference state from a UEFI event log: Secure Boot, PK/KEK/db/dbx contents, boot
//! applications, authorities, kernel command lines, separators. It becomes the `boot` part of the
//! policy input document.

use serde::{Deserialize, Serialize};

use super::variable::{EFI_GLOBAL_VARIABLE, EFI_IMAGE_SECURITY_DATABASE};
use super::{Bank, Event, EventData, EventLog, EventType, SeparatorKind, TextEncoding};
use super::{SignatureType, VariableValue};
use crate::HashAlg;

/// What a boot measured, in the terms a boot policy checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootReference {
    /// From the SecureBoot EV_EFI_VARIABLE_DRIVER_CONFIG event; `None` if the log has none.
    pub secure_boot: Option<bool>,
    pub pk: Option<SecureBootVariable>,
    pub kek: Option<SecureBootVariable>,
    pub db: Option<SecureBootVariable>,
    pub dbx: Option<SecureBootVariable>,
    /// EV_EFI_BOOT_SERVICES_APPLICATION events, in order (shim, grub, kernel, ...).
    pub boot_applications: Vec<BootApplication>,
    /// EV_EFI_VARIABLE_AUTHORITY events: the certificates that authorised images.
    pub authorities: Vec<Authority>,
    /// The last kernel command line measured (grub `kernel_cmdline: ...`, systemd-boot/stub).
    pub kernel_cmdline: Option<String>,
    /// Every kernel command line measured, in order.
    pub kernel_cmdlines: Vec<String>,
    pub separators: Vec<Separator>,
}

/// A Secure Boot variable (PK, KEK, db, dbx) as measured into PCR 7.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecureBootVariable {
    /// SHA-256 of the variable data (all its signature lists).
    pub sha256: String,
    /// X.509 entries: SHA-256 of each DER certificate, with the entry's owner.
    pub certificates: Vec<ReferenceEntry>,
    /// Hash entries (sha256 lists in dbx and db): the hashes themselves.
    pub hashes: Vec<ReferenceEntry>,
    /// Other entry types: SHA-256 of the entry data.
    pub others: Vec<ReferenceEntry>,
}

/// One signature-list entry as reference state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceEntry {
    /// The signature type (`x509`, `sha256`, ... or its GUID).
    #[serde(rename = "type")]
    pub signature_type: String,
    pub owner: String,
    /// For certificates and other types the SHA-256 of the data; for hash types the hash.
    pub digest: String,
}

/// One boot application (EV_EFI_BOOT_SERVICES_APPLICATION).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootApplication {
    pub event: usize,
    pub pcr: u32,
    /// The event's SHA-256 digest (the image's Authenticode hash), if the log has that bank.
    pub sha256: Option<String>,
    pub device_path: Option<String>,
}

/// One EV_EFI_VARIABLE_AUTHORITY event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authority {
    pub event: usize,
    /// The variable the authority came from (`db`, `MokList`, `Shim`, `SbatLevel`...).
    pub variable: String,
    pub vendor_guid: String,
    pub owner: Option<String>,
    /// SHA-256 of the certificate (the signature data without its owner), or of the variable data.
    pub sha256: String,
}

/// One EV_SEPARATOR event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Separator {
    pub event: usize,
    pub pcr: u32,
    pub value: String,
    /// The firmware signalled an error (0xffffffff) instead of the normal 0.
    pub error: bool,
}

fn sha256(data: &[u8]) -> String {
    hex::encode(HashAlg::Sha256.digest(&[data]))
}

impl BootReference {
    /// Extracts the reference state of `log`.
    pub fn from_log(log: &EventLog) -> Self {
        let mut out = Self {
            secure_boot: None,
            pk: None,
            kek: None,
            db: None,
            dbx: None,
            boot_applications: Vec::new(),
            authorities: Vec::new(),
            kernel_cmdline: None,
            kernel_cmdlines: Vec::new(),
            separators: Vec::new(),
        };
        for event in log.events().iter().skip(1) {
            out.add(event);
        }
        out.kernel_cmdline = out.kernel_cmdlines.last().cloned();
        out
    }

    fn add(&mut self, event: &Event) {
        match (&event.event_type, &event.decoded) {
            (&EventType::EV_EFI_VARIABLE_DRIVER_CONFIG, EventData::Variable(var)) => {
                let slot = match var.name.as_str() {
                    "SecureBoot" if var.is(EFI_GLOBAL_VARIABLE, "SecureBoot") => {
                        if let VariableValue::Bool { enabled } = var.value {
                            self.secure_boot.get_or_insert(enabled);
                        }
                        return;
                    }
                    "PK" if var.is(EFI_GLOBAL_VARIABLE, "PK") => &mut self.pk,
                    "KEK" if var.is(EFI_GLOBAL_VARIABLE, "KEK") => &mut self.kek,
                    "db" if var.is(EFI_IMAGE_SECURITY_DATABASE, "db") => &mut self.db,
                    "dbx" if var.is(EFI_IMAGE_SECURITY_DATABASE, "dbx") => &mut self.dbx,
                    _ => return,
                };
                if slot.is_none() {
                    *slot = Some(secure_boot_variable(&var.data, &var.value));
                }
            }
            (&EventType::EV_EFI_BOOT_SERVICES_APPLICATION, decoded) => {
                self.boot_applications.push(BootApplication {
                    event: event.number,
                    pcr: event.pcr,
                    sha256: event.digest(Bank::Known(HashAlg::Sha256)).map(hex::encode),
                    device_path: match decoded {
                        EventData::ImageLoad(image) => Some(image.device_path.clone()),
                        _ => None,
                    },
                });
            }
            (&EventType::EV_EFI_VARIABLE_AUTHORITY, EventData::Variable(var)) => {
                let (owner, sha) = match &var.value {
                    VariableValue::Authority(entry) => {
                        (Some(entry.owner.to_string()), sha256(&entry.data))
                    }
                    _ => (None, sha256(&var.data)),
                };
                self.authorities.push(Authority {
                    event: event.number,
                    variable: var.name.clone(),
                    vendor_guid: var.vendor_guid.to_string(),
                    owner,
                    sha256: sha,
                });
            }
            (&EventType::EV_IPL, EventData::Text { text, encoding }) => {
                if let Some(cmdline) = text.strip_prefix("kernel_cmdline: ") {
                    self.kernel_cmdlines.push(cmdline.trim().to_owned());
                } else if *encoding == TextEncoding::Utf16 && matches!(event.pcr, 8 | 12) {
                    // systemd-boot (PCR 12 since v251, PCR 8 before) and systemd-stub.
                    self.kernel_cmdlines.push(text.trim().to_owned());
                }
            }
            (&EventType::EV_SEPARATOR, EventData::Separator { separator }) => {
                self.separators.push(Separator {
                    event: event.number,
                    pcr: event.pcr,
                    value: hex::encode(&event.data),
                    error: *separator == SeparatorKind::Error,
                });
            }
            _ => {}
        }
    }
}

fn secure_boot_variable(data: &[u8], value: &VariableValue) -> SecureBootVariable {
    let mut out = SecureBootVariable {
        sha256: sha256(data),
        certificates: Vec::new(),
        hashes: Vec::new(),
        others: Vec::new(),
    };
    let VariableValue::SignatureLists { lists } = value else {
        return out;
    };
    for list in lists {
        for entry in &list.signatures {
            let (bucket, digest) = match list.signature_type {
                SignatureType::X509 => (&mut out.certificates, sha256(&entry.data)),
                t if t.is_hash() => (&mut out.hashes, hex::encode(&entry.data)),
                _ => (&mut out.others, sha256(&entry.data)),
            };
            bucket.push(ReferenceEntry {
                signature_type: list.signature_type.to_string(),
                owner: entry.owner.to_string(),
                digest,
            });
        }
    }
    out
}

impl EventLog {
    /// The boot reference state of this log.
    pub fn reference(&self) -> BootReference {
        BootReference::from_log(self)
    }
}
