//! Embeds the shipped template library: every `policies/templates/<name>/` with a
//! `template.json` and a `template.rego` (and, if present, `template_test.rego`) becomes an
//! entry of `library::SHIPPED`, so a new template needs no code change.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/templates");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("template.json").is_file() && p.join("template.rego").is_file())
        .collect();
    dirs.sort();
    let mut out = String::from("&[\n");
    for dir in &dirs {
        println!("cargo:rerun-if-changed={}", dir.display());
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let test = dir.join("template_test.rego");
        let tests = if test.is_file() {
            format!("Some(include_str!({:?}))", test.display().to_string())
        } else {
            "None".to_owned()
        };
        let _ = writeln!(
            out,
            "    Shipped {{ dir: {name:?}, spec: include_str!({:?}), rego: include_str!({:?}), tests: {tests} }},",
            dir.join("template.json").display().to_string(),
            dir.join("template.rego").display().to_string(),
        );
    }
    out.push(']');
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap_or_default()).join("shipped.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        eprintln!("writing {}: {e}", dest.display());
        std::process::exit(1);
    }
}
