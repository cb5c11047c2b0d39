package palisade.templates.ima_runtime_policy_test

import rego.v1

import data.palisade.templates.ima_runtime_policy

# Summaries as the verifier builds them (palisade-ima's PolicyReport::summary, then `entries`
# and `boot_aggregate` set by verifier/src/host_logs/ima.rs) for the real IMA list
# ima/testdata/ascii_runtime_measurements (826 entries from an Ubuntu 16.04 host, via
# rust-keylime), judged by runtime policies made from that list with `RuntimePolicy::create`.
# Its boot_aggregate is a SHA-1 one, which the verifier notes as unchecked.

# The policy made from the whole list.
allowed := {
	"entries": 826, "allowed": 825, "excluded": 0, "ignored": 0, "unknown": 0, "mismatched": 0, "violations": 0,
	"ok": true, "unknown_files": [], "mismatches": [], "violation_entries": [],
	"boot_aggregate": "unchecked: sha1 aggregate",
	"policy": {"digests_count": 816, "excludes_count": 0, "keyrings_count": 0, "ima_buf_count": 0, "generator": 3, "name": "ubuntu-16.04"},
}

# The same with a SHA-256 aggregate that matched the quoted PCRs 0-7.
judged := object.union(allowed, {"boot_aggregate": "match"})

# A policy made without /bin/kbd_mode and /lib/systemd/systemd-udevd, and with another
# /bin/udevadm.
drifted := {
	"entries": 826, "allowed": 822, "excluded": 0, "ignored": 0, "unknown": 2, "mismatched": 1, "violations": 0,
	"ok": false, "unknown_files": ["/bin/kbd_mode", "/lib/systemd/systemd-udevd"],
	"mismatches": [{"digest": "sha1:dbd83f1084e686fa8cd3945b9fda544f6cc86b82", "entry": 29, "path": "/bin/udevadm"}],
	"violation_entries": [], "boot_aggregate": "match",
	"policy": {"digests_count": 814, "excludes_count": 0, "keyrings_count": 0, "ima_buf_count": 0, "generator": 3, "name": "web-baseline"},
}

# A policy made without any /lib/udev/rules.d/ file and with other digests for every
# /lib/modules/4.4.0-45-generic/modules.* file.
udev := {
	"entries": 826, "allowed": 773, "excluded": 0, "ignored": 0, "unknown": 41, "mismatched": 11, "violations": 0,
	"ok": false,
	"unknown_files": [
		"/lib/udev/rules.d/50-firmware.rules",
		"/lib/udev/rules.d/50-udev-default.rules",
		"/lib/udev/rules.d/55-dm.rules",
		"/lib/udev/rules.d/60-persistent-storage-dm.rules",
		"/lib/udev/rules.d/60-persistent-storage.rules",
		"/lib/udev/rules.d/61-persistent-storage-android.rules",
		"/lib/udev/rules.d/73-special-net-names.rules",
		"/lib/udev/rules.d/73-usb-net-by-mac.rules",
		"/lib/udev/rules.d/75-net-description.rules",
		"/lib/udev/rules.d/80-drivers.rules",
		"/lib/udev/rules.d/80-net-setup-link.rules",
		"/lib/udev/rules.d/40-crda.rules",
		"/lib/udev/rules.d/40-vm-hotadd.rules",
		"/lib/udev/rules.d/60-block.rules",
		"/lib/udev/rules.d/60-cdrom_id.rules",
		"/lib/udev/rules.d/60-drm.rules",
		"/lib/udev/rules.d/60-evdev.rules",
		"/lib/udev/rules.d/60-gnupg.rules",
		"/lib/udev/rules.d/60-open-vm-tools.rules",
		"/lib/udev/rules.d/60-persistent-alsa.rules",
		"/lib/udev/rules.d/60-persistent-input.rules",
		"/lib/udev/rules.d/60-persistent-storage-tape.rules",
		"/lib/udev/rules.d/60-persistent-v4l.rules",
		"/lib/udev/rules.d/60-serial.rules",
		"/lib/udev/rules.d/64-btrfs.rules",
		"/lib/udev/rules.d/70-debian-uaccess.rules",
		"/lib/udev/rules.d/70-mouse.rules",
		"/lib/udev/rules.d/70-power-switch.rules",
		"/lib/udev/rules.d/70-uaccess.rules",
		"/lib/udev/rules.d/71-power-switch-proliant.rules",
		"/lib/udev/rules.d/71-seat.rules",
		"/lib/udev/rules.d/73-seat-late.rules",
		"/lib/udev/rules.d/75-probe_mtd.rules",
		"/lib/udev/rules.d/78-graphics-card.rules",
		"/lib/udev/rules.d/78-sound-card.rules",
		"/lib/udev/rules.d/80-debian-compat.rules",
		"/lib/udev/rules.d/80-ifupdown.rules",
		"/lib/udev/rules.d/85-hdparm.rules",
		"/lib/udev/rules.d/85-keyboard-configuration.rules",
		"/lib/udev/rules.d/85-regulatory.rules",
		"/lib/udev/rules.d/99-systemd.rules"
	],
	"mismatches": [
		{"digest": "sha1:54174ff466c4353be4c1782f5208a4e56e63ea43", "entry": 41, "path": "/lib/modules/4.4.0-45-generic/modules.softdep"},
		{"digest": "sha1:1f9c4fa72486f4abc417ed6922cc53f5fc609213", "entry": 42, "path": "/lib/modules/4.4.0-45-generic/modules.dep.bin"},
		{"digest": "sha1:0dc8665d45906527ee9a0ae916d64c0b74004c2a", "entry": 43, "path": "/lib/modules/4.4.0-45-generic/modules.alias.bin"},
		{"digest": "sha1:fd03c19135d55c6d3361e9d6f2297b1ee92b3d8e", "entry": 44, "path": "/lib/modules/4.4.0-45-generic/modules.symbols.bin"},
		{"digest": "sha1:6fe6c6e952a3e6a35121d4308403581fc1fe850e", "entry": 45, "path": "/lib/modules/4.4.0-45-generic/modules.builtin.bin"},
		{"digest": "sha1:fcff58f4d613354e1de54b8cd0f17014846d2ec7", "entry": 105, "path": "/lib/modules/4.4.0-45-generic/modules.dep"},
		{"digest": "sha1:1aae95919604332afac8d190b3ccb702e94d6b9a", "entry": 139, "path": "/lib/modules/4.4.0-45-generic/modules.softdep"},
		{"digest": "sha1:43e7fa2aba974a57f07e2bfb7dc84294f2f55bcf", "entry": 140, "path": "/lib/modules/4.4.0-45-generic/modules.dep.bin"},
		{"digest": "sha1:ce4b79b6dd42e8a368f8871373fae2ad7521c399", "entry": 141, "path": "/lib/modules/4.4.0-45-generic/modules.alias.bin"},
		{"digest": "sha1:91592eb5962dd73f01d9c0fbfa99e1c62a5aef24", "entry": 142, "path": "/lib/modules/4.4.0-45-generic/modules.symbols.bin"},
		{"digest": "sha1:57bc7cbde8e6a4b9b9c1c5c2aacff6b6cc1be4c5", "entry": 293, "path": "/lib/modules/4.4.0-45-generic/modules.devname"}
	],
	"violation_entries": [], "boot_aggregate": "match",
	"policy": {"digests_count": 775, "excludes_count": 0, "keyrings_count": 0, "ima_buf_count": 0, "generator": 3, "name": "ubuntu-16.04"},
}

# The whole-list policy over the list with a measurement violation appended (the kernel logs
# one with zero template hash and digest, here for a file measured while open for writing).
violated := object.union(judged, {
	"entries": 827, "violations": 1,
	"violation_entries": [{"digest": "sha1:0000000000000000000000000000000000000000", "entry": 827, "path": "/var/log/syslog"}],
})

# No runtime policy judges the list.
unjudged := {"entries": 826, "policy": null, "ok": null, "boot_aggregate": "match"}

node(ima, parameters) := {
	"node": {
		"id": "ubuntu-01", "labels": {}, "attestation": {"outcome": "pass", "verified": true, "at": 1700000000},
		"firewall": null, "network": null, "runtime": null, "boot": null, "ima": ima,
	},
	"parameters": parameters,
}

violations(ima, parameters) := vs if {
	vs := ima_runtime_policy.violation with input as node(ima, parameters)
}

# The one violation of `vs`, when there is exactly one.
only(vs) := v if {
	count(vs) == 1
	some v in vs
}

strict := {"require_ima": true, "require_policy": true, "allow_violations": false, "require_boot_aggregate": true}

test_a_list_the_policy_allows_passes if {
	count(violations(judged, {})) == 0
	count(violations(judged, strict)) == 0
	count(ima_runtime_policy.violation) == 0 with input as {"node": node(judged, {}).node}
}

test_files_outside_the_policy_fail_naming_counts_and_files if {
	v := only(violations(drifted, {}))
	v.msg == "IMA runtime policy web-baseline (814 digests): 2 file(s) not in the policy: /bin/kbd_mode, /lib/systemd/systemd-udevd; 1 file(s) with a digest the policy does not allow: /bin/udevadm sha1:dbd83f1084e686fa8cd3945b9fda544f6cc86b82 (entry 29)"
	v.details.check == "runtime_policy"
	v.details.unknown == 2
	v.details.mismatches == drifted.mismatches
	v.details.policy == drifted.policy
	# The finding does not depend on the options.
	count(violations(drifted, {"require_policy": false, "require_boot_aggregate": false})) == 1
}

test_only_the_first_five_files_of_each_kind_are_named if {
	v := only(violations(udev, {}))
	v.msg == concat("", [
		"IMA runtime policy ubuntu-16.04 (775 digests): 41 file(s) not in the policy: ",
		"/lib/udev/rules.d/50-firmware.rules, /lib/udev/rules.d/50-udev-default.rules, /lib/udev/rules.d/55-dm.rules, ",
		"/lib/udev/rules.d/60-persistent-storage-dm.rules, /lib/udev/rules.d/60-persistent-storage.rules and 36 more; ",
		"11 file(s) with a digest the policy does not allow: ",
		"/lib/modules/4.4.0-45-generic/modules.softdep sha1:54174ff466c4353be4c1782f5208a4e56e63ea43 (entry 41), ",
		"/lib/modules/4.4.0-45-generic/modules.dep.bin sha1:1f9c4fa72486f4abc417ed6922cc53f5fc609213 (entry 42), ",
		"/lib/modules/4.4.0-45-generic/modules.alias.bin sha1:0dc8665d45906527ee9a0ae916d64c0b74004c2a (entry 43), ",
		"/lib/modules/4.4.0-45-generic/modules.symbols.bin sha1:fd03c19135d55c6d3361e9d6f2297b1ee92b3d8e (entry 44), ",
		"/lib/modules/4.4.0-45-generic/modules.builtin.bin sha1:6fe6c6e952a3e6a35121d4308403581fc1fe850e (entry 45) and 6 more",
	])
	count(v.details.unknown_files) == 5
	count(v.details.mismatches) == 5
	v.details.mismatched == 11
}

test_a_finding_of_one_kind_or_of_an_unnamed_policy_is_still_named if {
	unknown_only := object.union(drifted, {"mismatched": 0, "mismatches": [], "policy": null})
	only(violations(unknown_only, {})).msg == "IMA runtime policy (unnamed): 2 file(s) not in the policy: /bin/kbd_mode, /lib/systemd/systemd-udevd"
	bare := {"entries": 3, "ok": false, "boot_aggregate": "match"}
	only(violations(bare, {})).msg == "IMA runtime policy (unnamed): the list is not allowed"
}

test_a_node_without_ima_fails_only_when_required if {
	count(violations(null, {})) == 0
	v := only(violations(null, {"require_ima": true}))
	v.msg == "no verified IMA measurement list: the host does not use IMA (PCR 10 was never extended), so no executable can be checked"
	v.details.check == "ima"
	doc := {"node": object.remove(node(null, {}).node, ["ima"]), "parameters": {"require_ima": true}}
	count(ima_runtime_policy.violation) == 1 with input as doc
}

test_a_list_no_runtime_policy_judges_fails_unless_allowed if {
	v := only(violations(unjudged, {}))
	v.msg == "the IMA measurement list (826 entries) is not judged by any runtime policy: the node has no ima-policy label and the verifier no ima_default_policy"
	v.details == {"check": "policy", "missing_policy": null}
	w := only(violations(object.union(unjudged, {"missing_policy": "web"}), {}))
	w.msg == "the IMA measurement list (826 entries) is not judged by any runtime policy: the node asks for runtime policy web (its ima-policy label, or the verifier's ima_default_policy), which is not loaded"
	w.details.missing_policy == "web"
	count(violations(unjudged, {"require_policy": false})) == 0
	count(violations(object.remove(unjudged, ["ok"]), {"require_policy": false})) == 0
}

test_measurement_violations_fail_only_when_not_allowed if {
	count(violations(violated, {})) == 0
	v := only(violations(violated, {"allow_violations": false}))
	v.msg == "1 IMA measurement violation(s) (files measured while open for writing, or that could not be hashed): /var/log/syslog (entry 827)"
	v.details.violations == 1
	count(violations(judged, {"allow_violations": false})) == 0
	# A count without the entries (cut from the summary) is still reported.
	w := only(violations(object.union(violated, {"violations": 7, "violation_entries": []}), {"allow_violations": false}))
	w.msg == "7 IMA measurement violation(s) (files measured while open for writing, or that could not be hashed)"
}

test_a_boot_aggregate_that_is_not_a_match_fails_naming_why if {
	v := only(violations(allowed, {}))
	v.msg == "IMA boot_aggregate is unchecked (sha1 aggregate): the measurement list is not shown to belong to this boot's quoted PCRs 0-7"
	v.details == {"check": "boot_aggregate", "boot_aggregate": "unchecked: sha1 aggregate"}
	only(violations(object.union(judged, {"boot_aggregate": "zero"}), {})).msg == "IMA boot_aggregate is zero (IMA started before the TPM was available): the measurement list is not shown to belong to this boot's quoted PCRs 0-7"
	only(violations(object.union(judged, {"boot_aggregate": "absent"}), {})).msg == "IMA boot_aggregate is absent (the list's first entry is not boot_aggregate): the measurement list is not shown to belong to this boot's quoted PCRs 0-7"
	only(violations(object.union(judged, {"boot_aggregate": null}), {})).msg == "IMA boot_aggregate is not recorded: the measurement list is not shown to belong to this boot's quoted PCRs 0-7"
	only(violations(object.remove(judged, ["boot_aggregate"]), {})).details.boot_aggregate == null
	# A value this template does not know is shown as it is.
	only(violations(object.union(judged, {"boot_aggregate": "pending"}), {})).msg == "IMA boot_aggregate is pending: the measurement list is not shown to belong to this boot's quoted PCRs 0-7"
	count(violations(allowed, {"require_boot_aggregate": false})) == 0
}

test_unverified_nodes_report_nothing if {
	doc := {"node": {"id": "x", "labels": {}, "attestation": {"outcome": "fail", "verified": false}, "firewall": null, "network": null, "runtime": null, "boot": null, "ima": null}}
	count(ima_runtime_policy.violation) == 0 with input as object.union(doc, {"parameters": strict})
	bad := object.union(drifted, {"violations": 1, "boot_aggregate": "zero"})
	count(violations(bad, strict)) == 3
	count(ima_runtime_policy.violation) == 0 with input as node(bad, strict) with input.node.attestation.verified as false
}
