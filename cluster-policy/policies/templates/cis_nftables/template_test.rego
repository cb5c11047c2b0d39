package palisade.templates.cis_nftables_test

import rego.v1

import data.palisade.templates.cis_nftables

chain(hook, policy) := {"table": "inet filter", "chain": hook, "hook": hook, "type": "filter", "priority": 0, "policy": policy}

path(chains, verdict, accepted) := {"base_chains": chains, "default": verdict, "accepted": accepted}

class(ct_state, certain, text) := {
	"proto": ["tcp", "udp", "sctp", "dccp", "udplite", "icmp", "icmpv6", "other"], "ports": null,
	"sources": ["0.0.0.0/0"], "destinations": ["0.0.0.0/0"], "iif": null, "iif_except": null,
	"oif": null, "oif_except": null, "ct_state": ct_state, "certain": certain,
	"via": [{"table": "inet filter", "chain": "input", "index": 1, "text": text}],
}

established := class(["established", "related"], true, "ct state established,related accept")

family := {"hooks": {
	"input": path([chain("input", "drop")], "drop", [established]),
	"forward": path([chain("forward", "drop")], "drop", []),
	"output": path([chain("output", "accept")], "accept", [class(["new", "established", "related", "invalid", "untracked"], true, "policy accept")]),
}}

loopback_ok := {"accepted_on_lo": true, "spoofed_loopback_accepted": false}

good := {
	"format": "palisade-exposure-v1", "families": {"ipv4": family, "ipv6": family}, "open_ports": [],
	"loopback": {"ipv4": loopback_ok, "ipv6": loopback_ok}, "unevaluated": [], "truncated": false,
}

node(exposures) := {"node": {
	"id": "web-01", "labels": {}, "attestation": {"outcome": "pass", "verified": true, "at": 1700000000},
	"firewall": {"exposures": exposures, "exposure_errors": {}},
}}

with_params(doc, p) := object.union(doc, {"parameters": p})

# `good` with the ipv6 family's hook `hook` replaced.
ipv6_hook(hook, p) := object.union(good, {"families": {"ipv6": {"hooks": {hook: p}}}})

checks(vs) := {v.details.check | some v in vs}

test_baseline_passes if {
	count(cis_nftables.violation) == 0 with input as node({"host": good})
}

test_no_exposure_facts_at_all_fails if {
	vs := cis_nftables.violation with input as node({})
	checks(vs) == {"exposure_present"}
	doc := {"node": {"id": "x", "labels": {}, "attestation": {"outcome": "pass", "verified": true}, "firewall": null}}
	vs2 := cis_nftables.violation with input as doc
	count(vs2) == 1
}

test_a_namespace_without_facts_names_the_reason if {
	doc := {"node": {"id": "x", "labels": {}, "attestation": {"outcome": "pass", "verified": true},
		"firewall": {"exposures": {"host": good, "tenant": null}, "exposure_errors": {"tenant": "not a canonical document"}}}}
	vs := cis_nftables.violation with input as doc
	count(vs) == 1
	some v in vs
	v.msg == "netns tenant: no firewall exposure facts: not a canonical document"
}

test_truncated_facts_fail if {
	vs := cis_nftables.violation with input as node({"host": object.union(good, {"truncated": true})})
	checks(vs) == {"not_truncated"}
}

test_missing_input_chain_fails if {
	vs := cis_nftables.violation with input as node({"host": ipv6_hook("input", path([], "accept", [class(["new", "established", "related", "invalid", "untracked"], true, "policy accept")]))})
	checks(vs) == {"input_base_chain", "input_default_drop"}
	some v in vs
	v.details.check == "input_base_chain"
	v.msg == "netns host, ipv6: no base chain on the input hook: every ipv6 port is open"
}

test_missing_forward_and_output_chains_fail if {
	doc := node({"host": object.union(ipv6_hook("forward", path([], "accept", [])), {"families": {"ipv4": {"hooks": {"output": path([], "accept", [])}}}})})
	vs := cis_nftables.violation with input as doc
	{[v.details.family, v.details.hook] | some v in vs; v.details.check == "hook_base_chains"} == {["ipv6", "forward"], ["ipv4", "output"]}
	vs2 := cis_nftables.violation with input as with_params(doc, {"hooks": ["input", "output"]})
	{[v.details.family, v.details.hook] | some v in vs2} == {["ipv4", "output"]}
}

test_a_prerouting_chain_is_not_an_input_chain if {
	pre := {"table": "inet filter", "chain": "pre", "hook": "prerouting", "type": "filter", "priority": 0, "policy": "drop"}
	vs := cis_nftables.violation with input as node({"host": ipv6_hook("input", path([pre], "drop", [established]))})
	checks(vs) == {"input_base_chain"}
}

test_input_default_accept_fails_and_lists_the_chains if {
	vs := cis_nftables.violation with input as node({"host": ipv6_hook("input", path([chain("input", "accept")], "accept", [established]))})
	count(vs) == 1
	some v in vs
	v.msg == "netns host, ipv6: traffic no rule matches on the input path is accepted (default accept, want drop); base chains: inet filter/input (policy accept)"
}

test_loopback_checks if {
	doc := node({"host": object.union(good, {"loopback": {"ipv4": {"accepted_on_lo": false, "spoofed_loopback_accepted": true}}})})
	vs := cis_nftables.violation with input as doc
	{[v.details.check, v.details.family] | some v in vs} == {["loopback_accepted", "ipv4"], ["spoofed_loopback_dropped", "ipv4"]}
	some v in vs
	v.details.check == "spoofed_loopback_dropped"
	contains(v.msg, "from a loopback source (127.0.0.0/8)")
	# Missing loopback facts fail closed.
	vs2 := cis_nftables.violation with input as node({"host": object.remove(good, ["loopback"])})
	count(vs2) == 4
}

test_established_must_be_certainly_accepted if {
	possible := class(["established", "related"], false, "meta mark 1 ct state established accept")
	vs := cis_nftables.violation with input as node({"host": ipv6_hook("input", path([chain("input", "drop")], "drop", [possible]))})
	checks(vs) == {"established_accepted"}
	vs2 := cis_nftables.violation with input as node({"host": ipv6_hook("input", path([chain("input", "drop")], "drop", [class(["new"], true, "tcp dport 22 accept")]))})
	checks(vs2) == {"established_accepted"}
}

test_checks_can_be_turned_off if {
	bare := {"format": "palisade-exposure-v1", "families": {"ipv4": {"hooks": {}}}, "open_ports": [], "loopback": {}, "unevaluated": [], "truncated": true}
	vs := cis_nftables.violation with input as node({"host": bare})
	checks(vs) == {"not_truncated", "input_base_chain", "hook_base_chains", "input_default_drop", "loopback_accepted", "spoofed_loopback_dropped", "established_accepted"}
	count(cis_nftables.violation) == 0 with input as with_params(node({"host": bare}), {"checks": []})
	vs2 := cis_nftables.violation with input as with_params(node({"host": bare}), {"checks": ["hook_base_chains"]})
	{v.details.hook | some v in vs2} == {"input", "forward", "output"}
}

test_namespaces_limits_and_requires_namespaces if {
	doc := node({"host": good, "tenant": object.union(good, {"truncated": true})})
	vs := cis_nftables.violation with input as doc
	{v.details.netns | some v in vs} == {"tenant"}
	count(cis_nftables.violation) == 0 with input as with_params(doc, {"namespaces": ["host"]})
	vs2 := cis_nftables.violation with input as with_params(doc, {"namespaces": ["host", "edge"]})
	some v in vs2
	v.msg == "netns edge: no firewall exposure facts: the namespace's ruleset is not measured"
	count(vs2) == 1
}

test_unverified_node_reports_nothing if {
	doc := {"node": {"id": "x", "labels": {}, "attestation": {"outcome": "fail", "verified": false}, "firewall": null, "network": null, "runtime": null}}
	count(cis_nftables.violation) == 0 with input as doc
	count(cis_nftables.violation) == 0 with input as with_params(doc, {"namespaces": ["host"]})
}
