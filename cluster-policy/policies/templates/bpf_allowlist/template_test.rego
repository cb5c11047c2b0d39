package palisade.templates.bpf_allowlist_test

import rego.v1

import data.palisade.templates.bpf_allowlist

xdp_pass := {"type": "xdp", "name": "xdp_pass", "tag": "614b434cd8324ecc", "digest": "9f0c47e8d1f3b2a1"}

sd_fw := {"type": "cgroup_skb", "name": "sd_fw_ingress", "tag": "6deef7357e7b4530", "digest": "d1e2"}

own_tp := {"type": "tracepoint", "name": "sys_enter_bpf", "tag": "aa11", "digest": "bb22"}

own_xdp := {"type": "xdp", "name": "palisade_probe", "tag": "cc33", "digest": "dd44"}

program(p, palisade) := object.union(p, {"uid": 0, "gpl": true, "xlated_bytes": 16, "maps": 0, "palisade": palisade, "count": 1})

xdp_on(dev, p) := {"hook": "xdp", "target": dev, "details": {"mode": "driver"}, "program": p}

cgroup_on(path, p) := {"hook": "cgroup", "target": path, "details": {"attach_type": "cgroup_inet_ingress"}, "program": p}

inventory(attachments) := {
	"format": "palisade.bpf/1",
	"programs": [program(xdp_pass, false), program(sd_fw, false), program(own_tp, true), program(own_xdp, true)],
	"attachments": attachments, "flags": [],
}

node(bpf, allowed) := {
	"node": {
		"id": "web-01", "labels": {}, "attestation": {"outcome": "pass", "verified": true, "at": 1700000000},
		"runtime": {"bpf": bpf, "sockets": {}, "kernel": null},
	},
	"parameters": {"allowed": allowed},
}

with_params(doc, p) := object.union(doc, {"parameters": p})

test_an_unlisted_xdp_program_fails_naming_program_tag_target_and_netns if {
	vs := bpf_allowlist.violation with input as node({"host": inventory([xdp_on("eth0", xdp_pass)])}, [])
	count(vs) == 1
	some v in vs
	v.msg == "XDP program xdp_pass (xdp, tag 614b434cd8324ecc) attached to eth0 (mode driver) in netns host is not allowlisted"
	v.details.netns == "host"
	v.details.program == xdp_pass
}

test_allowlist_entries_match_by_every_field_they_give if {
	doc := node({"host": inventory([xdp_on("eth0", xdp_pass)])}, [])
	count(bpf_allowlist.violation) == 0 with input as with_params(doc, {"allowed": [{"tag": "614b434cd8324ecc"}]})
	count(bpf_allowlist.violation) == 0 with input as with_params(doc, {"allowed": [{"digest": "9f0c47e8d1f3b2a1"}]})
	count(bpf_allowlist.violation) == 0 with input as with_params(doc, {"allowed": [{"name": "xdp_pass", "type": "xdp"}]})
	count(bpf_allowlist.violation) == 1 with input as with_params(doc, {"allowed": [{"tag": "614b434cd8324ecc", "digest": "0000"}]})
	count(bpf_allowlist.violation) == 1 with input as with_params(doc, {"allowed": [{"name": "xdp_pass", "type": "sched_cls"}]})
}

test_an_empty_entry_matches_nothing if {
	count(bpf_allowlist.violation) == 1 with input as node({"host": inventory([xdp_on("eth0", xdp_pass)])}, [{}])
}

test_palisades_own_programs_are_skipped_by_identity if {
	own := {"hook": "tracing", "target": "kernel", "program": own_tp}
	doc := node({"host": inventory([xdp_on("eth1", own_xdp), own])}, [])
	count(bpf_allowlist.violation) == 0 with input as doc
	count(bpf_allowlist.violation) == 0 with input as with_params(doc, {"hooks": ["xdp", "tracing"]})
	# The same name with other instructions is not palisade's.
	impostor := object.union(own_xdp, {"tag": "ee55"})
	vs := bpf_allowlist.violation with input as node({"host": inventory([xdp_on("eth1", impostor)])}, [])
	some v in vs
	v.details.program.tag == "ee55"
}

test_hooks_selects_what_is_checked if {
	tc := {"hook": "tc", "target": "eth0", "details": {"direction": "ingress", "priority": 49152, "direct_action": true}, "program": xdp_pass}
	tracing := {"hook": "tracing", "target": "kernel", "program": xdp_pass}
	doc := node({"host": inventory([tc, tracing])}, [])
	vs := bpf_allowlist.violation with input as doc
	count(vs) == 1
	some v in vs
	v.msg == "tc program xdp_pass (xdp, tag 614b434cd8324ecc) attached to eth0 (direct_action true, direction ingress, priority 49152) in netns host is not allowlisted"
	vs2 := bpf_allowlist.violation with input as with_params(doc, {"hooks": ["tracing"]})
	some v2 in vs2
	v2.msg == "tracing program xdp_pass (xdp, tag 614b434cd8324ecc) attached to kernel is not allowlisted"
}

test_kernel_wide_attachments_are_reported_once if {
	cg := cgroup_on("/system.slice/nginx.service", sd_fw)
	doc := node({"host": inventory([cg, xdp_on("eth0", xdp_pass)]), "tenant": inventory([cg, xdp_on("eth0", xdp_pass)])}, [])
	vs := bpf_allowlist.violation with input as doc
	count(vs) == 3
	some v in vs
	v.details.hook == "cgroup"
	v.details.netns == null
	v.details.namespaces == ["host", "tenant"]
	v.msg == "cgroup program sd_fw_ingress (cgroup_skb, tag 6deef7357e7b4530) attached to /system.slice/nginx.service (attach_type cgroup_inet_ingress) is not allowlisted"
	{w.details.netns | some w in vs; w.details.hook == "xdp"} == {"host", "tenant"}
	count(bpf_allowlist.violation) == 2 with input as with_params(doc, {"namespaces": ["tenant"]})
}

test_a_dangling_attachment_is_reported if {
	gone := {"type": "", "name": "", "tag": "", "digest": ""}
	vs := bpf_allowlist.violation with input as node({"host": inventory([{"hook": "sk_lookup", "target": "netns", "program": gone}])}, [{"name": "xdp_pass"}])
	some v in vs
	v.msg == "sk_lookup program (unnamed) (unknown type, tag unknown) attached to netns in netns host is not allowlisted"
}

test_absent_inventory_and_unverified_nodes_report_nothing if {
	count(bpf_allowlist.violation) == 0 with input as node({}, [])
	doc := {"node": {"id": "x", "labels": {}, "attestation": {"outcome": "fail", "verified": false}, "runtime": null}}
	count(bpf_allowlist.violation) == 0 with input as doc
	count(bpf_allowlist.violation) == 0 with input as node({"host": inventory([xdp_on("eth0", xdp_pass)])}, []) with input.node.attestation.verified as false
}
