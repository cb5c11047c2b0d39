# CIS-style nftables baseline (CIS Benchmarks, "Configure nftables"), over the exposure facts
# of every measured namespace (input.node.firewall.exposures, docs/exposure.md). Checks, each
# one of `checks` (all by default):
#
# - exposure_present: the node has exposure facts (its ruleset is measured and was read back
#   into the model); a namespace without facts is reported with the verifier's reason;
# - not_truncated: the facts are complete (the engine finished within its memory budget);
# - input_base_chain: every family has a base chain on the input hook;
# - hook_base_chains: every family has a base chain on each of `hooks` (input is left to
#   input_base_chain when that check is on);
# - input_default_drop: traffic no rule matches on the input path is dropped;
# - loopback_accepted: everything arriving on lo is certainly accepted;
# - spoofed_loopback_dropped: new packets with a loopback source on another interface are not;
# - established_accepted: established traffic is certainly accepted on the input hook.
package palisade.templates.cis_nftables

import rego.v1

all_checks := [
	"exposure_present", "not_truncated", "input_base_chain", "hook_base_chains",
	"input_default_drop", "loopback_accepted", "spoofed_loopback_dropped", "established_accepted",
]

defaults := {"checks": all_checks, "hooks": ["input", "forward", "output"], "namespaces": []}

default given := {}

given := input.parameters if is_object(input.parameters)

params := object.union(defaults, given)

verified if input.node.attestation.verified == true

on(check) if check in params.checks

measured := object.get(input.node, ["firewall", "exposures"], {})

wanted(_) if count(params.namespaces) == 0

wanted(ns) if ns in params.namespaces

# Exposure facts per namespace checked.
exposures[ns] := e if {
	verified
	some ns, e in measured
	wanted(ns)
	is_object(e)
}

violation contains v if {
	verified
	on("exposure_present")
	count(params.namespaces) == 0
	count(measured) == 0
	v := {
		"msg": "no firewall exposure facts for this node: its nftables ruleset is not measured",
		"details": {"check": "exposure_present"},
	}
}

violation contains v if {
	verified
	on("exposure_present")
	some ns in params.namespaces
	not ns in object.keys(measured)
	v := {
		"msg": sprintf("netns %s: no firewall exposure facts: the namespace's ruleset is not measured", [ns]),
		"details": {"check": "exposure_present", "netns": ns},
	}
}

violation contains v if {
	verified
	on("exposure_present")
	some ns, e in measured
	wanted(ns)
	not is_object(e)
	reason := object.get(input.node, ["firewall", "exposure_errors", ns], "unknown reason")
	v := {
		"msg": sprintf("netns %s: no firewall exposure facts: %s", [ns, reason]),
		"details": {"check": "exposure_present", "netns": ns, "reason": reason},
	}
}

violation contains v if {
	on("not_truncated")
	some ns, e in exposures
	e.truncated == true
	v := {
		"msg": sprintf("netns %s: the firewall's exposure could not be evaluated within the engine's memory budget: every port is treated as open", [ns]),
		"details": {"check": "not_truncated", "netns": ns},
	}
}

violation contains v if {
	on("input_base_chain")
	some ns, e in exposures
	some fam, f in e.families
	count(hook_chains(f, "input")) == 0
	v := {
		"msg": sprintf("netns %s, %s: no base chain on the input hook: every %s port is open", [ns, fam, fam]),
		"details": {"check": "input_base_chain", "netns": ns, "family": fam, "hook": "input"},
	}
}

violation contains v if {
	on("hook_base_chains")
	some ns, e in exposures
	some fam, f in e.families
	some hook in params.hooks
	not skipped_hook(hook)
	count(hook_chains(f, hook)) == 0
	v := {
		"msg": sprintf("netns %s, %s: no base chain on the %s hook", [ns, fam, hook]),
		"details": {"check": "hook_base_chains", "netns": ns, "family": fam, "hook": hook},
	}
}

# input_base_chain reports the input hook.
skipped_hook("input") if on("input_base_chain")

violation contains v if {
	on("input_default_drop")
	some ns, e in exposures
	some fam, f in e.families
	path := object.get(f, ["hooks", "input"], {})
	default_verdict := object.get(path, "default", "accept")
	default_verdict != "drop"
	chains := [sprintf("%s/%s (policy %s)", [b.table, b.chain, b.policy]) | some b in object.get(path, "base_chains", [])]
	v := {
		"msg": sprintf("netns %s, %s: traffic no rule matches on the input path is accepted (default %s, want drop); base chains: %s", [
			ns, fam, default_verdict, listed(chains),
		]),
		"details": {"check": "input_default_drop", "netns": ns, "family": fam, "default": default_verdict, "base_chains": chains},
	}
}

violation contains v if {
	on("loopback_accepted")
	some ns, e in exposures
	some fam, _ in e.families
	object.get(e, ["loopback", fam, "accepted_on_lo"], false) != true
	v := {
		"msg": sprintf("netns %s, %s: traffic arriving on lo is not certainly accepted", [ns, fam]),
		"details": {"check": "loopback_accepted", "netns": ns, "family": fam},
	}
}

violation contains v if {
	on("spoofed_loopback_dropped")
	some ns, e in exposures
	some fam, _ in e.families
	object.get(e, ["loopback", fam, "spoofed_loopback_accepted"], true) != false
	v := {
		"msg": sprintf("netns %s, %s: new connections from a loopback source (%s) arriving on an interface other than lo may be accepted", [
			ns, fam, loopback_range(fam),
		]),
		"details": {"check": "spoofed_loopback_dropped", "netns": ns, "family": fam},
	}
}

loopback_range("ipv4") := "127.0.0.0/8"

loopback_range("ipv6") := "::1"

loopback_range(fam) := "a loopback address" if not fam in {"ipv4", "ipv6"}

violation contains v if {
	on("established_accepted")
	some ns, e in exposures
	some fam, f in e.families
	not established_accepted(f)
	v := {
		"msg": sprintf("netns %s, %s: established traffic is not certainly accepted on the input hook (no rule such as \"ct state established,related accept\")", [ns, fam]),
		"details": {"check": "established_accepted", "netns": ns, "family": fam},
	}
}

established_accepted(f) if {
	some c in f.hooks.input.accepted
	"established" in c.ct_state
	c.certain == true
}

# Base chains attached to `hook` on that hook's path.
hook_chains(f, hook) := [b |
	some b in object.get(f, ["hooks", hook, "base_chains"], [])
	b.hook == hook
]

listed(xs) := concat(", ", xs) if count(xs) > 0

listed(xs) := "none" if count(xs) == 0
