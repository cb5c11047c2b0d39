//! Event types (names as in the TCG PC Client Platform Firmware Profile) and digest banks.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::HashAlg;

/// A TCG event type; unknown numbers are kept as they are.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventType(pub u32);

macro_rules! event_types {
    ($($name:ident = $value:expr,)*) => {
        impl EventType {
            $(pub const $name: EventType = EventType($value);)*

            /// The TCG name (`EV_EFI_ACTION`), if this type is one the specification defines.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

event_types! {
    EV_PREBOOT_CERT = 0x0,
    EV_POST_CODE = 0x1,
    EV_UNUSED = 0x2,
    EV_NO_ACTION = 0x3,
    EV_SEPARATOR = 0x4,
    EV_ACTION = 0x5,
    EV_EVENT_TAG = 0x6,
    EV_S_CRTM_CONTENTS = 0x7,
    EV_S_CRTM_VERSION = 0x8,
    EV_CPU_MICROCODE = 0x9,
    EV_PLATFORM_CONFIG_FLAGS = 0xa,
    EV_TABLE_OF_DEVICES = 0xb,
    EV_COMPACT_HASH = 0xc,
    EV_IPL = 0xd,
    EV_IPL_PARTITION_DATA = 0xe,
    EV_NONHOST_CODE = 0xf,
    EV_NONHOST_CONFIG = 0x10,
    EV_NONHOST_INFO = 0x11,
    EV_OMIT_BOOT_DEVICE_EVENTS = 0x12,
    EV_POST_CODE2 = 0x13,
    EV_EFI_EVENT_BASE = 0x8000_0000,
    EV_EFI_VARIABLE_DRIVER_CONFIG = 0x8000_0001,
    EV_EFI_VARIABLE_BOOT = 0x8000_0002,
    EV_EFI_BOOT_SERVICES_APPLICATION = 0x8000_0003,
    EV_EFI_BOOT_SERVICES_DRIVER = 0x8000_0004,
    EV_EFI_RUNTIME_SERVICES_DRIVER = 0x8000_0005,
    EV_EFI_GPT_EVENT = 0x8000_0006,
    EV_EFI_ACTION = 0x8000_0007,
    EV_EFI_PLATFORM_FIRMWARE_BLOB = 0x8000_0008,
    EV_EFI_HANDOFF_TABLES = 0x8000_0009,
    EV_EFI_PLATFORM_FIRMWARE_BLOB2 = 0x8000_000a,
    EV_EFI_HANDOFF_TABLES2 = 0x8000_000b,
    EV_EFI_VARIABLE_BOOT2 = 0x8000_000c,
    EV_EFI_GPT_EVENT2 = 0x8000_000d,
    EV_EFI_HCRTM_EVENT = 0x8000_0010,
    EV_EFI_VARIABLE_AUTHORITY = 0x8000_00e0,
    EV_EFI_SPDM_FIRMWARE_BLOB = 0x8000_00e1,
    EV_EFI_SPDM_FIRMWARE_CONFIG = 0x8000_00e2,
    EV_EFI_SPDM_DEVICE_POLICY = 0x8000_00e3,
    EV_EFI_SPDM_DEVICE_AUTHORITY = 0x8000_00e4,
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "0x{:08x}", self.0),
        }
    }
}

impl fmt::Debug for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A digest algorithm as a log names it: one `HashAlg` knows, or only its TPM_ALG_ID.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bank {
    Known(HashAlg),
    Unknown(u16),
}

impl Bank {
    pub fn from_tpm_id(id: u16) -> Self {
        HashAlg::from_tpm_id(id).map_or(Self::Unknown(id), Self::Known)
    }

    pub fn tpm_id(self) -> u16 {
        match self {
            Self::Known(alg) => alg.tpm_id(),
            Self::Unknown(id) => id,
        }
    }
}

impl fmt::Display for Bank {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Known(alg) => f.write_str(alg.name()),
            Self::Unknown(id) => write!(f, "0x{id:04x}"),
        }
    }
}

impl fmt::Debug for Bank {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Bank {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
