//! EFI device paths to UEFI text form (as efivar / `tpm2_eventlog` print them). Nodes this does
//! not know print generically as `Path(type,subtype,hex)`; malformed input never fails.

use std::fmt::Write as _;

use super::read::{utf16_until_nul, Guid, Reader};

/// The text form of a device path (one or more instances). Never fails: a malformed node ends
/// the text with `Invalid(hex of the rest)`.
pub fn device_path_to_text(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut r = Reader::new(bytes);
    let mut sep = "";
    while !r.is_empty() {
        let rest = r.clone().rest();
        let header = (r.u8("Type"), r.u8("SubType"), r.u16("Length"));
        let (Ok(ty), Ok(sub), Ok(len)) = header else {
            let _ = write!(out, "{sep}Invalid({})", hex::encode(rest));
            break;
        };
        let body = match u64::from(len).checked_sub(4).map(|n| r.take(n, "node")) {
            Some(Ok(body)) => body,
            _ => {
                let _ = write!(out, "{sep}Invalid({})", hex::encode(rest));
                break;
            }
        };
        match (ty, sub) {
            (0x7f, 0xff) => sep = ",",
            (0x7f, 0x01) => sep = ",",
            _ => {
                let text = node(ty, sub, body)
                    .unwrap_or_else(|| format!("Path({ty},{sub},{})", hex::encode(body)));
                let _ = write!(out, "{sep}{text}");
                sep = "/";
            }
        }
    }
    out
}

fn with_data(name: &str, guid: Guid, data: &[u8]) -> String {
    if data.is_empty() {
        format!("{name}({guid})")
    } else {
        format!("{name}({guid},{})", hex::encode(data))
    }
}

fn ipv4(b: &[u8]) -> String {
    match b {
        [a, b, c, d] => format!("{a}.{b}.{c}.{d}"),
        _ => String::new(),
    }
}

/// One node's text, or `None` to print it generically.
fn node(ty: u8, sub: u8, body: &[u8]) -> Option<String> {
    let mut r = Reader::new(body);
    let text = match (ty, sub) {
        // Hardware
        (1, 1) => {
            let (function, device) = (r.u8("").ok()?, r.u8("").ok()?);
            format!("Pci(0x{device:x},0x{function:x})")
        }
        (1, 2) => format!("PcCard(0x{:x})", r.u8("").ok()?),
        (1, 3) => {
            let (kind, start, end) = (r.u32("").ok()?, r.u64("").ok()?, r.u64("").ok()?);
            format!("MemoryMapped(0x{kind:x},0x{start:x},0x{end:x})")
        }
        (1, 4) => with_data("VenHw", r.guid("").ok()?, r.rest()),
        (1, 5) => format!("Ctrl(0x{:x})", r.u32("").ok()?),
        (1, 6) => format!("BMC({},0x{:x})", r.u8("").ok()?, r.u64("").ok()?),
        // ACPI
        (2, 1) => {
            let (hid, uid) = (r.u32("").ok()?, r.u32("").ok()?);
            if hid & 0xffff != 0x41d0 {
                format!("Acpi(0x{hid:08x},0x{uid:x})")
            } else {
                match hid >> 16 {
                    0x0a03 => format!("PciRoot(0x{uid:x})"),
                    0x0a08 => format!("PcieRoot(0x{uid:x})"),
                    0x0604 => format!("Floppy(0x{uid:x})"),
                    0x0301 => format!("Keyboard(0x{uid:x})"),
                    0x0501 => format!("Serial(0x{uid:x})"),
                    0x0401 => format!("ParallelPort(0x{uid:x})"),
                    pnp => format!("Acpi(PNP{pnp:04X},0x{uid:x})"),
                }
            }
        }
        (2, 3) => {
            if body.is_empty() || !body.len().is_multiple_of(4) {
                return None;
            }
            let adrs: Vec<String> = body
                .chunks_exact(4)
                .filter_map(|c| c.try_into().ok().map(u32::from_le_bytes))
                .map(|a| format!("0x{a:x}"))
                .collect();
            format!("AcpiAdr({})", adrs.join(","))
        }
        // Messaging
        (3, 1) => {
            let (primary, slave, lun) = (r.u8("").ok()?, r.u8("").ok()?, r.u16("").ok()?);
            format!("Ata({primary},{slave},{lun})")
        }
        (3, 2) => format!("Scsi({},{})", r.u16("").ok()?, r.u16("").ok()?),
        (3, 5) => format!("USB({},{})", r.u8("").ok()?, r.u8("").ok()?),
        (3, 10) => with_data("VenMsg", r.guid("").ok()?, r.rest()),
        (3, 11) => {
            let addr = r.take(32, "").ok()?;
            let if_type = r.u8("").ok()?;
            let shown = if if_type <= 1 { addr.get(..6)? } else { addr };
            format!("MAC({},0x{if_type:x})", hex::encode(shown))
        }
        (3, 12) => {
            let (local, remote) = (r.take(4, "").ok()?, r.take(4, "").ok()?);
            let (_lport, _rport) = (r.u16("").ok()?, r.u16("").ok()?);
            let protocol = match r.u16("").ok()? {
                6 => "TCP".to_owned(),
                17 => "UDP".to_owned(),
                p => format!("0x{p:x}"),
            };
            let kind = if r.u8("").ok()? == 0 {
                "DHCP"
            } else {
                "Static"
            };
            format!("IPv4({},{protocol},{kind},{})", ipv4(remote), ipv4(local))
        }
        (3, 15) => {
            let (vid, pid) = (r.u16("").ok()?, r.u16("").ok()?);
            let (class, subclass, proto) = (r.u8("").ok()?, r.u8("").ok()?, r.u8("").ok()?);
            format!("UsbClass(0x{vid:x},0x{pid:x},0x{class:x},0x{subclass:x},0x{proto:x})")
        }
        (3, 17) => format!("Unit(0x{:x})", r.u8("").ok()?),
        (3, 18) => {
            let (hba, pmp, lun) = (r.u16("").ok()?, r.u16("").ok()?, r.u16("").ok()?);
            format!("Sata({hba},{pmp},{lun})")
        }
        (3, 23) => {
            let nsid = r.u32("").ok()?;
            let eui: Vec<String> = r
                .take(8, "")
                .ok()?
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect();
            format!("NVMe(0x{nsid:x},{})", eui.join("-"))
        }
        (3, 24) => format!("Uri({})", String::from_utf8_lossy(body)),
        (3, 26) => format!("SD({})", r.u8("").ok()?),
        (3, 29) => format!("eMMC({})", r.u8("").ok()?),
        // Media
        (4, 1) => {
            let part = r.u32("").ok()?;
            let (start, size) = (r.u64("").ok()?, r.u64("").ok()?);
            let signature: [u8; 16] = r.array("").ok()?;
            let (_mbr_type, sig_type) = (r.u8("").ok()?, r.u8("").ok()?);
            match sig_type {
                1 => {
                    let [a, b, c, d, ..] = signature;
                    let sig = u32::from_le_bytes([a, b, c, d]);
                    format!("HD({part},MBR,0x{sig:08x},0x{start:x},0x{size:x})")
                }
                2 => format!("HD({part},GPT,{},0x{start:x},0x{size:x})", Guid(signature)),
                other => format!("HD({part},{other},0,0x{start:x},0x{size:x})"),
            }
        }
        (4, 2) => {
            let entry = r.u32("").ok()?;
            let (start, size) = (r.u64("").ok()?, r.u64("").ok()?);
            format!("CDROM(0x{entry:x},0x{start:x},0x{size:x})")
        }
        (4, 3) => with_data("VenMedia", r.guid("").ok()?, r.rest()),
        (4, 4) => format!("File({})", utf16_until_nul(body)),
        (4, 5) => format!("Media({})", r.guid("").ok()?),
        (4, 6) => format!("FvFile({})", r.guid("").ok()?),
        (4, 7) => format!("FvVol({})", r.guid("").ok()?),
        (4, 8) => {
            let _reserved = r.u32("").ok()?;
            let (start, end) = (r.u64("").ok()?, r.u64("").ok()?);
            format!("Offset(0x{start:x},0x{end:x})")
        }
        // BIOS boot specification
        (5, 1) => {
            let (device, status) = (r.u16("").ok()?, r.u16("").ok()?);
            let rest = r.rest();
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            let desc = String::from_utf8_lossy(rest.get(..end)?);
            format!("BBS(0x{device:x},{desc},0x{status:x})")
        }
        _ => return None,
    };
    Some(text)
}
