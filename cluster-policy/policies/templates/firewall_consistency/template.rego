# Nodes of a group run the same firewall.
#
# Cluster scope (input.cluster: node summaries and label groups). Without `reference_digest`:
# within each group of nodes sharing a value of the label `group_by` (input.cluster.groups
# "<group_by>=<value>"), the nodes whose firewall digest differs from the group's most common
# digest (ties: the lexicographically smallest digest) are reported, one violation per group.
# With `reference_digest`: every selected node whose digest differs from it, in one violation
# (`group_by` is then unused). Nodes without a digest (their evidence did not verify) are
# ignored: the freshness template and the verifier report them.
#
# Grouped, the cost is that of the group's distinct digests and deviating nodes, not of its
# nodes: the engine hands over each group's nodes by digest (input.cluster.firewall_groups).
package palisade.templates.firewall_consistency

import rego.v1

defaults := {"group_by": "", "reference_digest": ""}

default given := {}

given := input.parameters if is_object(input.parameters)

params := object.union(defaults, given)

digest_of(id) := d if {
	d := object.get(input.cluster.nodes, [id, "firewall", "digest"], null)
	is_string(d)
	d != ""
}

referenced if {
	is_string(params.reference_digest)
	params.reference_digest != ""
}

prefix := concat("", [params.group_by, "="])

# group key => {digest: [node ids]}: input.cluster.firewall_groups, which the engine keeps up to
# date node by node (nodes with a digest only), so nothing here visits nodes one by one.
group_digests[key] := by_digest if {
	not referenced
	params.group_by != ""
	some key, by_digest in input.cluster.firewall_groups
	startswith(key, prefix)
	count(by_digest) > 0
}

violation contains v if {
	some key, by_digest in group_digests
	count(by_digest) > 1
	sizes := {d: count(ids) | some d, ids in by_digest}
	top := max([n | some _, n in sizes])
	leaders := sort([d | some d, n in sizes; n == top])
	majority := leaders[0]
	deviating := sort([id | some d, ids in by_digest; d != majority; some id in ids])
	total := sum([n | some _, n in sizes])
	value := substring(key, count(prefix), -1)
	tied := count(leaders) > 1
	v := {
		"msg": sprintf("%d of %d nodes with %s have a firewall different from the group's most common one (%s, on %d %s%s): %s", [
			count(deviating), total, key, short(majority), top, plural(top),
			tie_text(tied), shown(deviating),
		]),
		"nodes": deviating,
		"details": {
			"group": key, "label": params.group_by, "value": value,
			"majority_digest": majority, "majority_nodes": top, "tied": tied,
			"nodes_with_digest": total,
			"digests": {id: d | some d, ids in by_digest; d != majority; some id in ids},
		},
	}
}

violation contains v if {
	referenced
	digests := {id: d | some id, _ in input.cluster.nodes; d := digest_of(id)}
	deviating := sort([id | some id, d in digests; d != params.reference_digest])
	count(deviating) > 0
	v := {
		"msg": sprintf("%d of %d nodes have a firewall different from the reference %s: %s", [
			count(deviating), count(digests), short(params.reference_digest), shown(deviating),
		]),
		"nodes": deviating,
		"details": {
			"reference_digest": params.reference_digest, "nodes_with_digest": count(digests),
			"digests": {id: digests[id] | some id in deviating},
		},
	}
}

plural(1) := "node"

plural(n) := "nodes" if n != 1

tie_text(true) := "; tied: the smallest digest is taken"

tie_text(false) := ""

# The first 12 hex digits, as operators quote digests.
short(d) := substring(d, 0, 12) if count(d) > 12

short(d) := d if count(d) <= 12

# At most ten node ids, then how many more.
shown(ids) := concat(", ", ids) if count(ids) <= 10

shown(ids) := sprintf("%s and %d more", [concat(", ", array.slice(ids, 0, 10)), count(ids) - 10]) if {
	count(ids) > 10
}
