package palisade.templates.freshness_test

import rego.v1

import data.palisade.templates.freshness

summary(id, at) := {
	"id": id, "labels": {"role": "web"},
	"attestation": {"outcome": "pass", "verified": true, "at": at},
	"firewall": {"digest": "9ff29e9a", "digests": {}},
}

cluster(rows, max_age) := {
	"cluster": {
		"now": 1700001000,
		"nodes": {id: summary(id, at) | some [id, at] in rows},
		"groups": {"role=web": sort([id | some [id, _] in rows])},
	},
	"parameters": {"max_age_s": max_age},
}

test_recent_nodes_pass if {
	rows := [["web-01", 1700000950], ["web-02", 1700000400], ["db-01", 1700001000]]
	count(freshness.violation) == 0 with input as cluster(rows, 600)
}

test_a_node_exactly_at_the_limit_passes_and_one_second_more_fails if {
	count(freshness.violation) == 0 with input as cluster([["web-01", 1700000400]], 600)
	vs := freshness.violation with input as cluster([["web-01", 1700000399]], 600)
	some v in vs
	v.msg == "1 node not attested in the last 600 s: web-01 (601 s ago)"
	v.nodes == ["web-01"]
	v.details.age_s == {"web-01": 601}
}

test_stale_and_never_attested_nodes_are_listed_together if {
	rows := [["web-01", 1700000950], ["web-02", 1699990000], ["db-01", null]]
	vs := freshness.violation with input as cluster(rows, 600)
	count(vs) == 1
	some v in vs
	v.nodes == ["db-01", "web-02"]
	v.msg == "2 nodes not attested in the last 600 s: db-01 (never), web-02 (11000 s ago)"
	v.details.never_attested == ["db-01"]
}

test_missing_attestation_counts_as_never if {
	doc := {"cluster": {"now": 1700001000, "nodes": {
		"a": {"id": "a", "labels": {}, "attestation": null, "firewall": {"digest": null, "digests": {}}},
		"b": {"id": "b", "labels": {}, "attestation": {"outcome": "error", "verified": false}, "firewall": {"digest": null, "digests": {}}},
	}, "groups": {}}, "parameters": {"max_age_s": 60}}
	vs := freshness.violation with input as doc
	some v in vs
	v.nodes == ["a", "b"]
}

test_long_lists_are_shortened if {
	rows := [[sprintf("n-%03d", [i]), 1] | some i in numbers.range(1, 25)]
	vs := freshness.violation with input as cluster(rows, 60)
	some v in vs
	count(v.nodes) == 25
	endswith(v.msg, "n-010 (1700000999 s ago) and 15 more")
	startswith(v.msg, "25 nodes not attested in the last 60 s: n-001 (1700000999 s ago), ")
}

test_no_nodes_and_no_parameter_report_nothing if {
	count(freshness.violation) == 0 with input as cluster([], 60)
	count(freshness.violation) == 0 with input as object.remove(cluster([["a", null]], 60), ["parameters"])
}
