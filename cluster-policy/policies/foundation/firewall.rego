# palisade foundation firewall baseline (per node), over the exposure facts the verifier
# computes from the verified ruleset (docs/exposure.md):
#
# - the facts must exist (the ruleset was read back into the model) and be complete (the
#   engine finished within its memory budget);
# - each family (ipv4, ipv6) has an input-hook base chain, and every input-hook base chain has
#   policy drop;
# - SSH (tcp/22) is not reachable, for new connections on any interface but lo, from any
#   address outside the private and loopback ranges — the effective verdict of the whole
#   ruleset (every base chain, jumps, gotos, sets, verdict maps, first match), not rules read
#   one by one. The violation names the rule that accepts it and prints it.
package palisade.foundation.firewall

import rego.v1

exposure := input.node.firewall.exposure

# Sources SSH may come from.
private_ranges := [
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8",
	"fc00::/7", "fe80::/10", "::1/128",
]

violation contains v if {
	not is_object(exposure)
	reason := object.get(input.node.firewall, ["exposure_errors"], {})
	v := {"msg": sprintf("no firewall exposure facts for this node: %v", [reason])}
}

violation contains v if {
	is_object(exposure)
	exposure.truncated
	v := {"msg": "the firewall's exposure could not be evaluated within the engine's memory budget: every port is treated as open"}
}

violation contains v if {
	is_object(exposure)
	every fam, f in exposure.families {
		count(input_base_chains(f)) == 0
	}
	v := {"msg": "no base chain on the input hook: every port is open"}
}

violation contains v if {
	is_object(exposure)
	some fam, f in exposure.families
	count(input_base_chains(f)) == 0
	some other, g in exposure.families
	count(input_base_chains(g)) > 0
	v := {
		"msg": sprintf("no base chain on the %s input hook: every %s port is open", [fam, fam]),
		"family": fam,
	}
}

violation contains v if {
	some f in exposure.families
	some b in input_base_chains(f)
	b.policy != "drop"
	v := {
		"msg": sprintf("chain %s/%s on the input hook has policy %s, want drop", [b.table, b.chain, b.policy]),
		"table": b.table, "chain": b.chain,
	}
}

input_base_chains(f) := [b |
	some b in f.hooks.input.base_chains
	b.hook == "input"
]

# Open-port facts for tcp/22 from a public source: [accepting rule, open port].
ssh_open contains [rule, o] if {
	not exposure.truncated
	some o in exposure.open_ports
	o.proto == "tcp"
	o.port_from <= 22
	22 <= o.port_to
	not o.loopback_only
	some s in o.sources
	public(s)
	rule := accepting_rule(o)
}

# The last rule (or policy) on the packet's way that accepted it: the one in the hook's chain.
accepting_rule(o) := o.via[count(o.via) - 1] if count(o.via) > 0

accepting_rule(o) := null if count(o.via) == 0

public(cidr) if not private(cidr)

private(cidr) if {
	some p in private_ranges
	net.cidr_contains(p, cidr)
}

violation contains v if {
	some rule in {r | some [r, _] in ssh_open}
	ports := [o | some [r, o] in ssh_open; r == rule]
	sources := sort({s | some o in ports; some s in o.sources; public(s)})
	verb := accept_verb(ports)
	v := {
		"msg": sprintf("%s %s tcp/22 from %s%s", [who(rule), verb, shown(sources), what(rule)]),
		"rule": rule, "sources": sources,
		"certain": verb == "accepts",
	}
}

accept_verb(ports) := "accepts" if {
	some o in ports
	o.certain
} else := "may accept"

who(rule) := sprintf("rule %d of chain %s/%s", [rule.index + 1, rule.table, rule.chain]) if {
	rule != null
	rule.index != null
}

who(rule) := sprintf("the policy of chain %s/%s", [rule.table, rule.chain]) if {
	rule != null
	rule.index == null
}

who(rule) := "no base chain: the hook's default" if rule == null

what(rule) := sprintf(" (%s)", [rule.text]) if rule != null

what(rule) := "" if rule == null

# At most four blocks, then how many more.
shown(sources) := concat(", ", sources) if count(sources) <= 4

shown(sources) := sprintf("%s and %d more", [concat(", ", array.slice(sources, 0, 4)), count(sources) - 4]) if {
	count(sources) > 4
}
