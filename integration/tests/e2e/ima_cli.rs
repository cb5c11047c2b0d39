//! The offline log commands of the `palisade` binary on the fixtures in `ima/testdata`, with no
//! verifier and no credentials: `eventlog replay` gives `tpm2_eventlog`'s PCR values (the
//! goldens) and the boot reference state, `ima replay` the expected PCR 10 values and the
//! policy's findings by entry, `ima policy create` Keylime's policy; bad input exits 2.

use std::path::{Path, PathBuf};
use std::process::Output;

use palisade_integration::bin;
use serde_json::Value;

/// `ima/testdata/NAME`.
fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ima/testdata")
        .join(name)
}

/// Runs `palisade` with a state directory that does not exist: an offline command must not
/// need the operator credentials.
fn palisade(args: &[&str]) -> Output {
    std::process::Command::new(bin("palisade").unwrap())
        .args(["--state-dir", "/nonexistent/palisade-ima-cli"])
        .args(["--verifier", "https://127.0.0.1:9"])
        .env_remove("PALISADE_CERT")
        .env_remove("PALISADE_KEY")
        .args(args)
        .output()
        .unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {o:?}"))
}

/// `palisade --json ima replay LIST --policy POLICY`.
fn replay_json(list: &Path, policy: &Path) -> Output {
    palisade(&[
        "--json",
        "ima",
        "replay",
        path(list),
        "--policy",
        path(policy),
    ])
}

/// Exit code 2 with a message naming `what`, and no panic.
fn assert_trouble(o: &Output, what: &str) {
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = stderr(o);
    assert!(err.starts_with("palisade: error: "), "{err}");
    assert!(err.contains(what), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn eventlog_replay_gives_the_tpm2_eventlog_golden_pcrs() {
    let goldens: Vec<PathBuf> = std::fs::read_dir(testdata("golden"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".pcrs.json"))
        .collect();
    assert_eq!(goldens.len(), 6, "{goldens:?}");
    for golden in goldens {
        let golden: Value = serde_json::from_slice(&std::fs::read(&golden).unwrap()).unwrap();
        let log = testdata(golden["file"].as_str().unwrap());
        let out = palisade(&["--json", "eventlog", "replay", path(&log)]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let doc = json(&out);
        assert_eq!(doc["pcrs"], golden["pcrs"], "{}", log.display());
        let events = doc["events"].as_array().unwrap();
        assert_eq!(Some(events.len() as u64), golden["events"].as_u64());
        assert!(doc["reference"].is_object(), "{doc}");

        let out = palisade(&["eventlog", "replay", path(&log)]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let text = stdout(&out);
        for (bank, values) in golden["pcrs"].as_object().unwrap() {
            assert!(text.contains(&format!("\n  {bank}:\n")), "{text}");
            for (pcr, value) in values.as_object().unwrap() {
                let line = format!("\n    {pcr:<2} : 0x{}\n", value.as_str().unwrap());
                assert!(text.contains(&line), "{}: no {line:?}", log.display());
            }
        }
    }
}

#[test]
fn eventlog_replay_names_events_and_the_boot_reference_state() {
    let log = testdata("binary_bios_measurements");
    let doc = json(&palisade(&["--json", "eventlog", "replay", path(&log)]));
    let events = doc["events"].as_array().unwrap();
    assert_eq!(events[1]["description"], "StartupLocality 3");
    assert_eq!(events[2]["type"], "EV_S_CRTM_CONTENTS");
    assert_eq!(
        events[2]["digests"]["sha1"],
        "a37b4eadc81f8cbb4ed3915c449ac112e53de6bd"
    );
    assert_eq!(events[3]["description"], "N40ET41W");
    let reference = &doc["reference"];
    assert_eq!(reference["secure_boot"], false, "{reference}");
    let apps = reference["boot_applications"].as_array().unwrap();
    assert_eq!(apps.len(), 3, "{reference}");
    assert!(apps[1]["device_path"]
        .as_str()
        .unwrap()
        .ends_with(r"/File(\EFI\fedora\shimx64.efi)"));
    let cmdline = reference["kernel_cmdline"].as_str().unwrap();
    assert!(
        cmdline.starts_with("(hd3,gpt2)/vmlinuz-6.11.5-300.fc41.x86_64 root=UUID=7d3fbd01"),
        "{cmdline}"
    );

    let text = stdout(&palisade(&["eventlog", "replay", path(&log)]));
    let header = format!("{}: 121 events, banks sha1, sha256\n", path(&log));
    assert!(text.starts_with(&header), "{text}");
    assert!(text.contains("  secure boot:    off\n"), "{text}");
    assert!(text.contains(r"File(\EFI\fedora\grubx64.efi)"), "{text}");
    assert!(
        text.contains(&format!("  kernel cmdline: {cmdline}\n")),
        "{text}"
    );
    let db = reference["db"]["sha256"].as_str().unwrap();
    assert!(
        text.contains(&format!("  db:             sha256 {db}, 4 certificates\n")),
        "{text}"
    );

    let secure = testdata("binary_bios_measurements-secureboot");
    let doc = json(&palisade(&["--json", "eventlog", "replay", path(&secure)]));
    assert_eq!(doc["reference"]["secure_boot"], true);
    let text = stdout(&palisade(&["eventlog", "replay", path(&secure)]));
    assert!(text.contains("  secure boot:    on\n"), "{text}");
}

#[test]
fn eventlog_replay_of_a_malformed_log_exits_2() {
    let bogus = testdata("binary_bios_measurements-bogus");
    let out = palisade(&["eventlog", "replay", path(&bogus)]);
    assert_trouble(&out, "not a crypto-agile TCG event log");
    assert!(out.stdout.is_empty(), "{out:?}");
    let out = palisade(&["--json", "eventlog", "replay", path(&bogus)]);
    assert_trouble(&out, "is not a valid TCG2 UEFI event log");

    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.bin");
    let full = std::fs::read(testdata("binary_bios_measurements")).unwrap();
    std::fs::write(&cut, &full[..1000]).unwrap();
    assert_trouble(&palisade(&["eventlog", "replay", path(&cut)]), "truncated");
    // An IMA list is no event log.
    let ima = testdata("generated/ima_200.log");
    assert_trouble(&palisade(&["eventlog", "replay", path(&ima)]), "Spec ID");
    let missing = dir.path().join("missing");
    assert_trouble(
        &palisade(&["eventlog", "replay", path(&missing)]),
        "reading",
    );
}

fn expected_200() -> Value {
    serde_json::from_slice(&std::fs::read(testdata("generated/expected_200.json")).unwrap())
        .unwrap()
}

#[test]
fn ima_replay_gives_the_expected_pcr_10_and_passes_the_policy() {
    let list = testdata("generated/ima_200.log");
    let policy = testdata("generated/policy_200.json");
    let expected = expected_200();
    let (sha1, sha256) = (
        expected["pcr10_sha1"].as_str().unwrap(),
        expected["pcr10_sha256"].as_str().unwrap(),
    );

    let out = palisade(&["--json", "ima", "replay", path(&list)]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let doc = json(&out);
    assert_eq!(doc["entries"], 200);
    assert_eq!(doc["format"], "ascii");
    assert_eq!(doc["template_hash_errors"], 0);
    assert_eq!(doc["pcrs"]["sha1"]["10"], sha1, "{doc}");
    assert_eq!(doc["pcrs"]["sha256"]["10"], sha256, "{doc}");
    assert_eq!(doc["boot_aggregate"]["entry"], 1);
    assert_eq!(
        doc["boot_aggregate"]["digest"],
        "sha256:f5b165224a58b791df6af1d8303e61cdc4bb86c3d1c427103c344c4189eb2f1e"
    );
    assert!(doc["policy"].is_null());

    let out = palisade(&["ima", "replay", path(&list), "--policy", path(&policy)]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("200 entries (ASCII list"), "{text}");
    assert!(text.contains("template hashes: all hold\n"), "{text}");
    assert!(text.contains(&format!("  sha1    {sha1}\n")), "{text}");
    assert!(text.contains(&format!("  sha256  {sha256}\n")), "{text}");
    assert!(text.contains("  allowed 199, excluded 0, ignored 0, unknown 0, mismatched 0"));
    assert!(text.ends_with("result: ok\n"), "{text}");
}

#[test]
fn ima_replay_names_a_file_the_policy_does_not_list() {
    let list = testdata("generated/ima_200.log");
    let log = std::fs::read_to_string(&list).unwrap();
    let victim = log.lines().nth(120).unwrap().rsplit(' ').next().unwrap();
    let mut policy: Value =
        serde_json::from_slice(&std::fs::read(testdata("generated/policy_200.json")).unwrap())
            .unwrap();
    policy["digests"]
        .as_object_mut()
        .unwrap()
        .remove(victim)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.json");
    std::fs::write(&file, policy.to_string()).unwrap();

    let out = palisade(&["ima", "replay", path(&list), "--policy", path(&file)]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("unknown 1, mismatched 0"), "{text}");
    assert!(
        text.contains(&format!("    entry 121    {victim} sha256:")),
        "{text}"
    );
    assert!(text.ends_with("result: FAIL\n"), "{text}");

    let doc = json(&replay_json(&list, &file));
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["policy"]["unknown"], 1);
    assert_eq!(doc["policy"]["unknown_files"][0]["entry"], 121);
    assert_eq!(doc["policy"]["unknown_files"][0]["path"], victim);
    // The list itself is intact: its PCR values are still given.
    assert_eq!(doc["pcrs"]["sha1"]["10"], expected_200()["pcr10_sha1"]);
}

#[test]
fn ima_replay_of_an_altered_entry_exits_1_naming_it() {
    let list = testdata("generated/ima_200.log");
    let log = std::fs::read_to_string(&list).unwrap();
    let mut lines: Vec<String> = log.lines().map(str::to_owned).collect();
    let victim = lines[57].rsplit(' ').next().unwrap().to_owned();
    // One hex digit of entry 58's file digest.
    let at = lines[57].find("sha256:").unwrap() + "sha256:".len();
    let digit = if &lines[57][at..=at] == "0" { "1" } else { "0" };
    lines[57].replace_range(at..=at, digit);
    let dir = tempfile::tempdir().unwrap();
    let altered = dir.path().join("altered.log");
    std::fs::write(&altered, lines.join("\n") + "\n").unwrap();

    let out = palisade(&["ima", "replay", path(&altered)]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("template hashes: 1 WRONG"), "{text}");
    assert!(
        text.contains(&format!("  entry 58     {victim}: logged ")),
        "{text}"
    );
    assert!(text.contains("PCR 10: not replayed"), "{text}");

    let policy = testdata("generated/policy_200.json");
    let out = replay_json(&altered, &policy);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let doc = json(&out);
    assert_eq!(doc["template_hash_errors"], 1);
    assert_eq!(doc["bad_template_hashes"][0]["entry"], 58);
    assert_eq!(doc["policy"]["mismatches"][0]["entry"], 58);
    assert_eq!(doc["pcrs"], serde_json::json!({}));

    // No policy is created from it either.
    let out = palisade(&["ima", "policy", "create", "--list", path(&altered)]);
    assert_trouble(&out, "entry 58");
}

/// The kernel's binary form of an `ima-ng` ASCII list (template hashes as logged).
fn to_binary(ascii: &str) -> Vec<u8> {
    let field = |out: &mut Vec<u8>, bytes: &[u8]| {
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(bytes);
    };
    let mut out = Vec::new();
    for line in ascii.lines() {
        let parts: Vec<&str> = line.splitn(5, ' ').collect();
        let [pcr, hash, "ima-ng", digest, name] = parts[..] else {
            panic!("not ima-ng: {line}");
        };
        let (alg, hex_digest) = digest.split_once(':').unwrap();
        let mut d = format!("{alg}:\0").into_bytes();
        d.extend(hex::decode(hex_digest).unwrap());
        let mut data = Vec::new();
        field(&mut data, &d);
        field(&mut data, format!("{name}\0").as_bytes());
        out.extend_from_slice(&pcr.parse::<u32>().unwrap().to_le_bytes());
        out.extend(hex::decode(hash).unwrap());
        field(&mut out, b"ima-ng");
        field(&mut out, &data);
    }
    out
}

#[test]
fn ima_replay_reads_binary_lists_and_rejects_garbage_with_2() {
    let ascii = std::fs::read_to_string(testdata("generated/ima_200.log")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("binary_runtime_measurements");
    std::fs::write(&binary, to_binary(&ascii)).unwrap();

    let doc = json(&palisade(&["--json", "ima", "replay", path(&binary)]));
    assert_eq!(doc["format"], "binary");
    assert_eq!(doc["entries"], 200);
    assert_eq!(doc["pcrs"]["sha256"]["10"], expected_200()["pcr10_sha256"]);
    let out = palisade(&["ima", "replay", "--format", "ascii", path(&binary)]);
    assert_trouble(&out, "is not a valid ASCII IMA measurement list");

    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, "10 not-a-hash ima-ng\n").unwrap();
    assert_trouble(
        &palisade(&["ima", "replay", path(&garbage)]),
        "entry 1: template hash must be 40 hex digits",
    );
    let list = testdata("generated/ima_200.log");
    let policy = dir.path().join("policy.json");
    std::fs::write(&policy, "{\"meta\": {\"version\": 1").unwrap();
    let out = palisade(&["ima", "replay", path(&list), "--policy", path(&policy)]);
    assert_trouble(&out, "runtime policy");
    let missing = dir.path().join("missing");
    assert_trouble(&palisade(&["ima", "replay", path(&missing)]), "reading");
}

#[test]
fn ima_policy_create_writes_keylimes_policy_and_it_passes_the_list() {
    let list = testdata("generated/ima_200.log");
    let keylime = std::fs::read_to_string(testdata("generated/policy_200.json")).unwrap();
    let out = palisade(&[
        "ima",
        "policy",
        "create",
        "--list",
        path(&list),
        "--timestamp",
        "synthetic",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout(&out).trim_end(), keylime.trim_end());

    let dir = tempfile::tempdir().unwrap();
    let excludes = dir.path().join("excludes");
    std::fs::write(&excludes, "# config is not pinned\n^/etc/\n").unwrap();
    let policy = dir.path().join("policy.json");
    let out = palisade(&[
        "--json",
        "ima",
        "policy",
        "create",
        "-m",
        path(&list),
        "--excludes",
        path(&excludes),
        "-o",
        path(&policy),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let summary = json(&out);
    assert_eq!(summary["entries"], 200, "{summary}");
    assert_eq!(summary["digests"], 199, "{summary}");
    let written: Value = serde_json::from_slice(&std::fs::read(&policy).unwrap()).unwrap();
    assert_eq!(written["excludes"], serde_json::json!(["^/etc/"]));
    assert_eq!(written["meta"]["generator"], 3);

    let log = std::fs::read_to_string(&list).unwrap();
    let etc = log.lines().filter(|l| l.contains(" /etc/")).count();
    assert!(etc > 0);
    let doc = json(&replay_json(&list, &policy));
    assert_eq!(doc["ok"], true, "{doc}");
    assert_eq!(doc["policy"]["excluded"], etc);
    assert_eq!(doc["policy"]["allowed"], 199 - etc);

    let bad = dir.path().join("bad-excludes");
    std::fs::write(&bad, "(unclosed\n").unwrap();
    let out = palisade(&[
        "ima",
        "policy",
        "create",
        "-m",
        path(&list),
        "-e",
        path(&bad),
    ]);
    assert_trouble(&out, "bad-excludes: line 1: bad regex");
}
