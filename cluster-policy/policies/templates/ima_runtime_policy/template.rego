# No IMA-measured executable outside the runtime policy.
#
# Over the summary of the node's verified IMA measurement list (input.node.ima: the verifier
# keeps it once the list replays to the quoted PCR 10 and judges the entries by the runtime
# policy the node's `ima-policy` label picks; ima/src/policy/report.rs `summary`,
# verifier/src/host_logs/ima.rs):
#
# - `ok: false` (always checked): files the policy does not list (`unknown`, `unknown_files`)
#   or measured with a digest it does not allow (`mismatched`, `mismatches`) are one violation
#   naming the counts and the first 5 of each;
# - require_ima: a verified node without a list (ima: null: the host does not use IMA, or the
#   verifier does not ask for it) is a violation. Without it, such a node reports nothing;
# - require_policy: a list no runtime policy judges (`ok: null`) is a violation, naming the
#   policy the node asked for when none of that name is loaded (`missing_policy`);
# - allow_violations: when false, IMA measurement violations (files measured while open for
#   writing, or that could not be hashed) are a violation;
# - require_boot_aggregate: the list's boot_aggregate must be "match" (its SHA-256 aggregate is
#   the hash of the quoted PCRs 0-7), not "zero", "absent" or "unchecked: why".
package palisade.templates.ima_runtime_policy

import rego.v1

defaults := {
	"require_ima": false,
	"require_policy": true,
	"allow_violations": true,
	"require_boot_aggregate": true,
}

default given := {}

given := input.parameters if is_object(input.parameters)

params := object.union(defaults, given)

verified if input.node.attestation.verified == true

# The verified IMA summary, when the node has one.
ima := i if {
	verified
	i := object.get(input.node, "ima", null)
	is_object(i)
}

# How many findings messages and details show per list.
shown := 5

violation contains v if {
	verified
	params.require_ima == true
	not is_object(object.get(input.node, "ima", null))
	v := {
		"msg": "no verified IMA measurement list: the host does not use IMA (PCR 10 was never extended), so no executable can be checked",
		"details": {"check": "ima"},
	}
}

violation contains v if {
	ima.ok == false
	unknown_files := first(object.get(ima, "unknown_files", []))
	mismatches := first(object.get(ima, "mismatches", []))
	unknown := object.get(ima, "unknown", count(unknown_files))
	mismatched := object.get(ima, "mismatched", count(mismatches))
	parts := array.concat(unknown_part(unknown, unknown_files), mismatch_part(mismatched, mismatches))
	v := {
		"msg": sprintf("IMA runtime policy %s: %s", [policy_text, findings_text(parts)]),
		"details": {
			"check": "runtime_policy", "policy": object.get(ima, "policy", null),
			"unknown": unknown, "mismatched": mismatched, "unknown_files": unknown_files, "mismatches": mismatches,
		},
	}
}

first(list) := array.slice(list, 0, shown) if is_array(list)

first(list) := [] if not is_array(list)

unknown_part(n, _) := [] if n == 0

unknown_part(n, files) := [sprintf("%v file(s) not in the policy: %s%s", [n, concat(", ", [sprintf("%v", [f]) | some f in files]), more(n, files)])] if {
	n != 0
}

mismatch_part(n, _) := [] if n == 0

mismatch_part(n, found) := [sprintf("%v file(s) with a digest the policy does not allow: %s%s", [n, concat(", ", [mismatch_text(m) | some m in found]), more(n, found)])] if {
	n != 0
}

mismatch_text(m) := sprintf("%v %v (entry %v)", [object.get(m, "path", "?"), object.get(m, "digest", "?"), object.get(m, "entry", "?")]) if {
	is_object(m)
}

mismatch_text(m) := sprintf("%v", [m]) if not is_object(m)

more(n, list) := sprintf(" and %v more", [n - count(list)]) if exceeds(n, list)

more(n, list) := "" if not exceeds(n, list)

exceeds(n, list) if {
	is_number(n)
	n > count(list)
}

findings_text(parts) := concat("; ", parts) if count(parts) > 0

findings_text(parts) := "the list is not allowed" if count(parts) == 0

policy_text := sprintf("%s (%v digests)", [name, n]) if {
	name := object.get(ima, ["policy", "name"], null)
	is_string(name)
	n := object.get(ima, ["policy", "digests_count"], "?")
}

policy_text := "(unnamed)" if not is_string(object.get(ima, ["policy", "name"], null))

violation contains v if {
	params.require_policy == true
	object.get(ima, "ok", null) == null
	missing := object.get(ima, "missing_policy", null)
	v := {
		"msg": sprintf("the IMA measurement list (%v entries) is not judged by any runtime policy: %s", [
			object.get(ima, "entries", "?"), missing_text(missing),
		]),
		"details": {"check": "policy", "missing_policy": missing},
	}
}

missing_text(name) := sprintf("the node asks for runtime policy %s (its ima-policy label, or the verifier's ima_default_policy), which is not loaded", [name]) if {
	is_string(name)
}

missing_text(name) := "the node has no ima-policy label and the verifier no ima_default_policy" if {
	not is_string(name)
}

violation contains v if {
	params.allow_violations == false
	n := object.get(ima, "violations", 0)
	is_number(n)
	n > 0
	found := first(object.get(ima, "violation_entries", []))
	v := {
		"msg": sprintf("%v IMA measurement violation(s) (files measured while open for writing, or that could not be hashed)%s", [
			n, violations_text(n, found),
		]),
		"details": {"check": "violations", "violations": n, "violation_entries": found},
	}
}

violations_text(_, found) := "" if count(found) == 0

violations_text(n, found) := sprintf(": %s%s", [concat(", ", [entry_text(f) | some f in found]), more(n, found)]) if {
	count(found) > 0
}

entry_text(f) := sprintf("%v (entry %v)", [object.get(f, "path", "?"), object.get(f, "entry", "?")]) if is_object(f)

entry_text(f) := sprintf("%v", [f]) if not is_object(f)

violation contains v if {
	params.require_boot_aggregate == true
	aggregate := object.get(ima, "boot_aggregate", null)
	aggregate != "match"
	v := {
		"msg": sprintf("IMA boot_aggregate is %s: the measurement list is not shown to belong to this boot's quoted PCRs 0-7", [
			aggregate_text(aggregate),
		]),
		"details": {"check": "boot_aggregate", "boot_aggregate": aggregate},
	}
}

aggregate_text("zero") := "zero (IMA started before the TPM was available)"

aggregate_text("absent") := "absent (the list's first entry is not boot_aggregate)"

aggregate_text(a) := sprintf("unchecked (%s)", [substring(a, count("unchecked: "), -1)]) if unchecked(a)

aggregate_text(a) := "not recorded" if a == null

aggregate_text(a) := sprintf("%v", [a]) if {
	not a in {"zero", "absent", null}
	not unchecked(a)
}

unchecked(a) if {
	is_string(a)
	startswith(a, "unchecked: ")
}
