# Administrative ports reachable from too wide a source.
#
# Over the exposure facts of every measured namespace (input.node.firewall.exposures,
# docs/exposure.md): an open port (new connections accepted on the input hook, not only via
# lo) that covers one of `ports` is a violation when one of its source blocks is wider than
# `min_prefix_ipv4` / `min_prefix_ipv6` (a shorter prefix) and lies outside every
# `allowed_sources` block. One violation per open-port fact: it names the ports, the wide
# sources, the namespace, and the rule whose verdict accepts them (the last of `via`).
package palisade.templates.admin_ports

import rego.v1

defaults := {
	"ports": [22, 3389, 5900, 6443, 2379, 2380, 10250],
	"protocols": ["tcp", "udp"],
	"min_prefix_ipv4": 16,
	"min_prefix_ipv6": 48,
	"allowed_sources": [
		"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8",
		"fc00::/7", "fe80::/10", "::1/128",
	],
	"namespaces": [],
}

default given := {}

given := input.parameters if is_object(input.parameters)

params := object.union(defaults, given)

verified if input.node.attestation.verified == true

wanted(_) if count(params.namespaces) == 0

wanted(ns) if ns in params.namespaces

# Exposure facts per namespace (namespaces without facts are the cis_nftables template's).
exposures[ns] := e if {
	verified
	some ns, e in object.get(input.node, ["firewall", "exposures"], {})
	wanted(ns)
	is_object(e)
}

allowed := [c | some c in params.allowed_sources; net.cidr_is_valid(c)]

violation contains v if {
	verified
	some c in params.allowed_sources
	not net.cidr_is_valid(c)
	v := {
		"msg": sprintf("parameter allowed_sources: %q is not a CIDR block (ignored)", [c]),
		"details": {"parameter": "allowed_sources", "value": c},
	}
}

violation contains v if {
	some ns, e in exposures
	some o in e.open_ports
	not o.loopback_only
	o.proto in params.protocols
	covered := sort([p | some p in params.ports; o.port_from <= p; p <= o.port_to])
	count(covered) > 0
	wide := [s | some s in o.sources; too_wide(o.family, s)]
	count(wide) > 0
	rule := accepting_rule(o)
	verb := accept_verb(o)
	v := {
		"msg": sprintf("%s %s %s %s (netns %s, %s) from %s, wider than /%d%s", [
			who(rule), verb, o.proto, ports_text(covered), ns, o.family,
			shown(wide), min_prefix(o.family), what(rule),
		]),
		"details": {
			"netns": ns, "family": o.family, "proto": o.proto,
			"ports": covered, "port_from": o.port_from, "port_to": o.port_to,
			"sources": wide, "min_prefix": min_prefix(o.family),
			"certain": o.certain, "rule": rule,
		},
	}
}

min_prefix("ipv4") := params.min_prefix_ipv4

min_prefix("ipv6") := params.min_prefix_ipv6

prefix_len(cidr) := to_number(split(cidr, "/")[1])

too_wide(family, s) if {
	prefix_len(s) < min_prefix(family)
	not allowed_source(s)
}

allowed_source(s) if {
	some a in allowed
	net.cidr_contains(a, s)
}

# The verdict of the hook's own chain: the last rule (or policy) on the packet's way.
accepting_rule(o) := o.via[count(o.via) - 1] if count(o.via) > 0

accepting_rule(o) := null if count(o.via) == 0

accept_verb(o) := "accepts" if o.certain

accept_verb(o) := "may accept" if not o.certain

who(rule) := sprintf("rule %d of chain %s/%s", [rule.index + 1, rule.table, rule.chain]) if {
	rule != null
	rule.index != null
}

who(rule) := sprintf("the policy of chain %s/%s", [rule.table, rule.chain]) if {
	rule != null
	rule.index == null
}

who(null) := "no base chain: the hook's default"

what(rule) := sprintf(" (%s)", [rule.text]) if rule != null

what(null) := ""

ports_text(ports) := sprintf("port %d", [ports[0]]) if count(ports) == 1

ports_text(ports) := sprintf("ports %s", [concat(", ", [format_int(p, 10) | some p in ports])]) if {
	count(ports) > 1
}

# At most four blocks, then how many more.
shown(xs) := concat(", ", xs) if count(xs) <= 4

shown(xs) := sprintf("%s and %d more", [concat(", ", array.slice(xs, 0, 4)), count(xs) - 4]) if {
	count(xs) > 4
}
