# Inbound sources outside an allowlist.
#
# Over the exposure facts of every measured namespace (input.node.firewall.exposures,
# docs/exposure.md): an open port (new connections accepted on the input hook, not only via
# lo), on one of `ports` when given, is a violation when some of its source blocks are not
# within `allowed_sources`. A block is within the allowlist when one allowed block contains
# it or several together cover it (10.0.0.0/8 accepted, 10.0.0.0/9 and 10.128.0.0/9 allowed).
# The message says, per source outside, which allowed blocks it partly overlaps
# (net.cidr_intersects), and names the rule whose verdict accepts it.
package palisade.templates.ingress_allowlist

import rego.v1

defaults := {"allowed_sources": [], "ports": [], "namespaces": []}

default given := {}

given := input.parameters if is_object(input.parameters)

params := object.union(defaults, given)

verified if input.node.attestation.verified == true

wanted(_) if count(params.namespaces) == 0

wanted(ns) if ns in params.namespaces

exposures[ns] := e if {
	verified
	some ns, e in object.get(input.node, ["firewall", "exposures"], {})
	wanted(ns)
	is_object(e)
}

allowed := {c | some c in params.allowed_sources; net.cidr_is_valid(c)}

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
	filtered := [p | some p in params.ports; o.port_from <= p; p <= o.port_to]
	port_selected(filtered)
	outside := [{"source": s, "overlaps": overlaps(s)} | some s in o.sources; not within(s)]
	count(outside) > 0
	rule := accepting_rule(o)
	v := {
		"msg": sprintf("%s %s %s %s (netns %s, %s) from outside the allowed sources: %s%s", [
			who(rule), accept_verb(o), o.proto, ports_text(o), ns, o.family,
			shown([source_text(x) | some x in outside]), what(rule),
		]),
		"details": {
			"netns": ns, "family": o.family, "proto": o.proto,
			"port_from": o.port_from, "port_to": o.port_to, "ports": filtered,
			"sources": outside, "certain": o.certain, "rule": rule,
		},
	}
}

port_selected(_) if count(params.ports) == 0

port_selected(filtered) if count(filtered) > 0

# Inside one allowed block.
within(s) if {
	some a in allowed
	net.cidr_contains(a, s)
}

# Covered by several allowed blocks together: the largest allowed blocks inside `s` (CIDR
# blocks are nested or disjoint, so those are disjoint) add up to `s`. Sizes are counted in
# units of 2^-50 of `s`, exact as integers; smaller blocks are not counted (then `s` is
# reported, never wrongly passed).
within(s) if {
	parts := {a | some a in allowed; net.cidr_contains(s, a)}
	count(parts) > 1
	plen := prefix_len(s)
	largest := {a |
		some a in parts
		not inside_another(a, parts)
	}
	sum([pow2(50 - d) | some a in largest; d := prefix_len(a) - plen; d <= 50]) == pow2(50)
}

# `a` is inside a larger block of `parts`, or equal to one that sorts first.
inside_another(a, parts) if {
	some b in parts
	b != a
	net.cidr_contains(b, a)
	not net.cidr_contains(a, b)
}

inside_another(a, parts) if {
	some b in parts
	b < a
	net.cidr_contains(b, a)
	net.cidr_contains(a, b)
}

pow2(0) := 1

pow2(n) := product([2 | some _ in numbers.range(1, n)]) if n > 0

prefix_len(cidr) := to_number(split(cidr, "/")[1])

overlaps(s) := sort([a | some a in allowed; net.cidr_intersects(a, s)])

source_text(x) := x.source if count(x.overlaps) == 0

source_text(x) := sprintf("%s (partly: it overlaps %s)", [x.source, concat(", ", x.overlaps)]) if {
	count(x.overlaps) > 0
}

ports_text(o) := sprintf("port %d", [o.port_from]) if o.port_from == o.port_to

ports_text(o) := sprintf("ports %d-%d", [o.port_from, o.port_to]) if o.port_from != o.port_to

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

shown(xs) := concat(", ", xs) if count(xs) <= 4

shown(xs) := sprintf("%s and %d more", [concat(", ", array.slice(xs, 0, 4)), count(xs) - 4]) if {
	count(xs) > 4
}
