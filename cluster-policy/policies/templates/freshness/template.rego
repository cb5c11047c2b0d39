# Every selected node attested recently.
#
# Cluster scope (input.cluster): one violation naming every selected node whose latest
# attestation (`attestation.at`, unix seconds, whatever its outcome) is older than
# `max_age_s` before `input.cluster.now`, or that was never attested (no `at`).
package palisade.templates.freshness

import rego.v1

default given := {}

given := input.parameters if is_object(input.parameters)

max_age := given.max_age_s

now := input.cluster.now

# Node ids without an attestation time; {id: age} of those attested too long ago. Plain
# references rather than helper functions: this walks every node once a second.
never := sort([id | some id, node in input.cluster.nodes; not is_number(node.attestation.at)])

stale := {id: age |
	some id, node in input.cluster.nodes
	at := node.attestation.at
	is_number(at)
	age := now - at
	age > max_age
}

violation contains v if {
	is_number(max_age)
	late := sort([id | some id, _ in stale])
	nodes := sort(array.concat(never, late))
	count(nodes) > 0
	v := {
		"msg": sprintf("%d %s not attested in the last %d s: %s", [count(nodes), plural(count(nodes)), max_age, shown(nodes, stale)]),
		"nodes": nodes,
		"details": {
			"max_age_s": max_age, "now": now,
			"never_attested": never, "age_s": stale,
		},
	}
}

plural(1) := "node"

plural(n) := "nodes" if n != 1

# At most ten, each with its age, then how many more.
shown(ids, ages) := concat(", ", [entry(id, ages) | some id in array.slice(ids, 0, 10)]) if count(ids) <= 10

shown(ids, ages) := sprintf("%s and %d more", [
	concat(", ", [entry(id, ages) | some id in array.slice(ids, 0, 10)]),
	count(ids) - 10,
]) if count(ids) > 10

entry(id, ages) := sprintf("%s (%d s ago)", [id, ages[id]]) if ages[id]

entry(id, ages) := sprintf("%s (never)", [id]) if not ages[id]
