//! API roles: the state directory's certificate is the first admin; an admin issues viewer and
//! operator credentials; each role is refused what is above it, with the role it lacks named;
//! a revoked credential and a CA-signed certificate that was never issued as a credential (the
//! verifier's own pull certificate) are refused.

use std::path::Path;

use super::support::World;

fn as_credential(w: &World, dir: &Path, name: &str, args: &[&str]) -> anyhow::Result<String> {
    let cert = dir.join(format!("{name}.crt")).display().to_string();
    let key = dir.join(format!("{name}.key")).display().to_string();
    let mut all = vec!["--cert", cert.as_str(), "--key", key.as_str()];
    all.extend_from_slice(args);
    w.verifier.cli_raw(&all)
}

fn refused(result: anyhow::Result<String>, needle: &str) {
    let err = result.expect_err("the request was allowed");
    assert!(
        format!("{err:#}").contains(needle),
        "{err:#} lacks {needle:?}"
    );
}

#[test]
fn each_role_gets_what_it_may_and_is_told_what_it_lacks() {
    let w = World::start("roles");
    let id = w.host.label();
    assert_eq!(w.attest()["outcome"], "pass");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    for (name, role) in [("alice", "viewer"), ("bob", "operator")] {
        w.verifier
            .cli_raw(&["credentials", "issue", name, "--role", role, "--out", &out])
            .unwrap();
    }
    refused(
        w.verifier.cli_raw(&[
            "credentials",
            "issue",
            "alice",
            "--role",
            "admin",
            "--out",
            &out,
        ]),
        "exists",
    );

    // viewer: reads, nothing else.
    let listed = as_credential(&w, dir.path(), "alice", &["--json", "agents", "list"]).unwrap();
    assert!(listed.contains(id), "{listed}");
    as_credential(&w, dir.path(), "alice", &["agents", "ear", id]).unwrap();
    refused(
        as_credential(&w, dir.path(), "alice", &["agents", "attest", id]),
        "needs the operator role",
    );
    refused(
        as_credential(&w, dir.path(), "alice", &["agents", "label", id, "a=b"]),
        "needs the operator role",
    );
    refused(
        as_credential(&w, dir.path(), "alice", &["credentials", "list"]),
        "needs the admin role",
    );

    // operator: acts on agents, cannot remove them.
    as_credential(&w, dir.path(), "bob", &["agents", "attest", id]).unwrap();
    refused(
        as_credential(&w, dir.path(), "bob", &["agents", "remove", id]),
        "needs the admin role",
    );

    // admin: lists credentials; revoking alice locks her out; it cannot revoke itself.
    let list = w.verifier.cli(&["credentials", "list"]).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob", "operator"]);
    w.verifier
        .cli_raw(&["credentials", "revoke", "alice"])
        .unwrap();
    refused(
        as_credential(&w, dir.path(), "alice", &["agents", "list"]),
        "revoked",
    );
    refused(
        w.verifier.cli_raw(&["credentials", "revoke", "operator"]),
        "cannot revoke itself",
    );

    // Signed by the CA but never issued as a credential: the verifier's pull certificate.
    let tls = w.verifier.dir().join("tls");
    refused(
        as_credential(&w, &tls, "client", &["agents", "list"]),
        "not a registered credential",
    );
    // Nothing the refused requests tried happened.
    let show = w.verifier.cli(&["agents", "show", id]).unwrap();
    assert!(show["agent"]["labels"].get("a").is_none());
}
