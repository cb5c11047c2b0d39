package palisade.templates.firewall_consistency_test

import rego.v1

import data.palisade.templates.firewall_consistency

a := "9ff29e9ad5ba60c8b9c514aced4bde004b904d522e9cebce6517eb3727ecc73c"

b := "90cff49e7f3c5806d87d1a50b673b2a088a7ea58515769233b1a4ba51cd02366"

c := "175b0b7e36c584747bb22474980b03e13ec14c0d886334a1991e9a15b575be57"

summary(id, labels, digest) := {
	"id": id, "labels": labels,
	"attestation": {"outcome": "pass", "verified": digest != null, "at": 1700000000},
	"firewall": {"digest": digest, "digests": {}},
}

# {"nodes": ..., "groups": ...} of [[id, labels, digest]], as the engine builds it.
cluster(rows, p) := {"cluster": {
	"now": 1700000100,
	"nodes": {id: summary(id, labels, d) | some [id, labels, d] in rows},
	"groups": {key: sort([id | some [id, labels, _] in rows; labels[k] == val]) |
		some [_, ls, _] in rows
		some k, val in ls
		key := concat("=", [k, val])
	},
	"firewall_groups": firewall_groups(rows),
}, "parameters": p}

# "key=value" => digest => sorted ids, of the rows with a digest, as the engine builds it.
firewall_groups(rows) := {key: by_digest |
	some [_, ls, _] in rows
	some k, val in ls
	key := concat("=", [k, val])
	by_digest := {d: sort([id | some [id, row_labels, dd] in rows; row_labels[k] == val; dd == d]) |
		some [_, labels_of_d, d] in rows
		labels_of_d[k] == val
		is_string(d)
		d != ""
	}
	count(by_digest) > 0
}

test_a_consistent_group_passes if {
	rows := [["web-01", {"role": "web"}, a], ["web-02", {"role": "web"}, a], ["web-03", {"role": "web"}, a]]
	count(firewall_consistency.violation) == 0 with input as cluster(rows, {"group_by": "role"})
}

test_the_deviating_node_of_a_group_is_named if {
	rows := [["web-01", {"role": "web"}, a], ["web-02", {"role": "web"}, b], ["web-03", {"role": "web"}, a]]
	vs := firewall_consistency.violation with input as cluster(rows, {"group_by": "role"})
	count(vs) == 1
	some v in vs
	v.nodes == ["web-02"]
	v.msg == "1 of 3 nodes with role=web have a firewall different from the group's most common one (9ff29e9ad5ba, on 2 nodes): web-02"
	v.details.majority_digest == a
	v.details.digests == {"web-02": b}
	v.details.value == "web"
}

test_a_tie_goes_to_the_smallest_digest if {
	rows := [["web-01", {"role": "web"}, a], ["web-02", {"role": "web"}, b]]
	vs := firewall_consistency.violation with input as cluster(rows, {"group_by": "role"})
	some v in vs
	b < a
	v.details.majority_digest == b
	v.details.tied == true
	v.nodes == ["web-01"]
	v.msg == "1 of 2 nodes with role=web have a firewall different from the group's most common one (90cff49e7f3c, on 1 node; tied: the smallest digest is taken): web-01"
}

test_groups_are_compared_within_only if {
	rows := [
		["web-01", {"role": "web", "zone": "a"}, a], ["web-02", {"role": "web", "zone": "b"}, a],
		["db-01", {"role": "db", "zone": "a"}, c], ["db-02", {"role": "db", "zone": "b"}, c],
		["db-03", {"role": "db", "zone": "b"}, b],
	]
	vs := firewall_consistency.violation with input as cluster(rows, {"group_by": "role"})
	{[v.details.group, v.nodes] | some v in vs} == {["role=db", ["db-03"]]}
	# By zone: zone=a has a and c (tie: c wins), zone=b has a, c, b (each once: c wins).
	vs2 := firewall_consistency.violation with input as cluster(rows, {"group_by": "zone"})
	{[v.details.group, v.nodes] | some v in vs2} == {["zone=a", ["web-01"]], ["zone=b", ["db-03", "web-02"]]}
	count(firewall_consistency.violation) == 0 with input as cluster(rows, {"group_by": "rack"})
}

test_nodes_without_digest_are_ignored if {
	rows := [["web-01", {"role": "web"}, a], ["web-02", {"role": "web"}, null], ["web-03", {"role": "web"}, a]]
	count(firewall_consistency.violation) == 0 with input as cluster(rows, {"group_by": "role"})
	rows2 := [["web-01", {"role": "web"}, a], ["web-02", {"role": "web"}, null], ["web-03", {"role": "web"}, b], ["web-04", {"role": "web"}, b]]
	vs := firewall_consistency.violation with input as cluster(rows2, {"group_by": "role"})
	some v in vs
	v.nodes == ["web-01"]
	v.details.nodes_with_digest == 3
	# A summary without firewall at all.
	bare := {"cluster": {"now": 1, "nodes": {"x": {"id": "x", "labels": {"role": "web"}, "attestation": null}}, "groups": {"role=web": ["x"]}, "firewall_groups": {}}, "parameters": {"group_by": "role"}}
	count(firewall_consistency.violation) == 0 with input as bare
}

test_a_reference_digest_names_every_other_node if {
	rows := [["web-01", {"role": "web"}, a], ["web-02", {"role": "web"}, b], ["db-01", {"role": "db"}, c], ["db-02", {"role": "db"}, null]]
	vs := firewall_consistency.violation with input as cluster(rows, {"group_by": "role", "reference_digest": a})
	count(vs) == 1
	some v in vs
	v.nodes == ["db-01", "web-02"]
	v.msg == "2 of 3 nodes have a firewall different from the reference 9ff29e9ad5ba: db-01, web-02"
	v.details.digests == {"db-01": c, "web-02": b}
	rows2 := [["web-01", {"role": "web"}, a], ["web-03", {"role": "web"}, a]]
	count(firewall_consistency.violation) == 0 with input as cluster(rows2, {"group_by": "role", "reference_digest": a})
	# A short reference is shown whole.
	vs2 := firewall_consistency.violation with input as cluster(rows2, {"group_by": "role", "reference_digest": "abc"})
	some v2 in vs2
	contains(v2.msg, "from the reference abc: web-01, web-03")
}

test_every_node_distinct_and_lists_are_shortened if {
	ids := [sprintf("n-%04d", [i]) | some i in numbers.range(1, 2000)]
	doc := {"cluster": {
		"now": 1700000100,
		"nodes": {id: summary(id, {"role": "edge"}, sprintf("%064d", [i + 1])) | some i, id in ids},
		"groups": {"role=edge": ids},
		"firewall_groups": {"role=edge": {sprintf("%064d", [i + 1]): [id] | some i, id in ids}},
	}, "parameters": {"group_by": "role"}}
	vs := firewall_consistency.violation with input as doc
	some v in vs
	count(v.nodes) == 1999
	v.details.majority_digest == sprintf("%064d", [1])
	endswith(v.msg, "n-0002, n-0003, n-0004, n-0005, n-0006, n-0007, n-0008, n-0009, n-0010, n-0011 and 1989 more")
}
