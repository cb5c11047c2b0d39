//! IMA measurement lists and TCG2 UEFI event logs: parsing, replay into PCR banks, Keylime-compatible
//! runtime policy, boot reference state. Pure: no I/O, every input is attacker-controlled bytes.
#![forbid(unsafe_code)]

pub mod hash;
pub mod list;
pub mod policy;
pub mod replay;
pub mod uefi;
pub mod verify;

pub use hash::{DigestBuf, DigestTooLong, HashAlg, UnknownAlg};
pub use list::{Entry, Event, FileDigest, ListError};
