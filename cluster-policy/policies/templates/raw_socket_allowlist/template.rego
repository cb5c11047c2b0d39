# Raw and packet sockets only for allowlisted processes.
#
# Over the runtime inventory (input.node.runtime.sockets.<netns>, palisade.sockets/1 in
# docs/canonical-runtime.md): every owner (comm, exe, uid) of a raw (`raw`) or packet
# (`packet`) socket that matches no entry of `allowed_processes` is a violation, and so is
# every such socket with no owner (its process was not found: it exited while the inventory
# was read, or the socket is the kernel's). An entry matches an owner when every field it
# gives (`comm`, `exe`) equals the owner's; an entry with no field matches nothing.
package palisade.templates.raw_socket_allowlist

import rego.v1

defaults := {"allowed_processes": [], "namespaces": []}

default given := {}

given := input.parameters if is_object(input.parameters)

params := object.union(defaults, given)

verified if input.node.attestation.verified == true

wanted(_) if count(params.namespaces) == 0

wanted(ns) if ns in params.namespaces

inventories[ns] := doc if {
	verified
	some ns, doc in object.get(input.node, ["runtime", "sockets"], {})
	wanted(ns)
	is_object(doc)
}

# [netns, kind, socket]
sockets contains [ns, kind, s] if {
	some ns, doc in inventories
	some kind in ["raw", "packet"]
	some s in object.get(doc, kind, [])
}

allowlisted(owner) if {
	some entry in params.allowed_processes
	count(entry) > 0
	every k, want in entry {
		object.get(owner, k, null) == want
	}
}

violation contains v if {
	some [ns, kind, s] in sockets
	some owner in object.get(s, "owners", [])
	not allowlisted(owner)
	v := {
		"msg": sprintf("%s in netns %s is held by %s, which is not allowlisted", [socket_text(kind, s), ns, owner_text(owner)]),
		"details": {"netns": ns, "kind": kind, "socket": object.remove(s, ["owners"]), "owner": owner},
	}
}

violation contains v if {
	some [ns, kind, s] in sockets
	count(object.get(s, "owners", [])) == 0
	v := {
		"msg": sprintf("%s in netns %s has no owning process (it exited while the inventory was read, or the socket is the kernel's)", [socket_text(kind, s), ns]),
		"details": {"netns": ns, "kind": kind, "socket": object.remove(s, ["owners"]), "owner": null},
	}
}

# Shown fields may be missing from a hand-built document: a violation is never lost to that.
socket_text("raw", s) := sprintf("raw socket (%v, protocol %v, bound to %v)", [
	object.get(s, "family", "?"), object.get(s, "protocol", "?"), object.get(s, "address", "?"),
])

socket_text("packet", s) := sprintf("packet socket (type %v, protocol %v, %s)", [
	object.get(s, "type", "?"), object.get(s, "protocol", "?"), interface_text(s),
])

interface_text(s) := sprintf("interface %v", [s.interface]) if s.interface

interface_text(s) := "every interface" if not s.interface

owner_text(o) := sprintf("%v (%s, uid %v)", [object.get(o, "comm", "?"), exe_text(o), object.get(o, "uid", "?")])

exe_text(o) := o.exe if is_string(o.exe)

exe_text(o) := "executable unknown" if not is_string(object.get(o, "exe", null))
