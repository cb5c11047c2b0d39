//! UEFI_VARIABLE_DATA and what well-known variables hold: SecureBoot, PK/KEK/db/dbx signature
//! lists, authorities, BootOrder and Boot#### load options.

use serde::Serialize;

use super::devpath::device_path_to_text;
use super::read::{read_utf16z, utf16_units, Guid, Reader, Short};
use super::siglist::{parse_signature_lists, signature_data, SignatureEntry, SignatureList};
use super::EventType;

/// EFI_GLOBAL_VARIABLE: SecureBoot, PK, KEK, BootOrder, Boot####.
pub const EFI_GLOBAL_VARIABLE: &str = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
/// EFI_IMAGE_SECURITY_DATABASE_GUID: db, dbx, dbt, dbr.
pub const EFI_IMAGE_SECURITY_DATABASE: &str = "d719b2cb-3d3a-4596-a3bc-dad00e67656f";

/// A measured UEFI variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Variable {
    pub vendor_guid: Guid,
    pub name: String,
    /// VariableData as measured.
    #[serde(with = "hex::serde")]
    pub data: Vec<u8>,
    pub value: VariableValue,
}

impl Variable {
    /// True if this is `name` under the vendor GUID `guid` (text form).
    pub fn is(&self, guid: &str, name: &str) -> bool {
        self.name == name && self.vendor_guid.to_string() == guid
    }
}

/// The decoded VariableData.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VariableValue {
    /// SecureBoot, SetupMode, AuditMode, DeployedMode (empty data: the variable does not exist).
    Bool { enabled: bool },
    /// PK, KEK, db, dbx, dbt, dbr.
    SignatureLists { lists: Vec<SignatureList> },
    /// EV_EFI_VARIABLE_AUTHORITY: the EFI_SIGNATURE_DATA that authorised an image.
    Authority(SignatureEntry),
    /// BootOrder as `Boot####` names.
    BootOrder { order: Vec<String> },
    /// Boot####.
    LoadOption(LoadOption),
    /// Not decoded (see `data`).
    Raw,
    /// Should have decoded but did not.
    Invalid { error: String },
}

/// EFI_LOAD_OPTION.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadOption {
    pub attributes: u32,
    pub description: String,
    pub device_path: String,
    #[serde(with = "hex::serde")]
    pub optional_data: Vec<u8>,
}

/// Decodes UEFI_VARIABLE_DATA; `Err` only if the framing of the structure itself is broken.
pub(crate) fn decode_variable(ty: EventType, data: &[u8]) -> Result<Variable, String> {
    let mut r = Reader::new(data);
    let s = |e: Short| e.to_string();
    let vendor_guid = r.guid("VariableName").map_err(s)?;
    let name_len = r.u64("UnicodeNameLength").map_err(s)?;
    let data_len = r.u64("VariableDataLength").map_err(s)?;
    let name_bytes = name_len
        .checked_mul(2)
        .ok_or("UnicodeNameLength overflows")?;
    let name = r.take(name_bytes, "UnicodeName").map_err(s)?;
    let name = char::decode_utf16(utf16_units(name))
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect::<String>();
    let value = r.take(data_len, "VariableData").map_err(s)?;
    if !r.is_empty() {
        return Err(format!("{} bytes after VariableData", r.remaining()));
    }
    let mut var = Variable {
        vendor_guid,
        name,
        data: value.to_vec(),
        value: VariableValue::Raw,
    };
    var.value = decode_value(ty, &var).unwrap_or_else(|error| VariableValue::Invalid { error });
    Ok(var)
}

fn decode_value(ty: EventType, var: &Variable) -> Result<VariableValue, String> {
    let data = var.data.as_slice();
    if ty == EventType::EV_EFI_VARIABLE_AUTHORITY {
        return Ok(authority(data));
    }
    let global = var.vendor_guid.to_string() == EFI_GLOBAL_VARIABLE;
    let security = var.vendor_guid.to_string() == EFI_IMAGE_SECURITY_DATABASE;
    match var.name.as_str() {
        "SecureBoot" | "SetupMode" | "AuditMode" | "DeployedMode" if global => match data {
            [] => Ok(VariableValue::Bool { enabled: false }),
            [b] => Ok(VariableValue::Bool { enabled: *b != 0 }),
            _ => Err(format!("{} bytes for a boolean variable", data.len())),
        },
        "PK" | "KEK" if global => lists(data),
        "db" | "dbx" | "dbt" | "dbr" if security => lists(data),
        "BootOrder" if global => {
            if !data.len().is_multiple_of(2) {
                return Err("BootOrder has an odd length".into());
            }
            let order = utf16_units(data).map(|n| format!("Boot{n:04X}")).collect();
            Ok(VariableValue::BootOrder { order })
        }
        name if global && is_boot_option(name) => load_option(data),
        _ => Ok(VariableValue::Raw),
    }
}

fn lists(data: &[u8]) -> Result<VariableValue, String> {
    parse_signature_lists(data).map(|lists| VariableValue::SignatureLists { lists })
}

/// Authority data is normally EFI_SIGNATURE_DATA (owner GUID + DER certificate); shim measures
/// some certificates without an owner. A bare DER certificate gets the all-zero owner.
fn authority(data: &[u8]) -> VariableValue {
    let is_der = |b: &[u8]| b.first() == Some(&0x30) && b.get(1).is_some_and(|&l| l >= 0x80);
    if is_der(data) {
        return VariableValue::Authority(SignatureEntry {
            owner: Guid([0; 16]),
            data: data.into(),
        });
    }
    signature_data(data).map_or(VariableValue::Raw, VariableValue::Authority)
}

fn is_boot_option(name: &str) -> bool {
    name.len() == 8
        && name.starts_with("Boot")
        && name
            .chars()
            .skip(4)
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
}

fn load_option(data: &[u8]) -> Result<VariableValue, String> {
    let mut r = Reader::new(data);
    let s = |e: Short| e.to_string();
    let attributes = r.u32("Attributes").map_err(s)?;
    let path_len = r.u16("FilePathListLength").map_err(s)?;
    let description = read_utf16z(&mut r, "Description").map_err(s)?;
    let path = r.take(u64::from(path_len), "FilePathList").map_err(s)?;
    Ok(VariableValue::LoadOption(LoadOption {
        attributes,
        description,
        device_path: device_path_to_text(path),
        optional_data: r.rest().to_vec(),
    }))
}
