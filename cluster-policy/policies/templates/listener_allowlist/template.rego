# Listening sockets only where an allowlist says.
#
# Over the runtime inventory (input.node.runtime.sockets.<netns>.listeners, palisade.sockets/1
# in docs/canonical-runtime.md): a listener (a TCP socket in LISTEN, or a bound unconnected
# UDP/UDP-Lite socket) is allowed when every process holding it is allowed by an entry of
# `allowed` for its port (and `protocol`, `address` when the entry gives them): an entry with
# `comm` and/or `exe` allows only owners with those; one without allows any owner, and is the
# only kind that allows a listener with no owner found. Each listener not allowed is a
# violation naming the owners not allowed. With `ignore_loopback` (default), listeners on
# 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104 are skipped.
package palisade.templates.listener_allowlist

import rego.v1

defaults := {"allowed": [], "ignore_loopback": true, "namespaces": []}

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

loopback(address) if startswith(address, "127.")

loopback(address) if address == "::1"

loopback(address) if startswith(address, "::ffff:127.")

checked(_) if params.ignore_loopback != true

checked(l) if not loopback(l.address)

endpoint_match(e, l) if {
	e.port == l.port
	object.get(e, "protocol", l.protocol) == l.protocol
	object.get(e, "address", l.address) == l.address
}

owner_allowed(l, o) if {
	some e in params.allowed
	endpoint_match(e, l)
	object.get(e, "comm", o.comm) == o.comm
	object.get(e, "exe", o.exe) == o.exe
}

# A listener nobody was found holding: only an entry without process fields allows it.
ownerless_allowed(l) if {
	some e in params.allowed
	endpoint_match(e, l)
	not "comm" in object.keys(e)
	not "exe" in object.keys(e)
}

violation contains v if {
	some ns, doc in inventories
	some l in object.get(doc, "listeners", [])
	checked(l)
	owners := object.get(l, "owners", [])
	count(owners) > 0
	refused := [o | some o in owners; not owner_allowed(l, o)]
	count(refused) > 0
	v := {
		"msg": sprintf("%s in netns %s is held by %s, which is not allowlisted", [
			listener_text(l), ns, concat("; ", [owner_text(o) | some o in refused]),
		]),
		"details": {"netns": ns, "listener": object.remove(l, ["owners"]), "owners": refused},
	}
}

violation contains v if {
	some ns, doc in inventories
	some l in object.get(doc, "listeners", [])
	checked(l)
	count(object.get(l, "owners", [])) == 0
	not ownerless_allowed(l)
	v := {
		"msg": sprintf("%s in netns %s has no owning process and is not allowlisted", [listener_text(l), ns]),
		"details": {"netns": ns, "listener": object.remove(l, ["owners"]), "owners": []},
	}
}

listener_text(l) := sprintf("%v listener %s", [object.get(l, "protocol", "?"), endpoint(l)])

endpoint(l) := sprintf("[%s]:%v", [l.address, object.get(l, "port", "?")]) if contains(l.address, ":")

endpoint(l) := sprintf("%v:%v", [object.get(l, "address", "?"), object.get(l, "port", "?")]) if {
	not contains(object.get(l, "address", ""), ":")
}

owner_text(o) := sprintf("%v (%s, uid %v)", [object.get(o, "comm", "?"), exe_text(o), object.get(o, "uid", "?")])

exe_text(o) := o.exe if is_string(o.exe)

exe_text(o) := "executable unknown" if not is_string(object.get(o, "exe", null))
