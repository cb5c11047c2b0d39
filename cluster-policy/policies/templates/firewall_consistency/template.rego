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
# Counting sorts each group's digests once (no pairwise comparison of nodes).
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

# group key => {node id: digest}, for nodes with a digest.
group_digests[key] := digests if {
	not referenced
	params.group_by != ""
	some key, ids in input.cluster.groups
	startswith(key, prefix)
	digests := {id: d | some id in ids; d := digest_of(id)}
	count(digests) > 0
}

violation contains v if {
	some key, digests in group_digests
	runs := digest_runs(digests)
	count(runs) > 1
	top := max([r.nodes | some r in runs])
	majority := [r.digest | some r in runs; r.nodes == top][0]
	deviating := sort([id | some id, d in digests; d != majority])
	value := substring(key, count(prefix), -1)
	tied := count([r | some r in runs; r.nodes == top]) > 1
	v := {
		"msg": sprintf("%d of %d nodes with %s have a firewall different from the group's most common one (%s, on %d %s%s): %s", [
			count(deviating), count(digests), key, short(majority), top, plural(top),
			tie_text(tied), shown(deviating),
		]),
		"nodes": deviating,
		"details": {
			"group": key, "label": params.group_by, "value": value,
			"majority_digest": majority, "majority_nodes": top, "tied": tied,
			"nodes_with_digest": count(digests),
			"digests": {id: digests[id] | some id in deviating},
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

# [{digest, nodes}] in digest order: the sorted digests cut into runs of equal ones, so that
# counting costs a sort, whatever the number of distinct digests (every node may have its own).
digest_runs(digests) := [{"digest": sorted[i], "nodes": end - i} |
	some k, i in starts
	end := run_end(starts, k, count(sorted))
] if {
	sorted := sort([d | some _, d in digests])
	starts := [i | some i, d in sorted; run_start(sorted, i)]
}

run_start(_, i) if i == 0

run_start(sorted, i) if {
	i > 0
	sorted[i] != sorted[i - 1]
}

run_end(starts, k, n) := starts[k + 1] if k + 1 < count(starts)

run_end(starts, k, n) := n if k + 1 == count(starts)

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
