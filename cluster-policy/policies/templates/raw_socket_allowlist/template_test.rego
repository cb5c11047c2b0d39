package palisade.templates.raw_socket_allowlist_test

import rego.v1

import data.palisade.templates.raw_socket_allowlist

ping := {"comm": "ping", "exe": "/usr/bin/ping", "uid": 1000}

tcpdump := {"comm": "tcpdump", "exe": "/usr/bin/tcpdump", "uid": 0}

networkd := {"comm": "systemd-network", "exe": "/usr/lib/systemd/systemd-networkd", "uid": 998}

raw(owners) := {"family": "inet", "protocol": "icmp", "address": "0.0.0.0", "count": 1, "owners": owners}

packet_all(owners) := {"type": "raw", "protocol": "all", "count": 1, "owners": owners}

packet_eth0(owners) := {"type": "dgram", "protocol": "ip", "interface": "eth0", "count": 1, "owners": owners}

sockets(raws, packets) := {"format": "palisade.sockets/1", "listeners": [], "raw": raws, "packet": packets, "flags": []}

node(inventories, allowed) := {
	"node": {
		"id": "web-02", "labels": {}, "attestation": {"outcome": "pass", "verified": true, "at": 1700000000},
		"runtime": {"bpf": {}, "sockets": inventories, "kernel": null},
	},
	"parameters": {"allowed_processes": allowed},
}

allowed := [{"comm": "systemd-network", "exe": "/usr/lib/systemd/systemd-networkd"}, {"comm": "ping"}]

test_allowlisted_owners_pass if {
	doc := node({"host": sockets([raw([ping])], [packet_eth0([networkd])])}, allowed)
	count(raw_socket_allowlist.violation) == 0 with input as doc
}

test_an_unlisted_packet_socket_owner_fails if {
	doc := node({"host": sockets([], [packet_eth0([networkd]), packet_all([tcpdump])])}, allowed)
	vs := raw_socket_allowlist.violation with input as doc
	count(vs) == 1
	some v in vs
	v.msg == "packet socket (type raw, protocol all, every interface) in netns host is held by tcpdump (/usr/bin/tcpdump, uid 0), which is not allowlisted"
	v.details.owner == tcpdump
	v.details.socket == {"type": "raw", "protocol": "all", "count": 1}
}

test_an_unlisted_raw_socket_owner_fails if {
	vs := raw_socket_allowlist.violation with input as node({"host": sockets([raw([ping, tcpdump])], [])}, allowed)
	count(vs) == 1
	some v in vs
	v.msg == "raw socket (inet, protocol icmp, bound to 0.0.0.0) in netns host is held by tcpdump (/usr/bin/tcpdump, uid 0), which is not allowlisted"
}

test_entries_match_by_every_field_they_give if {
	doc := node({"host": sockets([raw([ping])], [])}, [])
	count(raw_socket_allowlist.violation) == 1 with input as doc
	count(raw_socket_allowlist.violation) == 0 with input as doc with input.parameters.allowed_processes as [{"exe": "/usr/bin/ping"}]
	count(raw_socket_allowlist.violation) == 1 with input as doc with input.parameters.allowed_processes as [{"comm": "ping", "exe": "/bin/ping"}]
	count(raw_socket_allowlist.violation) == 1 with input as doc with input.parameters.allowed_processes as [{}]
}

test_an_owner_whose_executable_is_unknown if {
	ghost := {"comm": "kworker/0:1", "exe": null, "uid": 0}
	vs := raw_socket_allowlist.violation with input as node({"host": sockets([raw([ghost])], [])}, [{"exe": "/usr/bin/ping"}])
	some v in vs
	contains(v.msg, "held by kworker/0:1 (executable unknown, uid 0)")
	count(raw_socket_allowlist.violation) == 0 with input as node({"host": sockets([raw([ghost])], [])}, [{"comm": "kworker/0:1"}])
}

test_a_socket_without_owner_fails if {
	vs := raw_socket_allowlist.violation with input as node({"host": sockets([], [packet_eth0([])])}, allowed)
	count(vs) == 1
	some v in vs
	startswith(v.msg, "packet socket (type dgram, protocol ip, interface eth0) in netns host has no owning process")
	v.details.owner == null
}

test_every_namespace_is_checked_and_namespaces_limits if {
	doc := node({"host": sockets([raw([ping])], []), "tenant": sockets([], [packet_all([tcpdump])])}, allowed)
	vs := raw_socket_allowlist.violation with input as doc
	{v.details.netns | some v in vs} == {"tenant"}
	count(raw_socket_allowlist.violation) == 0 with input as doc with input.parameters.namespaces as ["host"]
}

test_absent_inventory_and_unverified_nodes_report_nothing if {
	count(raw_socket_allowlist.violation) == 0 with input as node({}, [])
	doc := node({"host": sockets([], [packet_all([tcpdump])])}, [])
	count(raw_socket_allowlist.violation) == 1 with input as doc
	count(raw_socket_allowlist.violation) == 0 with input as doc with input.node.attestation.verified as false
	count(raw_socket_allowlist.violation) == 0 with input as {"node": {"id": "x", "labels": {}, "attestation": {"outcome": "fail", "verified": false}, "runtime": null}}
}

test_sparse_documents_still_report if {
	vs := raw_socket_allowlist.violation with input as node({"host": {"raw": [{"protocol": "tcp"}], "packet": [{"owners": [{"comm": "x"}]}]}}, [])
	{v.msg | some v in vs} == {
		"raw socket (?, protocol tcp, bound to ?) in netns host has no owning process (it exited while the inventory was read, or the socket is the kernel's)",
		"packet socket (type ?, protocol ?, every interface) in netns host is held by x (executable unknown, uid ?), which is not allowlisted",
	}
}
