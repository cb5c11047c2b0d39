package palisade.templates.egress_default_deny_test

import rego.v1

import data.palisade.templates.egress_default_deny

chain(hook, policy) := {"table": "inet filter", "chain": hook, "hook": hook, "type": "filter", "priority": 0, "policy": policy}

path(chains, verdict) := {"base_chains": chains, "default": verdict, "accepted": []}

family(output) := {"hooks": {
	"input": path([chain("input", "drop")], "drop"),
	"forward": path([chain("forward", "drop")], "drop"),
	"output": output,
}}

exposure(v4, v6) := {"format": "palisade-exposure-v1", "families": {"ipv4": family(v4), "ipv6": family(v6)},
	"open_ports": [], "loopback": {}, "unevaluated": [], "truncated": false}

node(exposures) := {"node": {
	"id": "db-01", "labels": {"role": "db"},
	"attestation": {"outcome": "pass", "verified": true, "at": 1700000000},
	"firewall": {"exposures": exposures},
}}

drop_out := path([chain("output", "drop")], "drop")

test_output_default_drop_passes if {
	count(egress_default_deny.violation) == 0 with input as node({"host": exposure(drop_out, drop_out)})
}

test_a_drop_policy_later_on_the_path_passes if {
	post := {"table": "ip nat", "chain": "post", "hook": "postrouting", "type": "filter", "priority": 100, "policy": "drop"}
	out := path([chain("output", "accept"), post], "drop")
	count(egress_default_deny.violation) == 0 with input as node({"host": exposure(out, drop_out)})
}

test_output_default_accept_fails if {
	vs := egress_default_deny.violation with input as node({"host": exposure(drop_out, path([chain("output", "accept")], "accept"))})
	count(vs) == 1
	some v in vs
	v.msg == "netns host, ipv6: traffic no rule matches on the output path is accepted (default accept, want drop); base chains: inet filter/output (output hook, policy accept)"
	v.details.family == "ipv6"
}

test_missing_output_chain_fails if {
	vs := egress_default_deny.violation with input as node({"host": exposure(path([], "accept"), path([], "accept"))})
	{v.details.family | some v in vs} == {"ipv4", "ipv6"}
	some v in vs
	v.msg == "netns host, ipv4: no base chain on the output path: everything the host sends is accepted"
	# A family without an output path at all counts as missing.
	bare := {"format": "palisade-exposure-v1", "families": {"ipv4": {"hooks": {}}}, "open_ports": [], "loopback": {}, "unevaluated": [], "truncated": false}
	count(egress_default_deny.violation) == 1 with input as node({"host": bare})
}

test_every_namespace_is_checked_and_namespaces_limits if {
	doc := node({"host": exposure(drop_out, drop_out), "tenant": exposure(path([], "accept"), drop_out), "gone": null})
	vs := egress_default_deny.violation with input as doc
	{[v.details.netns, v.details.family] | some v in vs} == {["tenant", "ipv4"]}
	count(egress_default_deny.violation) == 0 with input as object.union(doc, {"parameters": {"namespaces": ["host", "gone"]}})
}

test_absent_facts_and_unverified_nodes_report_nothing if {
	count(egress_default_deny.violation) == 0 with input as node({})
	doc := {"node": {"id": "db-01", "labels": {}, "attestation": {"outcome": "fail", "verified": false}, "firewall": null}}
	count(egress_default_deny.violation) == 0 with input as doc
}
