package palisade.templates.secure_boot_test

import rego.v1

import data.palisade.templates.secure_boot

# The reference state the verifier derives from ima/testdata/binary_bios_measurements-secureboot
# (a RHEL 9 guest booting shim, grub and the kernel with Secure Boot on): palisade-ima's
# EventLog::reference() of that log, serialised, with `events` and the quoted SHA-256 PCRs 0-7
# (ima/testdata/golden) added as the verifier adds them. Only dbx is cut: its first 3 of 371
# hashes are kept (its `sha256` is of all of them).

rhel9 := {
	"secure_boot": true,
	"pk": {
		"sha256": "77406ad6916f1c7ab82ee314efdf41b2db12388c52d1a8d0529aae44cc606f82",
		"certificates": [
			{"digest": "7f122fab825041c2b0c67696bb151db6f39fed7df2d1104107f5b892b354ef5c", "owner": "a0baa8a3-041d-48a8-bc87-c36d121b5e3d", "type": "x509"}
		],
		"hashes": [],
		"others": []
	},
	"kek": {
		"sha256": "da681c2e14791c2d776eb91a9379d910ff0a78fbfc25ec7782dd14bec21bae40",
		"certificates": [
			{"digest": "7f122fab825041c2b0c67696bb151db6f39fed7df2d1104107f5b892b354ef5c", "owner": "a0baa8a3-041d-48a8-bc87-c36d121b5e3d", "type": "x509"},
			{"digest": "a1117f516a32cefcba3f2d1ace10a87972fd6bbe8fe0d0b996e09e65d802a503", "owner": "77fa9abd-0359-4d32-bd60-28f4e78f784b", "type": "x509"},
			{"digest": "3cd3f0309edae228767a976dd40d9f4affc4fbd5218f2e8cc3c9dd97e8ac6f9d", "owner": "77fa9abd-0359-4d32-bd60-28f4e78f784b", "type": "x509"}
		],
		"hashes": [],
		"others": []
	},
	"db": {
		"sha256": "eb1cf7d0b6545fd7bf96fb75f6d37613ba40b8ae57c752b4eae43935695f31e7",
		"certificates": [
			{"digest": "e8e95f0733a55e8bad7be0a1413ee23c51fcea64b3c8fa6a786935fddcc71961", "owner": "77fa9abd-0359-4d32-bd60-28f4e78f784b", "type": "x509"},
			{"digest": "076f1fea90ac29155ebf77c17682f75f1fdd1be196da302dc8461e350a9ae330", "owner": "77fa9abd-0359-4d32-bd60-28f4e78f784b", "type": "x509"},
			{"digest": "48e99b991f57fc52f76149599bff0a58c47154229b9f8d603ac40d3500248507", "owner": "77fa9abd-0359-4d32-bd60-28f4e78f784b", "type": "x509"},
			{"digest": "f6124e34125bee3fe6d79a574eaa7b91c0e7bd9d929c1a321178efd611dad901", "owner": "77fa9abd-0359-4d32-bd60-28f4e78f784b", "type": "x509"}
		],
		"hashes": [],
		"others": []
	},
	"dbx": {
		"sha256": "920e358e0fa61c06d5b713e3e3a709ba994a430c9395d48e2c44010125768784",
		"certificates": [],
		"hashes": [
			{"digest": "80b4d96931bf0d02fd91a61e19d14f1da452e66db2408ca8604d411f92659f0a", "owner": "77fa9abd-0359-4d32-bd60-28f4e78f784b", "type": "sha256"},
			{"digest": "f52f83a3fa9cfbd6920f722824dbe4034534d25b8507246b3b957dac6e1bce7a", "owner": "77fa9abd-0359-4d32-bd60-28f4e78f784b", "type": "sha256"},
			{"digest": "c5d9d8a186e2c82d09afaa2a6f7f2e73870d3e64f72c4e08ef67796a840f0fbd", "owner": "77fa9abd-0359-4d32-bd60-28f4e78f784b", "type": "sha256"}
		],
		"others": []
	},
	"boot_applications": [
		{"device_path": "PciRoot(0x0)/Pci(0x2,0x3)/Pci(0x0,0x0)/HD(1,GPT,a88ed452-9a52-45c4-91ce-3da7707caaab,0x800,0x12c000)/File(\\EFI\\redhat\\shimx64.efi)", "event": 29, "pcr": 4, "sha256": "27b12463e599b3147635f272e3722960e443def60fef088eba600697017529f2"},
		{"device_path": "File(\\EFI\\redhat\\grubx64.efi)", "event": 35, "pcr": 4, "sha256": "0abc88ee4d2915c3c5c010a331be980766d6445419c22fe236867b92d254f01f"},
		{"device_path": "", "event": 93, "pcr": 4, "sha256": "219b8b53c54951cd07a580622e384391bbd9e113448a12ad319903fcafb81e79"}
	],
	"authorities": [
		{"event": 27, "owner": "77fa9abd-0359-4d32-bd60-28f4e78f784b", "sha256": "48e99b991f57fc52f76149599bff0a58c47154229b9f8d603ac40d3500248507", "variable": "db", "vendor_guid": "d719b2cb-3d3a-4596-a3bc-dad00e67656f"},
		{"event": 32, "owner": "74616273-312c-322c-3032-333031323930", "sha256": "d1f09af2b2eec5b26964286c9e771a9cd1f3234b9c854987556c9d79deacba06", "variable": "SbatLevel", "vendor_guid": "605dab50-e046-4300-abb6-3dd810dd8b23"},
		{"event": 34, "owner": "0223eddb-9079-4388-af77-2d65b1c35d3b", "sha256": "40175d4c7c5ab4bd753a493f47952f1d8dcf1c219b836968a693e48bd4766135", "variable": "vendor_db", "vendor_guid": "d719b2cb-3d3a-4596-a3bc-dad00e67656f"}
	],
	"kernel_cmdline": "(hd0,gpt2)/vmlinuz-5.14.0-503.11.1.el9_5.x86_64 root=/dev/mapper/rhel_rhel--9-root ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rhel_rhel--9-swap rd.lvm.lv=rhel_rhel-9/root rd.lvm.lv=rhel_rhel-9/swap rhgb quiet console=tty0 console=ttyS0",
	"kernel_cmdlines": ["(hd0,gpt2)/vmlinuz-5.14.0-503.11.1.el9_5.x86_64 root=/dev/mapper/rhel_rhel--9-root ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rhel_rhel--9-swap rd.lvm.lv=rhel_rhel-9/root rd.lvm.lv=rhel_rhel-9/swap rhgb quiet console=tty0 console=ttyS0"],
	"separators": [
		{"error": false, "event": 9, "pcr": 7, "value": "00000000"},
		{"error": false, "event": 20, "pcr": 0, "value": "00000000"},
		{"error": false, "event": 21, "pcr": 1, "value": "00000000"},
		{"error": false, "event": 22, "pcr": 2, "value": "00000000"},
		{"error": false, "event": 23, "pcr": 3, "value": "00000000"},
		{"error": false, "event": 24, "pcr": 4, "value": "00000000"},
		{"error": false, "event": 25, "pcr": 5, "value": "00000000"},
		{"error": false, "event": 26, "pcr": 6, "value": "00000000"}
	],
	"events": 99,
	"pcrs": {
		"0": "0d993cf4baec1dc2a47013c8bcc13e1593d5e6ba9cc4630f422e98d310212aff",
		"1": "77092bbdc52a5beab54967053d9ccc8d254f882ccb9c3dd1ae81f0378b3a7db2",
		"2": "7551ef5fcd14f30f8087b631c90869ec55f71bd4e791bd370855ea1d48d2100a",
		"3": "3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969",
		"4": "ce5e8ef15f4c1db94e24b2f458dc21c96dd3a530ecf4ee4c9d70bd9a3517088e",
		"5": "4316832e478197a3729fcaed54ec97989dcd67bc00ca2ac58230a414ff2b5277",
		"6": "3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969",
		"7": "2f96e1f1bf7f91b6f17e1bcb823e717e43782ff75481237711f2ed7bf8a8edb1"
	}
}

shim := "27b12463e599b3147635f272e3722960e443def60fef088eba600697017529f2"

grub := "0abc88ee4d2915c3c5c010a331be980766d6445419c22fe236867b92d254f01f"

kernel := "219b8b53c54951cd07a580622e384391bbd9e113448a12ad319903fcafb81e79"

node(boot, parameters) := {
	"node": {
		"id": "rhel-01", "labels": {}, "attestation": {"outcome": "pass", "verified": true, "at": 1700000000},
		"firewall": null, "network": null, "runtime": null, "boot": boot, "ima": null,
	},
	"parameters": parameters,
}

violations(boot, parameters) := vs if {
	vs := secure_boot.violation with input as node(boot, parameters)
}

# The one violation of `vs`, when there is exactly one.
only(vs) := v if {
	count(vs) == 1
	some v in vs
}

test_the_real_secure_boot_log_passes_the_defaults if {
	count(violations(rhel9, {})) == 0
	count(secure_boot.violation) == 0 with input as {"node": node(rhel9, {}).node}
}

test_a_node_without_a_boot_log_fails_unless_not_required if {
	v := only(violations(null, {}))
	v.msg == "no verified UEFI boot log: the host sent none, so Secure Boot and the boot chain cannot be checked"
	v.details.check == "boot_log"
	only(secure_boot.violation) == v with input as {"node": object.remove(node(null, {}).node, ["boot"])}
	count(violations(null, {"require_boot_log": false})) == 0
	# Without a boot log the other checks have nothing to judge.
	count(violations(null, {"require_boot_log": false, "boot_applications": [shim], "db": "00", "kernel_cmdline_contains": ["lockdown="]})) == 0
}

test_secure_boot_off_or_unmeasured_fails_naming_the_state if {
	off := only(violations(object.union(rhel9, {"secure_boot": false}), {}))
	off.msg == "Secure Boot is disabled (the firmware measured SecureBoot = 0)"
	off.details == {"check": "secure_boot", "secure_boot": false}
	unmeasured := only(violations(object.union(rhel9, {"secure_boot": null}), {}))
	unmeasured.msg == "Secure Boot is not measured: the boot log has no SecureBoot variable event"
	only(violations(object.remove(rhel9, ["secure_boot"]), {})).details.secure_boot == null
	count(violations(object.union(rhel9, {"secure_boot": false}), {"require_secure_boot": false})) == 0
}

test_boot_applications_outside_the_reference_set_fail_naming_path_and_digest if {
	count(violations(rhel9, {"boot_applications": [shim, grub, kernel]})) == 0
	count(violations(rhel9, {"boot_applications": [upper(shim), upper(grub), upper(kernel)]})) == 0
	# The kernel grub loaded through the firmware has an empty device path.
	v := only(violations(rhel9, {"boot_applications": [shim, grub]}))
	v.msg == "boot application (no device path) (event 93, PCR 4) has SHA-256 219b8b53c54951cd07a580622e384391bbd9e113448a12ad319903fcafb81e79, which is not in boot_applications"
	v.details.application == rhel9.boot_applications[2]
	w := only(violations(rhel9, {"boot_applications": [grub, kernel]}))
	w.msg == "boot application \\EFI\\redhat\\shimx64.efi (event 29, PCR 4) has SHA-256 27b12463e599b3147635f272e3722960e443def60fef088eba600697017529f2, which is not in boot_applications"
	count(violations(rhel9, {"boot_applications": [kernel]})) == 2
}

test_a_firmware_application_or_one_without_a_sha256_digest_is_named_as_measured if {
	fv := {"device_path": "FvVol(8fc151ae-c96f-4bc9-8c33-107992c7735b)/FvFile(821aca26-29ea-4993-839f-597fc021708d)", "event": 26, "pcr": 4, "sha256": null}
	boot := object.union(rhel9, {"boot_applications": [fv]})
	v := only(violations(boot, {"boot_applications": [shim]}))
	v.msg == "boot application FvVol(8fc151ae-c96f-4bc9-8c33-107992c7735b)/FvFile(821aca26-29ea-4993-839f-597fc021708d) (event 26, PCR 4) has SHA-256 (none: the log has no SHA-256 bank), which is not in boot_applications"
}

test_pinned_db_and_dbx_must_equal_the_measured_ones if {
	db := "eb1cf7d0b6545fd7bf96fb75f6d37613ba40b8ae57c752b4eae43935695f31e7"
	dbx := "920e358e0fa61c06d5b713e3e3a709ba994a430c9395d48e2c44010125768784"
	count(violations(rhel9, {"db": db, "dbx": upper(dbx)})) == 0
	old := "9099937af9db9e8804abba93f1a830a75fca9bea51119b023961dd268f10d2f8"
	v := only(violations(rhel9, {"db": db, "dbx": old}))
	v.msg == "dbx has SHA-256 920e358e0fa61c06d5b713e3e3a709ba994a430c9395d48e2c44010125768784 (0 certificates, 3 hashes), not the pinned 9099937af9db9e8804abba93f1a830a75fca9bea51119b023961dd268f10d2f8"
	v.details == {"check": "dbx", "measured": dbx, "expected": old}
	w := only(violations(rhel9, {"db": old}))
	w.msg == "db has SHA-256 eb1cf7d0b6545fd7bf96fb75f6d37613ba40b8ae57c752b4eae43935695f31e7 (4 certificates, 0 hashes), not the pinned 9099937af9db9e8804abba93f1a830a75fca9bea51119b023961dd268f10d2f8"
}

test_a_pinned_variable_the_log_does_not_measure_fails if {
	db := "eb1cf7d0b6545fd7bf96fb75f6d37613ba40b8ae57c752b4eae43935695f31e7"
	v := only(violations(object.union(rhel9, {"db": null}), {"db": db}))
	v.msg == "db is not measured in the boot log, so it cannot be the pinned eb1cf7d0b6545fd7bf96fb75f6d37613ba40b8ae57c752b4eae43935695f31e7"
	v.details.measured == null
	count(violations(object.union(rhel9, {"db": null}), {})) == 0
}

test_the_kernel_command_line_must_contain_each_substring if {
	count(violations(rhel9, {"kernel_cmdline_contains": ["console=ttyS0", "ro ", "rhgb"]})) == 0
	v := only(violations(rhel9, {"kernel_cmdline_contains": ["rhgb", "lockdown="]}))
	v.msg == sprintf("the kernel command line does not contain \"lockdown=\": %s", [rhel9.kernel_cmdline])
	v.details.missing == "lockdown="
	count(violations(rhel9, {"kernel_cmdline_contains": ["lockdown=", "module.sig_enforce=1"]})) == 2
}

test_no_measured_kernel_command_line_fails_when_substrings_are_required if {
	boot := object.union(rhel9, {"kernel_cmdline": null, "kernel_cmdlines": []})
	v := only(violations(boot, {"kernel_cmdline_contains": ["lockdown=", "ima_appraise=enforce"]}))
	v.msg == "no kernel command line is measured in the boot log, so it cannot contain \"lockdown=\", \"ima_appraise=enforce\""
	count(violations(boot, {})) == 0
}

test_unverified_nodes_report_nothing if {
	doc := {"node": {"id": "x", "labels": {}, "attestation": {"outcome": "fail", "verified": false}, "firewall": null, "network": null, "runtime": null, "boot": null, "ima": null}}
	count(secure_boot.violation) == 0 with input as doc
	params := {"boot_applications": [grub], "db": "00", "kernel_cmdline_contains": ["lockdown="]}
	count(violations(object.union(rhel9, {"secure_boot": false}), params)) == 5
	count(secure_boot.violation) == 0 with input as node(object.union(rhel9, {"secure_boot": false}), params) with input.node.attestation.verified as false
}
