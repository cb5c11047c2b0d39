package palisade.templates.listener_allowlist_test

import rego.v1

import data.palisade.templates.listener_allowlist

sshd := {"comm": "sshd", "exe": "/usr/sbin/sshd", "uid": 0}

nginx := {"comm": "nginx", "exe": "/usr/sbin/nginx", "uid": 0}

nginx_worker := {"comm": "nginx", "exe": "/usr/sbin/nginx", "uid": 33}

python := {"comm": "python3", "exe": "/usr/bin/python3.11", "uid": 0}

systemd := {"comm": "systemd", "exe": "/usr/lib/systemd/systemd", "uid": 0}

listener(protocol, family, address, port, owners) := {"protocol": protocol, "family": family, "address": address, "port": port, "count": 1, "owners": owners}

sockets(listeners) := {"format": "palisade.sockets/1", "listeners": listeners, "raw": [], "packet": [], "flags": []}

node(inventories, p) := {
	"node": {
		"id": "web-01", "labels": {}, "attestation": {"outcome": "pass", "verified": true, "at": 1700000000},
		"runtime": {"bpf": {}, "sockets": inventories, "kernel": null},
	},
	"parameters": p,
}

web_allowed := [
	{"port": 22, "protocol": "tcp", "comm": "sshd"},
	{"port": 80, "protocol": "tcp", "exe": "/usr/sbin/nginx"},
	{"port": 443, "comm": "nginx", "exe": "/usr/sbin/nginx"},
]

web := [
	listener("tcp", "inet", "0.0.0.0", 22, [sshd]),
	listener("tcp", "inet6", "::", 22, [sshd]),
	listener("tcp", "inet", "0.0.0.0", 80, [nginx, nginx_worker]),
	listener("tcp", "inet", "0.0.0.0", 443, [nginx, nginx_worker]),
]

test_allowlisted_listeners_pass if {
	count(listener_allowlist.violation) == 0 with input as node({"host": sockets(web)}, {"allowed": web_allowed})
}

test_an_unlisted_listener_fails_naming_address_port_and_owner if {
	extra := listener("tcp", "inet", "0.0.0.0", 8000, [python])
	vs := listener_allowlist.violation with input as node({"host": sockets(array.concat(web, [extra]))}, {"allowed": web_allowed})
	count(vs) == 1
	some v in vs
	v.msg == "tcp listener 0.0.0.0:8000 in netns host is held by python3 (/usr/bin/python3.11, uid 0), which is not allowlisted"
	v.details.listener.port == 8000
	v.details.owners == [python]
}

test_entries_match_protocol_address_and_process if {
	udp22 := listener("udp", "inet", "0.0.0.0", 22, [sshd])
	count(listener_allowlist.violation) == 1 with input as node({"host": sockets([udp22])}, {"allowed": web_allowed})
	bound := listener("tcp", "inet6", "2001:db8::10", 5432, [python])
	vs := listener_allowlist.violation with input as node({"host": sockets([bound])}, {"allowed": [{"port": 5432, "address": "2001:db8::11"}]})
	some v in vs
	startswith(v.msg, "tcp listener [2001:db8::10]:5432 in netns host is held by python3")
	count(listener_allowlist.violation) == 0 with input as node({"host": sockets([bound])}, {"allowed": [{"port": 5432, "address": "2001:db8::10"}]})
	count(listener_allowlist.violation) == 1 with input as node({"host": sockets([bound])}, {"allowed": [{"port": 5432, "exe": "/usr/bin/python3"}]})
}

test_every_owner_must_be_allowed if {
	shared := listener("tcp", "inet", "0.0.0.0", 22, [sshd, python])
	vs := listener_allowlist.violation with input as node({"host": sockets([shared])}, {"allowed": web_allowed})
	some v in vs
	v.details.owners == [python]
	# Socket activation: systemd and the service both hold it, one entry each.
	activated := listener("tcp", "inet", "0.0.0.0", 22, [sshd, systemd])
	count(listener_allowlist.violation) == 0 with input as node({"host": sockets([activated])}, {"allowed": array.concat(web_allowed, [{"port": 22, "comm": "systemd"}])})
}

test_a_listener_without_owner_needs_an_entry_without_process_fields if {
	orphan := listener("udp", "inet6", "::", 6000, [])
	vs := listener_allowlist.violation with input as node({"host": sockets([orphan])}, {"allowed": [{"port": 6000, "comm": "x"}]})
	some v in vs
	v.msg == "udp listener [::]:6000 in netns host has no owning process and is not allowlisted"
	count(listener_allowlist.violation) == 0 with input as node({"host": sockets([orphan])}, {"allowed": [{"port": 6000, "protocol": "udp"}]})
}

test_loopback_listeners_are_skipped_unless_asked if {
	lo := [
		listener("udp", "inet", "127.0.0.1", 323, [python]),
		listener("tcp", "inet6", "::1", 8080, [python]),
		listener("udp", "inet6", "::ffff:127.0.0.1", 7005, [python]),
	]
	count(listener_allowlist.violation) == 0 with input as node({"host": sockets(lo)}, {"allowed": []})
	vs := listener_allowlist.violation with input as node({"host": sockets(lo)}, {"allowed": [], "ignore_loopback": false})
	count(vs) == 3
	# Defaults apply when the engine passes no parameters at all.
	count(listener_allowlist.violation) == 0 with input as object.remove(node({"host": sockets(lo)}, {}), ["parameters"])
}

test_every_namespace_is_checked_and_namespaces_limits if {
	doc := node({"host": sockets(web), "tenant": sockets([listener("tcp", "inet", "10.0.0.5", 9000, [python])])}, {"allowed": web_allowed})
	vs := listener_allowlist.violation with input as doc
	{v.details.netns | some v in vs} == {"tenant"}
	count(listener_allowlist.violation) == 0 with input as doc with input.parameters.namespaces as ["host"]
}

test_sparse_documents_still_report if {
	vs := listener_allowlist.violation with input as node({"host": {"listeners": [{"port": 1}]}}, {"allowed": []})
	{v.msg | some v in vs} == {"? listener ?:1 in netns host has no owning process and is not allowlisted"}
}

test_absent_inventory_and_unverified_nodes_report_nothing if {
	count(listener_allowlist.violation) == 0 with input as node({}, {"allowed": []})
	doc := node({"host": sockets(web)}, {"allowed": []})
	count(listener_allowlist.violation) == 4 with input as doc
	count(listener_allowlist.violation) == 0 with input as doc with input.node.attestation.verified as false
	count(listener_allowlist.violation) == 0 with input as {"node": {"id": "x", "labels": {}, "attestation": {"outcome": "fail", "verified": false}, "runtime": null}}
}
