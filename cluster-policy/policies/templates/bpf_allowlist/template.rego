# BPF programs on packet hooks must be allowlisted.
#
# Over the runtime inventory (input.node.runtime.bpf.<netns>, palisade.bpf/1 in
# docs/canonical-runtime.md): every attachment on one of `hooks` whose program is not one of
# palisade's own (marked `palisade: true` in `programs`, matched by identity) and matches no
# entry of `allowed` is a violation. An entry matches when every field it gives (`name`,
# `tag`, `digest`, `type`) equals the program's; an entry with no field matches nothing. Pin
# tags for portability across kernels, digests for exactness.
#
# cgroup attachments and kernel-wide ones (target `kernel`, such as netfilter links) are
# listed in every namespace's document: they are reported once, with the namespaces that list
# them in `details.namespaces`.
package palisade.templates.bpf_allowlist

import rego.v1

defaults := {
	"allowed": [],
	"hooks": ["xdp", "tc", "tcx", "cgroup", "netfilter", "flow_dissector", "sk_lookup"],
	"namespaces": [],
}

default given := {}

given := input.parameters if is_object(input.parameters)

params := object.union(defaults, given)

verified if input.node.attestation.verified == true

wanted(_) if count(params.namespaces) == 0

wanted(ns) if ns in params.namespaces

inventories[ns] := doc if {
	verified
	some ns, doc in object.get(input.node, ["runtime", "bpf"], {})
	wanted(ns)
	is_object(doc)
}

identity := ["type", "name", "tag", "digest"]

# One of palisade's own programs: same identity as a program marked `palisade: true`.
own(ns, p) if {
	some q in inventories[ns].programs
	q.palisade == true
	every k in identity {
		object.get(q, k, null) == object.get(p, k, null)
	}
}

allowlisted(p) if {
	some entry in params.allowed
	count(entry) > 0
	every k, want in entry {
		object.get(p, k, null) == want
	}
}

kernel_wide(a) if a.hook == "cgroup"

kernel_wide(a) if object.get(a, "target", null) == "kernel"

# [netns or null for kernel-wide attachments, attachment]
foreign contains [where, a] if {
	some ns, doc in inventories
	some a in doc.attachments
	a.hook in params.hooks
	not own(ns, object.get(a, "program", {}))
	not allowlisted(object.get(a, "program", {}))
	where := scope(ns, a)
}

scope(_, a) := null if kernel_wide(a)

scope(ns, a) := ns if not kernel_wide(a)

violation contains v if {
	some [where, a] in foreign
	p := object.get(a, "program", {})
	namespaces := sort([ns | some ns, doc in inventories; a in doc.attachments])
	v := {
		"msg": sprintf("%s program %s (%s, tag %s) attached to %v%s%s is not allowlisted", [
			hook_name(a.hook), text(p, "name", "(unnamed)"), text(p, "type", "unknown type"), text(p, "tag", "unknown"),
			object.get(a, "target", "?"),
			details_text(object.get(a, "details", {})), in_netns(where),
		]),
		"details": {
			"hook": a.hook, "target": object.get(a, "target", null), "attachment": object.get(a, "details", {}),
			"program": p, "netns": where, "namespaces": namespaces,
		},
	}
}

hook_names := {"xdp": "XDP", "flow_dissector": "flow dissector"}

hook_name(h) := object.get(hook_names, h, h)

# A program field for the message (dangling attachments have empty ones).
text(p, field, _) := p[field] if non_empty(p, field)

text(p, field, otherwise) := otherwise if not non_empty(p, field)

non_empty(p, field) if {
	is_string(p[field])
	p[field] != ""
}

details_text(d) := "" if count(d) == 0

details_text(d) := sprintf(" (%s)", [concat(", ", [sprintf("%s %v", [k, d[k]]) | some k in sort(object.keys(d))])]) if {
	count(d) > 0
}

in_netns(null) := ""

in_netns(ns) := sprintf(" in netns %s", [ns]) if ns != null
