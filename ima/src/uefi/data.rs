//! Decoders for event data by event type: strings, firmware blobs, image loads, GPT, hand-off
//! tables, EV_NO_ACTION. Failures become [`EventData::Invalid`]; they never fail the log.

use serde::Serialize;

use super::devpath::device_path_to_text;
use super::read::{decode_text, Guid, Reader, Short, TextEncoding};
use super::types::EventType as T;
use super::variable::{decode_variable, Variable};
use super::{EventType, SpecId};

/// What an event's data says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventData {
    /// The first event's header.
    SpecId(SpecId),
    /// EV_NO_ACTION `StartupLocality`: the locality PCR 0 was reset in (its initial last byte).
    StartupLocality {
        locality: u8,
    },
    /// Another EV_NO_ACTION event, named by its 16-byte signature.
    NoAction {
        signature: String,
    },
    /// A string (EV_ACTION, EV_EFI_ACTION, EV_IPL, EV_POST_CODE, EV_S_CRTM_VERSION, ...).
    Text {
        text: String,
        encoding: TextEncoding,
    },
    Separator {
        separator: SeparatorKind,
    },
    /// UEFI_PLATFORM_FIRMWARE_BLOB: where the measured code lies.
    FirmwareBlob {
        base: u64,
        length: u64,
    },
    /// UEFI_PLATFORM_FIRMWARE_BLOB2.
    FirmwareBlob2 {
        description: String,
        base: u64,
        length: u64,
    },
    /// UEFI_VARIABLE_DATA.
    Variable(Variable),
    /// UEFI_IMAGE_LOAD_EVENT.
    ImageLoad(ImageLoad),
    /// UEFI_GPT_DATA.
    Gpt(GptEvent),
    /// UEFI_HANDOFF_TABLE_POINTERS(2).
    HandoffTables(HandoffTables),
    /// Binary data this crate does not decode (see the event's raw `data`).
    Raw,
    /// Data that should have decoded for this type but did not.
    Invalid {
        error: String,
    },
}

/// EV_SEPARATOR value: 0 normally, 0xffffffff when firmware signals an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeparatorKind {
    Normal,
    Error,
    Other,
}

/// UEFI_IMAGE_LOAD_EVENT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageLoad {
    pub image_location: u64,
    pub image_length: u64,
    pub link_time_address: u64,
    pub device_path_length: u64,
    /// The device path as UEFI text (`PciRoot(0x0)/Pci(0x1,0x0)/.../File(\EFI\BOOT\BOOTX64.EFI)`).
    pub device_path: String,
}

/// UEFI_GPT_DATA: the GPT header and the partitions in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GptEvent {
    pub signature: String,
    pub revision: u32,
    pub header_size: u32,
    pub my_lba: u64,
    pub alternate_lba: u64,
    pub first_usable_lba: u64,
    pub last_usable_lba: u64,
    pub disk_guid: Guid,
    pub partition_entry_lba: u64,
    pub number_of_partition_entries: u32,
    pub size_of_partition_entry: u32,
    pub partitions: Vec<GptPartition>,
}

/// One GPT partition entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GptPartition {
    pub type_guid: Guid,
    pub unique_guid: Guid,
    pub starting_lba: u64,
    pub ending_lba: u64,
    pub attributes: u64,
    pub name: String,
}

/// UEFI_HANDOFF_TABLE_POINTERS(2): configuration tables handed to the OS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandoffTables {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub tables: Vec<HandoffTable>,
}

/// One EFI_CONFIGURATION_TABLE entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandoffTable {
    pub vendor_guid: Guid,
    pub address: u64,
}

const STARTUP_LOCALITY: &[u8; 16] = b"StartupLocality\0";

/// Decodes the data of an event of type `ty`.
pub(crate) fn decode(ty: EventType, data: &[u8], spec: &SpecId) -> EventData {
    let result = match ty {
        T::EV_NO_ACTION => Ok(no_action(data)),
        T::EV_SEPARATOR => Ok(EventData::Separator {
            separator: separator(data),
        }),
        T::EV_ACTION | T::EV_EFI_ACTION => Ok(text(data).unwrap_or_else(|| EventData::Invalid {
            error: "action event data is not text".into(),
        })),
        T::EV_IPL
        | T::EV_S_CRTM_VERSION
        | T::EV_COMPACT_HASH
        | T::EV_OMIT_BOOT_DEVICE_EVENTS
        | T::EV_EFI_HCRTM_EVENT
        | T::EV_PLATFORM_CONFIG_FLAGS => Ok(text(data).unwrap_or(EventData::Raw)),
        T::EV_POST_CODE | T::EV_S_CRTM_CONTENTS if data.len() == 16 => blob(data),
        T::EV_POST_CODE | T::EV_S_CRTM_CONTENTS => Ok(text(data).unwrap_or(EventData::Raw)),
        T::EV_EFI_PLATFORM_FIRMWARE_BLOB => blob(data),
        T::EV_EFI_PLATFORM_FIRMWARE_BLOB2 => blob2(data),
        T::EV_EFI_VARIABLE_DRIVER_CONFIG
        | T::EV_EFI_VARIABLE_BOOT
        | T::EV_EFI_VARIABLE_BOOT2
        | T::EV_EFI_VARIABLE_AUTHORITY => decode_variable(ty, data).map(EventData::Variable),
        T::EV_EFI_BOOT_SERVICES_APPLICATION
        | T::EV_EFI_BOOT_SERVICES_DRIVER
        | T::EV_EFI_RUNTIME_SERVICES_DRIVER => image_load(data, spec.uintn_bytes()),
        T::EV_EFI_GPT_EVENT | T::EV_EFI_GPT_EVENT2 => gpt(data),
        T::EV_EFI_HANDOFF_TABLES => handoff(data, false, spec.uintn_bytes()),
        T::EV_EFI_HANDOFF_TABLES2 => handoff(data, true, spec.uintn_bytes()),
        _ => Ok(EventData::Raw),
    };
    result.unwrap_or_else(|error| EventData::Invalid { error })
}

fn text(data: &[u8]) -> Option<EventData> {
    decode_text(data).map(|(text, encoding)| EventData::Text { text, encoding })
}

fn no_action(data: &[u8]) -> EventData {
    if let (Some(sig), Some(&locality), 17) = (data.get(..16), data.get(16), data.len()) {
        if sig == STARTUP_LOCALITY {
            return EventData::StartupLocality { locality };
        }
    }
    match data.get(..16).and_then(decode_text) {
        Some((signature, _)) if !signature.is_empty() => EventData::NoAction { signature },
        _ => EventData::Raw,
    }
}

fn separator(data: &[u8]) -> SeparatorKind {
    match data {
        [0, 0, 0, 0] => SeparatorKind::Normal,
        [0xff, 0xff, 0xff, 0xff] => SeparatorKind::Error,
        _ => SeparatorKind::Other,
    }
}

fn short(s: Short) -> String {
    s.to_string()
}

fn trailing(r: &Reader<'_>, what: &str) -> Result<(), String> {
    match r.remaining() {
        0 => Ok(()),
        n => Err(format!("{n} bytes after the {what}")),
    }
}

fn blob(data: &[u8]) -> Result<EventData, String> {
    let mut r = Reader::new(data);
    let base = r.u64("BlobBase").map_err(short)?;
    let length = r.u64("BlobLength").map_err(short)?;
    trailing(&r, "firmware blob")?;
    Ok(EventData::FirmwareBlob { base, length })
}

fn blob2(data: &[u8]) -> Result<EventData, String> {
    let mut r = Reader::new(data);
    let size = r.u8("BlobDescriptionSize").map_err(short)?;
    let description = r.take(u64::from(size), "BlobDescription").map_err(short)?;
    let description = decode_text(description).map_or_else(|| hex::encode(description), |t| t.0);
    let base = r.u64("BlobBase").map_err(short)?;
    let length = r.u64("BlobLength").map_err(short)?;
    trailing(&r, "firmware blob")?;
    Ok(EventData::FirmwareBlob2 {
        description,
        base,
        length,
    })
}

fn image_load(data: &[u8], uintn: usize) -> Result<EventData, String> {
    let mut r = Reader::new(data);
    let image_location = r.u64("ImageLocationInMemory").map_err(short)?;
    let image_length = r.uintn(uintn, "ImageLengthInMemory").map_err(short)?;
    let link_time_address = r.uintn(uintn, "ImageLinkTimeAddress").map_err(short)?;
    let device_path_length = r.uintn(uintn, "LengthOfDevicePath").map_err(short)?;
    let path = r.take(device_path_length, "DevicePath").map_err(short)?;
    trailing(&r, "device path")?;
    Ok(EventData::ImageLoad(ImageLoad {
        image_location,
        image_length,
        link_time_address,
        device_path_length,
        device_path: device_path_to_text(path),
    }))
}

/// Size of EFI_PARTITION_TABLE_HEADER as the event carries it.
const GPT_HEADER_SIZE: usize = 92;
/// Bytes of a partition entry this decoder reads (GUIDs, LBAs, attributes, 36-char name).
const GPT_ENTRY_MIN: u32 = 128;

fn gpt(data: &[u8]) -> Result<EventData, String> {
    let mut r = Reader::new(data);
    let header = r
        .take(GPT_HEADER_SIZE as u64, "GPT header")
        .map_err(short)?;
    let mut h = Reader::new(header);
    let s = |e: Short| e.to_string();
    let signature: [u8; 8] = h.array("Signature").map_err(s)?;
    let signature = String::from_utf8_lossy(&signature).into_owned();
    let revision = h.u32("Revision").map_err(s)?;
    let header_size = h.u32("HeaderSize").map_err(s)?;
    h.take(8, "HeaderCRC32 and Reserved").map_err(s)?;
    let my_lba = h.u64("MyLBA").map_err(s)?;
    let alternate_lba = h.u64("AlternateLBA").map_err(s)?;
    let first_usable_lba = h.u64("FirstUsableLBA").map_err(s)?;
    let last_usable_lba = h.u64("LastUsableLBA").map_err(s)?;
    let disk_guid = h.guid("DiskGUID").map_err(s)?;
    let partition_entry_lba = h.u64("PartitionEntryLBA").map_err(s)?;
    let number_of_partition_entries = h.u32("NumberOfPartitionEntries").map_err(s)?;
    let size_of_partition_entry = h.u32("SizeOfPartitionEntry").map_err(s)?;
    let count = r.u64("NumberOfPartitions").map_err(short)?;
    if size_of_partition_entry < GPT_ENTRY_MIN {
        return Err(format!(
            "SizeOfPartitionEntry {size_of_partition_entry} is below 128"
        ));
    }
    let entry = u64::from(size_of_partition_entry);
    if count
        .checked_mul(entry)
        .is_none_or(|total| total != r.remaining() as u64)
    {
        return Err(format!(
            "{count} partitions of {entry} bytes do not fill the {} bytes left",
            r.remaining()
        ));
    }
    let mut partitions = Vec::new();
    for _ in 0..count {
        let mut p = Reader::new(r.take(entry, "partition entry").map_err(short)?);
        partitions.push(GptPartition {
            type_guid: p.guid("PartitionTypeGUID").map_err(s)?,
            unique_guid: p.guid("UniquePartitionGUID").map_err(s)?,
            starting_lba: p.u64("StartingLBA").map_err(s)?,
            ending_lba: p.u64("EndingLBA").map_err(s)?,
            attributes: p.u64("Attributes").map_err(s)?,
            name: super::read::utf16_until_nul(p.take(72, "PartitionName").map_err(s)?),
        });
    }
    Ok(EventData::Gpt(GptEvent {
        signature,
        revision,
        header_size,
        my_lba,
        alternate_lba,
        first_usable_lba,
        last_usable_lba,
        disk_guid,
        partition_entry_lba,
        number_of_partition_entries,
        size_of_partition_entry,
        partitions,
    }))
}

fn handoff(data: &[u8], described: bool, uintn: usize) -> Result<EventData, String> {
    let mut r = Reader::new(data);
    let description = if described {
        let size = r.u8("TableDescriptionSize").map_err(short)?;
        let bytes = r.take(u64::from(size), "TableDescription").map_err(short)?;
        Some(decode_text(bytes).map_or_else(|| hex::encode(bytes), |t| t.0))
    } else {
        None
    };
    let count = r.u64("NumberOfTables").map_err(short)?;
    let entry = 16 + uintn as u64;
    if count
        .checked_mul(entry)
        .is_none_or(|total| total != r.remaining() as u64)
    {
        return Err(format!(
            "{count} tables do not fill the {} bytes left",
            r.remaining()
        ));
    }
    let mut tables = Vec::new();
    for _ in 0..count {
        let vendor_guid = r.guid("VendorGuid").map_err(short)?;
        let address = r.uintn(uintn, "VendorTable").map_err(short)?;
        tables.push(HandoffTable {
            vendor_guid,
            address,
        });
    }
    Ok(EventData::HandoffTables(HandoffTables {
        description,
        tables,
    }))
}
