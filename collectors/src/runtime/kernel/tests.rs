//! Unit tests of the kernel document over captured `/proc/modules` text and fake `/proc` and
//! `/sys` trees in a temporary directory (`palisade.kernel/1`, rules 1–6 of
//! `docs/canonical-runtime.md`).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use std::path::Path;

use super::*;

/// `/proc/modules` of a distribution kernel (trimmed), as root sees it.
const MODULES_TEXT: &str = "\
nft_chain_nat 16384 3 - Live 0xffffffffc0b7d000
nf_tables 339968 142 nft_chain_nat,nft_compat, Live 0xffffffffc0a10000
vboxdrv 696320 2 vboxnetadp,vboxnetflt, Live 0xffffffffc1200000 (OE)
bridge 405504 0 - Loading 0x0000000000000000
";

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn sorted_sysctls() -> Vec<&'static str> {
    let mut names = SYSCTLS.to_vec();
    names.sort_unstable();
    names
}

#[test]
fn rule1_modules_keep_name_state_and_taints_only() {
    let modules = parse_modules(MODULES_TEXT).unwrap();
    let got: Vec<_> = modules
        .iter()
        .map(|m| (m.name.as_str(), m.state.as_str(), m.taints.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("bridge", "Loading", None),
            ("nf_tables", "Live", None),
            ("nft_chain_nat", "Live", None),
            ("vboxdrv", "Live", Some("OE")),
        ]
    );
    // Sizes, reference counts, users and addresses are not in the document: a reload with
    // other users and another address gives the same bytes.
    let reloaded = MODULES_TEXT
        .replace("142 nft_chain_nat,nft_compat,", "7 -")
        .replace("0xffffffffc0a10000", "0xffffffffc0f00000");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "proc/modules", MODULES_TEXT);
    let first = read_from(dir.path()).unwrap().canonical().unwrap();
    write(dir.path(), "proc/modules", &reloaded);
    let second = read_from(dir.path()).unwrap().canonical().unwrap();
    assert_eq!(first, second);
    assert!(!first.as_str().contains("339968") && !first.as_str().contains("0xff"));
    // A kernel without CONFIG_MODULE_UNLOAD prints "- -" for refcount and users.
    let no_unload = parse_modules("dummy 16384 - - Live 0x0\n").unwrap();
    assert_eq!(no_unload[0].name, "dummy");
}

#[test]
fn rule2_a_kernel_without_module_support_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = read_from(dir.path()).unwrap();
    assert_eq!(
        kernel.modules,
        Modules {
            supported: false,
            loaded: vec![]
        }
    );
    let json = serde_json::to_value(&kernel).unwrap();
    assert_eq!(
        json["modules"],
        serde_json::json!({"supported": false, "loaded": []})
    );
    write(dir.path(), "proc/modules", "");
    assert!(read_from(dir.path()).unwrap().modules.supported);
}

#[test]
fn rule3_every_listed_sysctl_is_present_as_text_or_null() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "proc/sys/kernel/kptr_restrict", "2\n");
    write(dir.path(), "proc/sys/kernel/yama/ptrace_scope", " 1 \n");
    write(dir.path(), "proc/sys/net/ipv4/conf/all/log_martians", "0\n");
    write(dir.path(), "proc/sys/kernel/sysrq", "  176\t \n");
    write(dir.path(), "proc/sys/kernel/unrelated", "1\n");
    let kernel = read_from(dir.path()).unwrap();
    let keys: Vec<_> = kernel.sysctls.keys().map(String::as_str).collect();
    assert_eq!(keys, sorted_sysctls(), "every name, nothing else");
    let value = |k: &str| kernel.sysctls[k].as_deref();
    assert_eq!(value("kernel.kptr_restrict"), Some("2"));
    assert_eq!(value("kernel.yama.ptrace_scope"), Some("1"));
    assert_eq!(value("net.ipv4.conf.all.log_martians"), Some("0"));
    assert_eq!(value("kernel.sysrq"), Some("176"));
    assert_eq!(value("kernel.modules_disabled"), None);
    let json = serde_json::to_value(&kernel).unwrap();
    assert_eq!(
        json["sysctls"]["kernel.dmesg_restrict"],
        serde_json::Value::Null
    );
    assert_eq!(sysctl_value("a \t b\n"), "a b");
}

#[test]
fn rule4_lockdown_is_the_bracketed_mode_or_null() {
    assert_eq!(parse_lockdown("[none] integrity confidentiality\n"), "none");
    assert_eq!(
        parse_lockdown("none integrity [confidentiality]\n"),
        "confidentiality"
    );
    assert_eq!(parse_lockdown(" odd  text \n"), "odd text");
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(read_from(dir.path()).unwrap().lockdown, None);
    write(
        dir.path(),
        "sys/kernel/security/lockdown",
        "none [integrity] confidentiality\n",
    );
    assert_eq!(
        read_from(dir.path()).unwrap().lockdown.as_deref(),
        Some("integrity")
    );
}

#[test]
fn rule5_a_malformed_module_line_is_an_error() {
    for bad in [
        "short 1 2 -\n",
        "name size 0 - Live 0x0\n",
        "name 1 x - Live 0x0\n",
        "name 1 0 - Live 0x0 OE\n",
        "name 1 0 - Live 0x0 (OE) extra\n",
    ] {
        let text = format!("ok 1 0 - Live 0x0\n{bad}");
        assert_eq!(
            parse_modules(&text),
            Err((2, bad.trim_end().to_owned())),
            "{bad}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "proc/modules", "garbage\n");
    let err = read_from(dir.path()).unwrap_err();
    assert!(
        matches!(err, KernelError::Malformed { line: 1, .. }),
        "{err}"
    );
    // A directory where a file should be is a read error, not "absent".
    std::fs::create_dir_all(dir.path().join("proc/sys/kernel/sysrq")).unwrap();
    std::fs::remove_file(dir.path().join("proc/modules")).unwrap();
    assert!(matches!(
        read_from(dir.path()),
        Err(KernelError::Read { .. })
    ));
}

#[test]
fn rule6_the_document_is_rfc8785_with_its_format() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "proc/modules",
        "b 1 0 - Live 0x0 (O)\na 1 0 - Live 0x0\n",
    );
    write(dir.path(), "proc/sys/kernel/kptr_restrict", "1\n");
    write(
        dir.path(),
        "sys/kernel/security/lockdown",
        "[none] integrity\n",
    );
    let kernel = read_from(dir.path()).unwrap();
    let nulls: String = sorted_sysctls()
        .iter()
        .map(|k| match *k {
            "kernel.kptr_restrict" => format!(r#""{k}":"1""#),
            _ => format!(r#""{k}":null"#),
        })
        .collect::<Vec<_>>()
        .join(",");
    let expected = format!(
        concat!(
            r#"{{"format":"palisade.kernel/1","lockdown":"none","modules":{{"loaded":["#,
            r#"{{"name":"a","state":"Live"}},{{"name":"b","state":"Live","taints":"O"}}],"#,
            r#""supported":true}},"sysctls":{{{}}}}}"#
        ),
        nulls
    );
    assert_eq!(kernel.canonical().unwrap().as_str(), expected);
    let mut edited = kernel.clone();
    edited.modules.loaded.reverse();
    assert_eq!(edited.canonical().unwrap(), kernel.canonical().unwrap());
}
