# palisade foundation firewall baseline (per node).
#
# - every netfilter family with an input-hook base chain must default to drop, and at least one
#   input-hook base chain must exist;
# - no rule in an input-hook base chain may accept tcp/22 (SSH), from any source.
#
# Scope: rules are read as written in input-hook base chains (jumps are not followed). The
# firewall issue replaces this with exposure facts computed over the whole ruleset.
package palisade.foundation.firewall

import rego.v1

input_chains contains [tk, cn, c] if {
	some tk, t in input.node.firewall.ruleset.tables
	some cn, c in t.chains
	c.hook == "input"
}

violation contains v if {
	count(input_chains) == 0
	v := {"msg": "no base chain on the input hook: every port is open"}
}

violation contains v if {
	some [tk, cn, c] in input_chains
	c.policy != "drop"
	v := {
		"msg": sprintf("chain %s/%s on the input hook has policy %s, want drop", [tk, cn, c.policy]),
		"table": tk, "chain": cn,
	}
}

violation contains v if {
	some [tk, cn, c] in input_chains
	some i, r in c.rules
	accepts(r)
	some m in port_matches(r)
	port_in(m.op, m.right, 22)
	v := {
		"msg": sprintf("rule %d of chain %s/%s accepts tcp/22 (tcp dport %s accept)", [i + 1, tk, cn, json.marshal(m.right)]),
		"table": tk, "chain": cn, "position": i + 1, "rule": r,
	}
}

accepts(r) if {
	some s in r.expr
	s.accept == null
}

port_matches(r) := {m |
	some s in r.expr
	m := s.match
	m.left.payload.field == "dport"
	m.left.payload.protocol in {"tcp", "th"}
}

port_in(op, right, p) if {
	op in {"==", "in"}
	covers(right, p)
}

port_in(op, right, p) if {
	op in {"==", "in"}
	some item in right.set
	covers(item, p)
}

covers(item, p) if item == p

covers(item, p) if {
	[lo, hi] := item.range
	lo <= p
	p <= hi
}
