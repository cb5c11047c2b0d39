//! `palisade eventlog replay`: a TCG2 UEFI event log (`binary_bios_measurements`) offline: the
//! PCR values replaying it gives per bank (as `tpm2_eventlog`'s `pcrs:` section shows them), its
//! events, and the boot reference state (Secure Boot, PK/KEK/db/dbx, boot applications, kernel
//! command line). No verifier involved.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use palisade_ima::uefi::reference::{BootReference, SecureBootVariable};
use palisade_ima::uefi::{Event, EventData, EventLog, SeparatorKind, VariableValue};
use serde::Serialize;

use super::ima::emit;

#[derive(Debug, clap::Subcommand)]
pub enum Eventlog {
    /// Replay a log into PCR values per bank; print its events and boot reference state
    /// (exit 2 when the log does not parse).
    Replay {
        /// The log (`/sys/kernel/security/tpm0/binary_bios_measurements`).
        file: PathBuf,
    },
}

/// Runs an event-log command (offline: no verifier, no credentials).
pub fn run(command: &Eventlog, json: bool) -> anyhow::Result<ExitCode> {
    match command {
        Eventlog::Replay { file } => {
            let log = read(file)?;
            let replayed = Replayed::new(&log);
            if json {
                emit(&format!("{}\n", serde_json::to_string_pretty(&replayed)?))?;
            } else {
                emit(&render(&file.display().to_string(), &replayed))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn read(path: &Path) -> anyhow::Result<EventLog> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    EventLog::parse(&bytes)
        .with_context(|| format!("{} is not a valid TCG2 UEFI event log", path.display()))
}

/// The `--json` document: `{events, pcrs: {alg: {pcr: hex}}, reference}` and the banks that
/// could not be replayed.
#[derive(Debug, Serialize)]
pub struct Replayed {
    pub events: Vec<EventRow>,
    pub pcrs: BTreeMap<String, BTreeMap<u32, String>>,
    pub reference: BootReference,
    /// TPM algorithm ids of banks the log uses whose algorithm is unknown (not replayed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreplayable_banks: Vec<String>,
}

/// One event, briefly.
#[derive(Debug, Serialize)]
pub struct EventRow {
    /// 0 is the Spec ID event, as `tpm2_eventlog` numbers them.
    pub number: usize,
    pub pcr: u32,
    #[serde(rename = "type")]
    pub event_type: String,
    pub type_id: u32,
    /// Bank → digest (hex).
    pub digests: BTreeMap<String, String>,
    pub description: String,
}

impl Replayed {
    pub fn new(log: &EventLog) -> Self {
        let pcrs = log
            .replay()
            .into_iter()
            .map(|(alg, values)| {
                let values = values.into_iter().map(|(i, v)| (i, hex::encode(v)));
                (alg.name().to_owned(), values.collect())
            })
            .collect();
        let events = log
            .events()
            .iter()
            .map(|e| EventRow {
                number: e.number,
                pcr: e.pcr,
                event_type: e.event_type.to_string(),
                type_id: e.event_type_id,
                digests: e
                    .digests
                    .iter()
                    .map(|d| (d.algorithm.to_string(), hex::encode(&d.digest)))
                    .collect(),
                description: describe(e),
            })
            .collect();
        Self {
            events,
            pcrs,
            reference: log.reference(),
            unreplayable_banks: log
                .unreplayable_banks()
                .into_iter()
                .map(|id| format!("0x{id:04x}"))
                .collect(),
        }
    }
}

/// A one-line description of what an event measured: the device path of an image, the name
/// (and short value) of a variable, the text of an action or IPL event.
pub fn describe(event: &Event) -> String {
    match &event.decoded {
        EventData::SpecId(spec) => {
            let algs: Vec<String> = spec
                .algorithms
                .iter()
                .map(|a| a.algorithm.to_string())
                .collect();
            format!("Spec ID Event03: {}", algs.join(", "))
        }
        EventData::StartupLocality { locality } => format!("StartupLocality {locality}"),
        EventData::NoAction { signature } => signature.clone(),
        EventData::Text { text, .. } => text.trim().to_owned(),
        EventData::Separator { separator } => match separator {
            SeparatorKind::Normal => "separator".to_owned(),
            SeparatorKind::Error => "separator (firmware error)".to_owned(),
            SeparatorKind::Other => format!("separator {}", hex::encode(&event.data)),
        },
        EventData::FirmwareBlob { base, length } => {
            format!("firmware blob at 0x{base:x}, {length} bytes")
        }
        EventData::FirmwareBlob2 {
            description,
            base,
            length,
        } => format!("{description} (at 0x{base:x}, {length} bytes)"),
        EventData::Variable(var) => match &var.value {
            VariableValue::Bool { enabled } => {
                format!("{}: {}", var.name, if *enabled { "on" } else { "off" })
            }
            VariableValue::BootOrder { order } => format!("{}: {}", var.name, order.join(",")),
            VariableValue::LoadOption(option) => {
                format!(
                    "{}: {} {}",
                    var.name, option.description, option.device_path
                )
            }
            VariableValue::SignatureLists { lists } => {
                let entries: usize = lists.iter().map(|l| l.signatures.len()).sum();
                format!("{} ({entries} entries)", var.name)
            }
            VariableValue::Invalid { error } => format!("{} (invalid: {error})", var.name),
            VariableValue::Authority(_) | VariableValue::Raw => var.name.clone(),
        },
        EventData::ImageLoad(image) => image.device_path.clone(),
        EventData::Gpt(gpt) => format!("GPT, {} partitions", gpt.partitions.len()),
        EventData::HandoffTables(tables) => match &tables.description {
            Some(d) => format!("{d} ({} tables)", tables.tables.len()),
            None => format!("{} tables", tables.tables.len()),
        },
        EventData::Raw => format!("{} bytes", event.data.len()),
        EventData::Invalid { error } => format!("invalid: {error}"),
    }
}

/// Shortens `s` to `max` characters (with `…`) and keeps it on one line.
fn one_line(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The text report: PCRs (bank → PCR → `0x…`, as `tpm2_eventlog` prints them), events,
/// reference state.
pub fn render(name: &str, r: &Replayed) -> String {
    let mut out = String::new();
    let banks: Vec<&str> = r.pcrs.keys().map(String::as_str).collect();
    let _ = writeln!(
        out,
        "{name}: {} events, banks {}",
        r.events.len(),
        banks.join(", ")
    );
    if !r.unreplayable_banks.is_empty() {
        let _ = writeln!(
            out,
            "not replayed (unknown algorithm): {}",
            r.unreplayable_banks.join(", ")
        );
    }
    let _ = writeln!(out, "\npcrs:");
    for (bank, values) in &r.pcrs {
        let _ = writeln!(out, "  {bank}:");
        for (pcr, value) in values {
            let _ = writeln!(out, "    {pcr:<2} : 0x{value}");
        }
    }
    let _ = writeln!(out, "\nevents:");
    let _ = writeln!(
        out,
        "{:>5} {:>3}  {:<34} DESCRIPTION",
        "EVENT", "PCR", "TYPE"
    );
    for e in &r.events {
        let _ = writeln!(
            out,
            "{:>5} {:>3}  {:<34} {}",
            e.number,
            e.pcr,
            e.event_type,
            one_line(&e.description, 100)
        );
        for (bank, digest) in &e.digests {
            let _ = writeln!(out, "{:>11}{bank:<7} {digest}", "");
        }
    }
    let _ = writeln!(out, "\nreference:");
    render_reference(&mut out, &r.reference);
    out
}

fn render_reference(out: &mut String, r: &BootReference) {
    let secure_boot = match r.secure_boot {
        Some(true) => "on",
        Some(false) => "off",
        None => "unknown (no SecureBoot variable measured)",
    };
    let _ = writeln!(out, "  secure boot:    {secure_boot}");
    for (name, var) in [
        ("PK", &r.pk),
        ("KEK", &r.kek),
        ("db", &r.db),
        ("dbx", &r.dbx),
    ] {
        let _ = writeln!(
            out,
            "  {:<15} {}",
            format!("{name}:"),
            variable(var.as_ref())
        );
    }
    let cmdline = r.kernel_cmdline.as_deref().unwrap_or("(none measured)");
    let _ = writeln!(out, "  kernel cmdline: {}", one_line(cmdline, usize::MAX));
    let _ = writeln!(out, "  boot applications: {}", r.boot_applications.len());
    for app in &r.boot_applications {
        let line = format!(
            "    event {:<4} PCR {:<2} sha256 {} {}",
            app.event,
            app.pcr,
            app.sha256.as_deref().unwrap_or("-"),
            app.device_path.as_deref().unwrap_or("")
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    if !r.authorities.is_empty() {
        let _ = writeln!(out, "  authorities: {}", r.authorities.len());
        for a in &r.authorities {
            let _ = writeln!(
                out,
                "    event {:<4} {:<10} sha256 {}",
                a.event, a.variable, a.sha256
            );
        }
    }
}

fn variable(var: Option<&SecureBootVariable>) -> String {
    let Some(var) = var else {
        return "(not measured)".to_owned();
    };
    let mut parts = vec![format!("sha256 {}", var.sha256)];
    if var.certificates.is_empty() && var.hashes.is_empty() && var.others.is_empty() {
        parts.push("empty".to_owned());
        return parts.join(", ");
    }
    let count =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    parts.push(count(var.certificates.len(), "certificate", "certificates"));
    if !var.hashes.is_empty() {
        parts.push(count(var.hashes.len(), "hash", "hashes"));
    }
    if !var.others.is_empty() {
        parts.push(count(var.others.len(), "other entry", "other entries"));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &[u8] = include_bytes!("../../../../ima/testdata/binary_bios_measurements");
    const SECUREBOOT: &[u8] =
        include_bytes!("../../../../ima/testdata/binary_bios_measurements-secureboot");

    #[test]
    fn pcrs_are_bank_then_pcr_and_events_are_described() {
        let r = Replayed::new(&EventLog::parse(LOG).unwrap());
        assert_eq!(r.events.len(), 121);
        assert_eq!(
            r.pcrs["sha256"][&0],
            "0ee9a7feba8f4172f1a7451594aa5731665a4d353ac61814042ce107a00742f2"
        );
        assert!(r.events[0].description.starts_with("Spec ID Event03: sha1"));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json["pcrs"]["sha1"]["14"],
            "ffaf5dfab351dc9b3b7a3cf748759e137f1601a8"
        );
        assert_eq!(json["events"][0]["type"], "EV_NO_ACTION");
        assert!(json["reference"]["boot_applications"].is_array());
        let text = render("log", &r);
        assert!(
            text.starts_with("log: 121 events, banks sha1, sha256\n"),
            "{text}"
        );
        assert!(
            text.contains("    14 : 0xffaf5dfab351dc9b3b7a3cf748759e137f1601a8\n"),
            "{text}"
        );
    }

    #[test]
    fn reference_names_secure_boot_and_its_variables() {
        let r = Replayed::new(&EventLog::parse(SECUREBOOT).unwrap());
        let text = render("sb", &r);
        let expected = match r.reference.secure_boot {
            Some(true) => "secure boot:    on\n",
            Some(false) => "secure boot:    off\n",
            None => "secure boot:    unknown",
        };
        assert!(text.contains(expected), "{text}");
        let db = r.reference.db.as_ref().unwrap();
        assert!(
            text.contains(&format!("db:             sha256 {}", db.sha256)),
            "{text}"
        );
        // Image loads are described by their device path.
        for app in &r.reference.boot_applications {
            let row = r.events.iter().find(|e| e.number == app.event).unwrap();
            assert_eq!(Some(&row.description), app.device_path.as_ref());
        }
    }

    #[test]
    fn long_descriptions_are_cut_to_one_line() {
        assert_eq!(one_line("a\nb", 10), "a b");
        assert_eq!(one_line("abcdef", 4), "abc…");
        assert_eq!(one_line("abcd", 4), "abcd");
    }
}
