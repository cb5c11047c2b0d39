package palisade.templates.ingress_allowlist_test

import rego.v1

import data.palisade.templates.ingress_allowlist

rule(index, text) := {"table": "inet filter", "chain": "input", "index": index, "text": text}

open(family, from, to, sources) := {
	"family": family, "hook": "input", "proto": "tcp", "port_from": from, "port_to": to,
	"sources": sources, "widest_prefix": 0, "destinations": [], "iif": null,
	"iif_except": ["lo"], "loopback_only": false, "certain": true,
	"via": [rule(5, sprintf("tcp dport %d accept", [from]))],
}

exposure(open_ports) := {"format": "palisade-exposure-v1", "families": {}, "open_ports": open_ports,
	"loopback": {}, "unevaluated": [], "truncated": false}

node(exposures, allowed) := {
	"node": {
		"id": "db-01", "labels": {"role": "db"},
		"attestation": {"outcome": "pass", "verified": true, "at": 1700000000},
		"firewall": {"exposures": exposures},
	},
	"parameters": {"allowed_sources": allowed},
}

with_params(doc, p) := object.union(doc, {"parameters": p})

test_sources_inside_the_allowlist_pass if {
	doc := node({"host": exposure([open("ipv4", 5432, 5432, ["10.20.0.0/16", "10.30.1.0/24"])])}, ["10.20.0.0/16", "10.30.0.0/16"])
	count(ingress_allowlist.violation) == 0 with input as doc
}

test_a_wider_source_partly_overlapping_is_named_with_its_overlap if {
	doc := node({"host": exposure([open("ipv4", 5432, 5432, ["10.0.0.0/8"])])}, ["10.20.0.0/16", "192.168.0.0/16"])
	vs := ingress_allowlist.violation with input as doc
	count(vs) == 1
	some v in vs
	v.msg == "rule 6 of chain inet filter/input accepts tcp port 5432 (netns host, ipv4) from outside the allowed sources: 10.0.0.0/8 (partly: it overlaps 10.20.0.0/16) (tcp dport 5432 accept)"
	v.details.sources == [{"source": "10.0.0.0/8", "overlaps": ["10.20.0.0/16"]}]
}

test_a_disjoint_source_is_named_alone if {
	o := object.union(open("ipv4", 1000, 2000, ["10.1.0.0/16", "203.0.113.0/24"]), {"certain": false})
	vs := ingress_allowlist.violation with input as node({"host": exposure([o])}, ["10.0.0.0/8"])
	some v in vs
	v.msg == "rule 6 of chain inet filter/input may accept tcp ports 1000-2000 (netns host, ipv4) from outside the allowed sources: 203.0.113.0/24 (tcp dport 1000 accept)"
}

test_blocks_covered_by_several_allowed_blocks_pass if {
	doc := node({"host": exposure([open("ipv4", 22, 22, ["10.0.0.0/8"])])}, ["10.0.0.0/9", "10.128.0.0/9"])
	count(ingress_allowlist.violation) == 0 with input as doc
	count(ingress_allowlist.violation) == 0 with input as with_params(doc, {"allowed_sources": ["10.0.0.0/9", "10.0.0.0/16", "10.128.0.0/10", "10.192.0.0/10"]})
	count(ingress_allowlist.violation) == 0 with input as with_params(doc, {"allowed_sources": ["0.0.0.0/1", "128.0.0.0/1"]})
	v6 := node({"host": exposure([open("ipv6", 22, 22, ["fd00::/8"])])}, ["fd00::/9", "fd80::/9"])
	count(ingress_allowlist.violation) == 0 with input as v6
}

test_blocks_not_fully_covered_fail if {
	doc := node({"host": exposure([open("ipv4", 22, 22, ["10.0.0.0/8"])])}, ["10.0.0.0/9", "10.128.0.0/10"])
	vs := ingress_allowlist.violation with input as doc
	some v in vs
	v.details.sources == [{"source": "10.0.0.0/8", "overlaps": ["10.0.0.0/9", "10.128.0.0/10"]}]
	# The same block twice (host bits set) is not counted twice.
	count(ingress_allowlist.violation) == 1 with input as with_params(doc, {"allowed_sources": ["10.0.0.0/9", "10.0.0.1/9"]})
}

test_ports_filter_selects_facts if {
	db := open("ipv4", 5432, 5432, ["0.0.0.0/0"])
	any := open("ipv4", 0, 65535, ["0.0.0.0/0"])
	doc := node({"host": exposure([db])}, ["10.0.0.0/8"])
	count(ingress_allowlist.violation) == 1 with input as doc
	count(ingress_allowlist.violation) == 0 with input as with_params(doc, {"ports": [22, 443]})
	vs := ingress_allowlist.violation with input as node({"host": exposure([db, any])}, ["10.0.0.0/8"]) with input.parameters.ports as [22, 443]
	count(vs) == 1
	some v in vs
	v.details.ports == [22, 443]
	v.details.port_to == 65535
}

test_loopback_only_ports_are_ignored if {
	lo := object.union(open("ipv4", 0, 65535, ["0.0.0.0/0"]), {"loopback_only": true})
	count(ingress_allowlist.violation) == 0 with input as node({"host": exposure([lo])}, ["10.0.0.0/8"])
}

test_ipv6_sources_against_ipv6_blocks if {
	doc := node({"host": exposure([open("ipv6", 443, 443, ["::/0"])])}, ["10.0.0.0/8", "fd00::/8"])
	vs := ingress_allowlist.violation with input as doc
	some v in vs
	v.details.sources == [{"source": "::/0", "overlaps": ["fd00::/8"]}]
	contains(v.msg, "(netns host, ipv6)")
}

test_long_source_lists_are_shortened_and_namespaces_limit if {
	o := open("ipv4", 22, 22, ["1.0.0.0/8", "2.0.0.0/8", "3.0.0.0/8", "4.0.0.0/8", "5.0.0.0/8", "6.0.0.0/8"])
	doc := node({"host": exposure([]), "tenant": exposure([o]), "gone": null}, ["10.0.0.0/8"])
	vs := ingress_allowlist.violation with input as doc
	some v in vs
	contains(v.msg, "1.0.0.0/8, 2.0.0.0/8, 3.0.0.0/8, 4.0.0.0/8 and 2 more (tcp dport 22 accept)")
	v.details.netns == "tenant"
	count(ingress_allowlist.violation) == 0 with input as with_params(doc, {"namespaces": ["host"]})
}

test_policy_and_default_are_named if {
	p := object.union(open("ipv4", 0, 65535, ["0.0.0.0/0"]), {"via": [{"table": "inet filter", "chain": "input", "index": null, "text": "policy accept"}]})
	vs := ingress_allowlist.violation with input as node({"host": exposure([p])}, ["10.0.0.0/8"])
	some v in vs
	startswith(v.msg, "the policy of chain inet filter/input accepts tcp ports 0-65535")
	n := object.union(open("ipv4", 0, 65535, ["0.0.0.0/0"]), {"via": []})
	vs2 := ingress_allowlist.violation with input as node({"host": exposure([n])}, ["10.0.0.0/8"])
	some v2 in vs2
	startswith(v2.msg, "no base chain: the hook's default accepts")
}

test_invalid_allowed_source_is_reported if {
	vs := ingress_allowlist.violation with input as node({"host": exposure([])}, ["10.0.0.0/8", "10.0.0.0"])
	count(vs) == 1
	some v in vs
	v.msg == "parameter allowed_sources: \"10.0.0.0\" is not a CIDR block (ignored)"
}

test_unverified_node_reports_nothing if {
	doc := {"node": {"id": "db-01", "labels": {}, "attestation": {"outcome": "error", "verified": false}, "firewall": null}, "parameters": {"allowed_sources": ["bogus"]}}
	count(ingress_allowlist.violation) == 0 with input as doc
}

test_block_sizes_are_counted_exactly if {
	ingress_allowlist.pow2(0) == 1
	ingress_allowlist.pow2(50) == 1125899906842624
	doc := node({"host": exposure([open("ipv6", 22, 22, ["2001:db8::/32"])])}, ["2001:db8::/33", "2001:db8:8000::/33"])
	count(ingress_allowlist.violation) == 0 with input as doc
	# Blocks more than 2^50 times smaller are not counted: reported, never wrongly passed.
	count(ingress_allowlist.violation) == 1 with input as with_params(doc, {"allowed_sources": ["2001:db8::/33", "2001:db8:8000::/128"]})
}
