# Egress default deny: what the host sends is dropped unless a rule accepts it.
#
# Over the exposure facts of every measured namespace (input.node.firewall.exposures,
# docs/exposure.md), per family: the output path (base chains on the output, postrouting and
# egress hooks) must have a base chain, and its default (the verdict for traffic no rule
# matches) must be drop.
package palisade.templates.egress_default_deny

import rego.v1

defaults := {"namespaces": []}

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

violation contains v if {
	some ns, e in exposures
	some fam, f in e.families
	count(object.get(f, ["hooks", "output", "base_chains"], [])) == 0
	v := {
		"msg": sprintf("netns %s, %s: no base chain on the output path: everything the host sends is accepted", [ns, fam]),
		"details": {"netns": ns, "family": fam, "default": "accept", "base_chains": []},
	}
}

violation contains v if {
	some ns, e in exposures
	some fam, f in e.families
	path := f.hooks.output
	count(path.base_chains) > 0
	path["default"] != "drop"
	chains := [sprintf("%s/%s (%s hook, policy %s)", [b.table, b.chain, b.hook, b.policy]) | some b in path.base_chains]
	v := {
		"msg": sprintf("netns %s, %s: traffic no rule matches on the output path is accepted (default %s, want drop); base chains: %s", [
			ns, fam, path["default"], concat(", ", chains),
		]),
		"details": {"netns": ns, "family": fam, "default": path["default"], "base_chains": chains},
	}
}
