//! `palisade ima replay`: an IMA measurement list offline: parse it (ASCII or binary), check
//! every template hash, replay it into the sha1 and sha256 banks of the IMA PCR, and with a
//! Keylime runtime policy judge every entry. `palisade ima policy create` is in `ima_policy.rs`,
//! reading lists in `ima_list.rs`.

#[path = "ima_list.rs"]
mod ima_list;
#[path = "ima_policy.rs"]
mod ima_policy;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use palisade_ima::policy::{Finding, PolicyReport, RuntimePolicy, BOOT_AGGREGATE};
use palisade_ima::replay::{replay_all, ReplayParams, IMA_PCR};
use palisade_ima::{Entry, HashAlg};
use serde::Serialize;

use ima_list::{read_list, ListArgs, ListFormat};

pub use ima_list::emit;

#[derive(Debug, clap::Subcommand)]
pub enum Ima {
    /// Replay a measurement list into the IMA PCR (sha1 and sha256 banks), check every template
    /// hash and, with --policy, judge every entry (exit 1: a template hash is wrong or the
    /// policy fails; 2: error).
    Replay(ReplayArgs),
    /// Keylime runtime policies.
    #[command(subcommand)]
    Policy(ima_policy::ImaPolicy),
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The list (`/sys/kernel/security/ima/ascii_runtime_measurements` or `binary_…`).
    pub file: PathBuf,
    /// A Keylime runtime policy (JSON, format version 1), an older JSON allowlist, or a flat
    /// allowlist (`digest  path` lines).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    #[command(flatten)]
    pub read: ListArgs,
    /// The PCR IMA extends (`ima_pcr=`); entries for other PCRs are not replayed.
    #[arg(long, default_value_t = IMA_PCR)]
    pub pcr: u32,
    /// How many unknown files, mismatches, violations and bad template hashes to list.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

/// An entry whose logged template hash is not the hash of its data.
#[derive(Debug, Serialize)]
pub struct BadTemplateHash {
    pub entry: u64,
    pub path: String,
    pub logged: String,
    pub computed: String,
}

/// An entry, briefly: number (1-based), path, digest as `alg:hex`.
#[derive(Debug, Serialize)]
pub struct Brief {
    pub entry: u64,
    pub path: String,
    pub digest: String,
}

/// What `ima replay` found: the `--json` document.
#[derive(Debug, Serialize)]
pub struct ReplayReport {
    pub file: String,
    pub format: ListFormat,
    pub template_alg: HashAlg,
    pub entries: u64,
    pub pcr: u32,
    /// Entries for other PCRs, not replayed.
    pub skipped: u64,
    pub template_hash_errors: u64,
    pub bad_template_hashes: Vec<BadTemplateHash>,
    pub violations: u64,
    pub violation_entries: Vec<Brief>,
    /// The first `boot_aggregate` entry.
    pub boot_aggregate: Option<Brief>,
    /// Bank → PCR → value; empty when a template hash is wrong (the list cannot be replayed).
    pub pcrs: BTreeMap<HashAlg, BTreeMap<u32, String>>,
    pub policy: Option<PolicyResult>,
    /// Every template hash holds and the policy (if any) passes.
    pub ok: bool,
}

/// The runtime policy's judgement.
#[derive(Debug, Serialize)]
pub struct PolicyResult {
    pub file: String,
    pub ok: bool,
    #[serde(flatten)]
    pub report: PolicyReport,
}

fn brief(n: u64, entry: &Entry) -> Brief {
    let digest = entry.digest();
    Brief {
        entry: n,
        path: entry.name().to_owned(),
        digest: format!("{}:{}", digest.alg, hex::encode(digest.bytes)),
    }
}

/// Runs an IMA command (offline: no verifier, no credentials).
pub fn run(command: &Ima, json: bool) -> anyhow::Result<ExitCode> {
    match command {
        Ima::Replay(args) => {
            let report = replay(args)?;
            if json {
                emit(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
            } else {
                emit(&render(&report, args.limit))?;
            }
            Ok(if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Ima::Policy(command) => ima_policy::run(command, json),
    }
}

fn load_policy(path: &Path) -> anyhow::Result<RuntimePolicy> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    RuntimePolicy::load(&bytes).with_context(|| format!("loading {}", path.display()))
}

/// Parses, checks, replays and (with a policy) judges the list.
pub fn replay(args: &ReplayArgs) -> anyhow::Result<ReplayReport> {
    let policy = match &args.policy {
        Some(path) => Some((path, load_policy(path)?)),
        None => None,
    };
    let template_alg = args
        .read
        .template_alg
        .or(policy.as_ref().map(|(_, p)| p.log_hash_alg))
        .unwrap_or(HashAlg::Sha1);
    let (entries, format) = read_list(&args.file, &args.read, template_alg)?;
    let numbered = || (1u64..).zip(entries.iter());
    let bad: Vec<(u64, &Entry)> = numbered()
        .filter(|(_, e)| !e.template_hash_ok(template_alg))
        .collect();
    let violations: Vec<(u64, &Entry)> = numbered().filter(|(_, e)| e.is_violation()).collect();
    let mut report = ReplayReport {
        file: args.file.display().to_string(),
        format,
        template_alg,
        entries: entries.len() as u64,
        pcr: args.pcr,
        skipped: 0,
        template_hash_errors: bad.len() as u64,
        bad_template_hashes: bad
            .iter()
            .take(args.limit)
            .map(|(n, e)| BadTemplateHash {
                entry: *n,
                path: e.name().to_owned(),
                logged: hex::encode(e.template_hash),
                computed: hex::encode(template_alg.digest(&[&e.data])),
            })
            .collect(),
        violations: violations.len() as u64,
        violation_entries: violations
            .iter()
            .take(args.limit)
            .map(|(n, e)| brief(*n, e))
            .collect(),
        boot_aggregate: numbered()
            .find(|(_, e)| e.name() == BOOT_AGGREGATE)
            .map(|(n, e)| brief(n, e)),
        pcrs: BTreeMap::new(),
        policy: None,
        ok: bad.is_empty(),
    };
    if bad.is_empty() {
        let params = ReplayParams {
            pcr: args.pcr,
            template_alg,
        };
        let replayed = replay_all(&entries, &[HashAlg::Sha1, HashAlg::Sha256], &params)
            .context("replaying the list")?;
        report.skipped = replayed.skipped.len() as u64;
        for bank in replayed.state.banks {
            let values = BTreeMap::from([(args.pcr, hex::encode(&bank.value))]);
            report.pcrs.insert(bank.alg, values);
        }
    }
    if let Some((path, policy)) = policy {
        let judged = policy.evaluate(&entries, 1);
        let ok = judged.ok();
        report.ok &= ok;
        report.policy = Some(PolicyResult {
            file: path.display().to_string(),
            ok,
            report: judged,
        });
    }
    Ok(report)
}

fn findings(out: &mut String, what: &str, total: u64, list: &[Finding], limit: usize) {
    if total == 0 {
        return;
    }
    let shown = list.len().min(limit);
    let _ = writeln!(out, "  {what} ({total}, first {shown}):");
    for f in list.iter().take(limit) {
        let digest = format!("{}:{}", f.digest.alg, hex::encode(f.digest.bytes));
        let _ = writeln!(out, "    entry {:<6} {} {digest}", f.entry, f.path);
    }
}

/// The text report.
pub fn render(r: &ReplayReport, limit: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} entries ({} list, {} template hashes)",
        r.file,
        r.entries,
        r.format.name(),
        r.template_alg
    );
    if r.template_hash_errors == 0 {
        let _ = writeln!(out, "template hashes: all hold");
    } else {
        let _ = writeln!(
            out,
            "template hashes: {} WRONG (first {}):",
            r.template_hash_errors,
            r.bad_template_hashes.len()
        );
        for b in &r.bad_template_hashes {
            let _ = writeln!(
                out,
                "  entry {:<6} {}: logged {}, data hashes to {}",
                b.entry, b.path, b.logged, b.computed
            );
        }
    }
    let _ = writeln!(out, "violations: {}", r.violations);
    for v in &r.violation_entries {
        let _ = writeln!(out, "  entry {:<6} {}", v.entry, v.path);
    }
    match &r.boot_aggregate {
        Some(b) => {
            let zero = b.digest.rsplit(':').next().unwrap_or_default();
            let zero = if zero.bytes().all(|c| c == b'0') {
                " (all zeros: no TPM when IMA started)"
            } else {
                ""
            };
            let _ = writeln!(out, "boot_aggregate: entry {}, {}{zero}", b.entry, b.digest);
        }
        None => {
            let _ = writeln!(out, "boot_aggregate: none in the list");
        }
    }
    if r.pcrs.is_empty() {
        let _ = writeln!(
            out,
            "PCR {}: not replayed (a template hash is wrong)",
            r.pcr
        );
    } else {
        let _ = writeln!(out, "PCR {}:", r.pcr);
        for (alg, values) in &r.pcrs {
            for value in values.values() {
                let _ = writeln!(out, "  {:<7} {value}", alg.name());
            }
        }
        if r.skipped > 0 {
            let _ = writeln!(out, "  ({} entries for other PCRs not replayed)", r.skipped);
        }
    }
    if let Some(p) = &r.policy {
        let j = &p.report;
        let _ = writeln!(
            out,
            "policy {}: {}",
            p.file,
            if p.ok { "pass" } else { "FAIL" }
        );
        let _ = writeln!(
            out,
            "  allowed {}, excluded {}, ignored {}, unknown {}, mismatched {}, violations {}",
            j.allowed, j.excluded, j.ignored, j.unknown, j.mismatched, j.violations
        );
        for b in &j.boot_aggregate {
            let listed = match b.listed {
                Some(true) => "listed in the policy",
                Some(false) => "NOT listed in the policy (check it against PCRs 0-9)",
                None => "not in the policy (check it against PCRs 0-9)",
            };
            let _ = writeln!(out, "  boot_aggregate entry {}: {listed}", b.entry);
        }
        findings(
            &mut out,
            "unknown files",
            j.unknown,
            &j.unknown_files,
            limit,
        );
        findings(&mut out, "mismatches", j.mismatched, &j.mismatches, limit);
    }
    let _ = writeln!(out, "result: {}", if r.ok { "ok" } else { "FAIL" });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> ReplayReport {
        ReplayReport {
            file: "list".into(),
            format: ListFormat::Ascii,
            template_alg: HashAlg::Sha1,
            entries: 3,
            pcr: 10,
            skipped: 0,
            template_hash_errors: 1,
            bad_template_hashes: vec![BadTemplateHash {
                entry: 2,
                path: "/bin/sh".into(),
                logged: "aa".into(),
                computed: "bb".into(),
            }],
            violations: 0,
            violation_entries: Vec::new(),
            boot_aggregate: Some(Brief {
                entry: 1,
                path: BOOT_AGGREGATE.into(),
                digest: "sha1:0000".into(),
            }),
            pcrs: BTreeMap::new(),
            policy: None,
            ok: false,
        }
    }

    #[test]
    fn text_names_bad_entries_and_the_zero_boot_aggregate() {
        let text = render(&report(), 20);
        assert!(text.contains("template hashes: 1 WRONG"), "{text}");
        assert!(
            text.contains("  entry 2      /bin/sh: logged aa, data hashes to bb\n"),
            "{text}"
        );
        assert!(
            text.contains("(all zeros: no TPM when IMA started)"),
            "{text}"
        );
        assert!(text.contains("PCR 10: not replayed"), "{text}");
        assert!(text.ends_with("result: FAIL\n"), "{text}");
    }

    #[test]
    fn json_pcrs_are_bank_then_pcr() {
        let mut r = report();
        r.pcrs
            .insert(HashAlg::Sha256, BTreeMap::from([(10, "ab".into())]));
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["pcrs"]["sha256"]["10"], "ab");
        assert_eq!(v["format"], "ascii");
        assert_eq!(v["bad_template_hashes"][0]["entry"], 2);
    }
}
