package palisade.templates.admin_ports_test

import rego.v1

import data.palisade.templates.admin_ports

rule(index, text) := {"table": "inet filter", "chain": "input", "index": index, "text": text}

open(family, proto, from, to, sources, via) := {
	"family": family, "hook": "input", "proto": proto, "port_from": from, "port_to": to,
	"sources": sources, "widest_prefix": 0, "destinations": [], "iif": null,
	"iif_except": ["lo"], "loopback_only": false, "certain": true, "via": via,
}

exposure(open_ports) := {"format": "palisade-exposure-v1", "families": {}, "open_ports": open_ports,
	"loopback": {}, "unevaluated": [], "truncated": false}

node(exposures) := {"node": {
	"id": "web-01", "labels": {"role": "web"},
	"attestation": {"outcome": "pass", "verified": true, "at": 1700000000},
	"firewall": {"exposures": exposures},
}}

ssh_world := open("ipv4", "tcp", 22, 22, ["0.0.0.0/0"], [rule(3, "tcp dport 22 accept")])

test_private_sources_pass if {
	o := open("ipv4", "tcp", 22, 22, ["10.20.0.0/16", "192.168.100.0/24"], [rule(4, "ip saddr @admins tcp dport 22 accept")])
	count(admin_ports.violation) == 0 with input as node({"host": exposure([o])})
}

test_ssh_from_anywhere_fails_naming_port_source_netns_and_rule if {
	vs := admin_ports.violation with input as node({"host": exposure([ssh_world])})
	count(vs) == 1
	some v in vs
	v.msg == "rule 4 of chain inet filter/input accepts tcp port 22 (netns host, ipv4) from 0.0.0.0/0, wider than /16 (tcp dport 22 accept)"
	v.details.ports == [22]
	v.details.sources == ["0.0.0.0/0"]
	v.details.netns == "host"
	v.details.rule.text == "tcp dport 22 accept"
}

test_loopback_only_and_other_ports_pass if {
	lo := object.union(open("ipv4", "tcp", 0, 65535, ["0.0.0.0/0"], [rule(0, "iif lo accept")]), {"loopback_only": true})
	web := open("ipv4", "tcp", 443, 443, ["0.0.0.0/0"], [rule(5, "tcp dport 443 accept")])
	count(admin_ports.violation) == 0 with input as node({"host": exposure([lo, web])})
}

test_a_range_names_every_admin_port_it_covers if {
	o := open("ipv4", "tcp", 0, 65535, ["0.0.0.0/0"], [{"table": "inet filter", "chain": "input", "index": null, "text": "policy accept"}])
	vs := admin_ports.violation with input as node({"host": exposure([o])})
	some v in vs
	v.details.ports == [22, 2379, 2380, 3389, 5900, 6443, 10250]
	startswith(v.msg, "the policy of chain inet filter/input accepts tcp ports 22, 2379, 2380, 3389, 5900, 6443, 10250 ")
}

test_no_base_chain_is_named if {
	o := open("ipv4", "tcp", 0, 65535, ["0.0.0.0/0"], [])
	vs := admin_ports.violation with input as node({"host": exposure([o])})
	some v in vs
	startswith(v.msg, "no base chain: the hook's default accepts tcp ports")
	v.details.rule == null
}

test_narrow_public_prefix_passes_and_wide_fails if {
	narrow := open("ipv4", "tcp", 22, 22, ["203.0.113.0/24"], [rule(2, "ip saddr 203.0.113.0/24 tcp dport 22 accept")])
	count(admin_ports.violation) == 0 with input as node({"host": exposure([narrow])})
	wide := open("ipv4", "tcp", 22, 22, ["203.0.0.0/15"], [rule(2, "ip saddr 203.0.0.0/15 tcp dport 22 accept")])
	count(admin_ports.violation) == 1 with input as node({"host": exposure([wide])})
}

test_ipv6_uses_its_own_minimum if {
	ok := open("ipv6", "tcp", 6443, 6443, ["2001:db8:1::/48"], [rule(2, "ip6 saddr 2001:db8:1::/48 tcp dport 6443 accept")])
	count(admin_ports.violation) == 0 with input as node({"host": exposure([ok])})
	bad := open("ipv6", "tcp", 6443, 6443, ["2001:db8::/32", "fd00::/8"], [rule(2, "tcp dport 6443 accept")])
	vs := admin_ports.violation with input as node({"host": exposure([bad])})
	some v in vs
	v.details.sources == ["2001:db8::/32"]
	v.details.min_prefix == 48
}

test_parameters_change_ports_prefixes_sources_and_protocols if {
	o := open("ipv4", "tcp", 8443, 8443, ["100.64.0.0/10"], [rule(1, "tcp dport 8443 accept")])
	count(admin_ports.violation) == 0 with input as node({"host": exposure([o])})
	count(admin_ports.violation) == 1 with input as object.union(node({"host": exposure([o])}), {"parameters": {"ports": [8443]}})
	count(admin_ports.violation) == 0 with input as object.union(node({"host": exposure([o])}), {"parameters": {"ports": [8443], "min_prefix_ipv4": 8}})
	count(admin_ports.violation) == 0 with input as object.union(node({"host": exposure([o])}), {"parameters": {"ports": [8443], "allowed_sources": ["100.64.0.0/10"]}})
	count(admin_ports.violation) == 0 with input as object.union(node({"host": exposure([o])}), {"parameters": {"ports": [8443], "protocols": ["udp"]}})
}

test_udp_is_checked_by_default if {
	o := open("ipv4", "udp", 3389, 3389, ["0.0.0.0/0"], [rule(1, "udp dport 3389 accept")])
	vs := admin_ports.violation with input as node({"host": exposure([o])})
	some v in vs
	contains(v.msg, "accepts udp port 3389")
}

test_every_namespace_is_checked_and_namespaces_limits_them if {
	ok := open("ipv4", "tcp", 22, 22, ["10.0.0.0/8"], [rule(1, "tcp dport 22 accept")])
	doc := node({"host": exposure([ok]), "tenant-a": exposure([ssh_world]), "broken": null})
	vs := admin_ports.violation with input as doc
	count(vs) == 1
	some v in vs
	v.details.netns == "tenant-a"
	contains(v.msg, "(netns tenant-a, ipv4)")
	count(admin_ports.violation) == 0 with input as object.union(doc, {"parameters": {"namespaces": ["host"]}})
}

test_possible_acceptance_says_may_accept_and_shortens_long_source_lists if {
	o := object.union(open("ipv4", "tcp", 22, 22, ["0.0.0.0/5", "8.0.0.0/7", "11.0.0.0/8", "12.0.0.0/6", "16.0.0.0/4"], [rule(6, "meta mark 1 tcp dport 22 accept")]), {"certain": false})
	vs := admin_ports.violation with input as node({"host": exposure([o])})
	some v in vs
	contains(v.msg, "may accept tcp port 22")
	contains(v.msg, "from 0.0.0.0/5, 8.0.0.0/7, 11.0.0.0/8, 12.0.0.0/6 and 1 more,")
	v.details.certain == false
}

test_invalid_allowed_source_is_reported_and_ignored if {
	vs := admin_ports.violation with input as object.union(node({"host": exposure([])}), {"parameters": {"allowed_sources": ["10.0.0.0/8", "not-a-cidr"]}})
	count(vs) == 1
	some v in vs
	v.details.parameter == "allowed_sources"
}

test_unverified_node_reports_nothing if {
	doc := {"node": {"id": "web-01", "labels": {}, "attestation": {"outcome": "fail", "verified": false},
		"firewall": null, "network": null, "runtime": null}}
	count(admin_ports.violation) == 0 with input as doc
	count(admin_ports.violation) == 0 with input as object.union(doc, {"parameters": {"allowed_sources": ["bogus"]}})
}
