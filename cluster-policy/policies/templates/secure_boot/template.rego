# Secure Boot enabled and the boot chain in a reference set.
#
# Over the reference state of the node's verified UEFI boot event log (input.node.boot: the
# verifier keeps it once the log replays to the quoted PCRs 0-7; fields as in
# ima/src/uefi/reference.rs, plus `events` and `pcrs`):
#
# - require_boot_log: a verified node without one (boot: null: the host sent no boot log, or
#   measured boot is off in the verifier) is a violation. Without it, such a node reports
#   nothing: none of the checks below can be made;
# - require_secure_boot: `secure_boot` must be true (false: disabled; null: the log measures no
#   SecureBoot variable);
# - boot_applications (when not empty): the SHA-256 digest of every
#   EV_EFI_BOOT_SERVICES_APPLICATION event (the image's Authenticode hash: shim, boot loader,
#   a kernel loaded through the firmware's LoadImage) must be one of them;
# - db / dbx (when given): the SHA-256 of the measured variable data must equal the pin;
# - kernel_cmdline_contains: the last measured kernel command line must contain each.
#
# Digests are compared in lower case.
package palisade.templates.secure_boot

import rego.v1

defaults := {
	"require_boot_log": true,
	"require_secure_boot": true,
	"boot_applications": [],
	"db": "",
	"dbx": "",
	"kernel_cmdline_contains": [],
}

default given := {}

given := input.parameters if is_object(input.parameters)

params := object.union(defaults, given)

verified if input.node.attestation.verified == true

# The verified boot reference state, when the node has one.
boot := b if {
	verified
	b := object.get(input.node, "boot", null)
	is_object(b)
}

violation contains v if {
	verified
	params.require_boot_log == true
	not is_object(object.get(input.node, "boot", null))
	v := {
		"msg": "no verified UEFI boot log: the host sent none, so Secure Boot and the boot chain cannot be checked",
		"details": {"check": "boot_log"},
	}
}

violation contains v if {
	params.require_secure_boot == true
	state := object.get(boot, "secure_boot", null)
	state != true
	v := {
		"msg": sprintf("Secure Boot is %s", [secure_boot_text(state)]),
		"details": {"check": "secure_boot", "secure_boot": state},
	}
}

secure_boot_text(s) := "disabled (the firmware measured SecureBoot = 0)" if s == false

secure_boot_text(s) := "not measured: the boot log has no SecureBoot variable event" if s == null

secure_boot_text(s) := sprintf("unreadable (%v)", [s]) if not s in {true, false, null}

allowed_applications := {lower(d) | some d in params.boot_applications}

application_allowed(digest) if {
	is_string(digest)
	lower(digest) in allowed_applications
}

violation contains v if {
	count(params.boot_applications) > 0
	some app in object.get(boot, "boot_applications", [])
	digest := object.get(app, "sha256", null)
	not application_allowed(digest)
	v := {
		"msg": sprintf("boot application %s (event %v, PCR %v) has SHA-256 %s, which is not in boot_applications", [
			application_name(app), object.get(app, "event", "?"), object.get(app, "pcr", "?"), digest_text(digest),
		]),
		"details": {"check": "boot_applications", "application": app},
	}
}

# The file a device path ends in (`.../File(\EFI\redhat\shimx64.efi)`), else the whole path
# (firmware applications: `FvVol(...)/FvFile(...)`).
application_name(app) := name if {
	path := file_path(object.get(app, "device_path", null))
	parts := split(path, "/File(")
	count(parts) > 1
	name := split(parts[count(parts) - 1], ")")[0]
}

application_name(app) := path if {
	path := object.get(app, "device_path", null)
	non_empty_string(path)
	count(split(file_path(path), "/File(")) == 1
}

application_name(app) := "(no device path)" if {
	not non_empty_string(object.get(app, "device_path", null))
}

# The device path with a leading "/", so that a first node File(...) is found like the others.
file_path(path) := concat("", ["/", path]) if non_empty_string(path)

non_empty_string(s) if {
	is_string(s)
	s != ""
}

digest_text(d) := d if is_string(d)

digest_text(d) := "(none: the log has no SHA-256 bank)" if not is_string(d)

# [variable, pinned digest] for each variable pinned.
pins contains [name, lower(pin)] if {
	some name in ["db", "dbx"]
	pin := params[name]
	non_empty_string(pin)
}

measured_digest(variable) := variable.sha256 if {
	is_object(variable)
	is_string(variable.sha256)
}

violation contains v if {
	some [name, pin] in pins
	variable := object.get(boot, name, null)
	digest := measured_digest(variable)
	lower(digest) != pin
	v := {
		"msg": sprintf("%s has SHA-256 %s (%d certificates, %d hashes), not the pinned %s", [
			name, digest, count(object.get(variable, "certificates", [])), count(object.get(variable, "hashes", [])), pin,
		]),
		"details": {"check": name, "measured": digest, "expected": pin},
	}
}

violation contains v if {
	some [name, pin] in pins
	variable := object.get(boot, name, null)
	not measured_digest(variable)
	v := {
		"msg": sprintf("%s is not measured in the boot log, so it cannot be the pinned %s", [name, pin]),
		"details": {"check": name, "measured": null, "expected": pin},
	}
}

violation contains v if {
	cmdline := object.get(boot, "kernel_cmdline", null)
	is_string(cmdline)
	some want in params.kernel_cmdline_contains
	not contains(cmdline, want)
	v := {
		"msg": sprintf("the kernel command line does not contain %q: %s", [want, cmdline]),
		"details": {"check": "kernel_cmdline_contains", "missing": want, "kernel_cmdline": cmdline},
	}
}

violation contains v if {
	count(params.kernel_cmdline_contains) > 0
	cmdline := object.get(boot, "kernel_cmdline", null)
	not is_string(cmdline)
	v := {
		"msg": sprintf("no kernel command line is measured in the boot log, so it cannot contain %s", [
			concat(", ", [sprintf("%q", [w]) | some w in params.kernel_cmdline_contains]),
		]),
		"details": {"check": "kernel_cmdline_contains", "missing": params.kernel_cmdline_contains, "kernel_cmdline": null},
	}
}
