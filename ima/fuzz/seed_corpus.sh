#!/usr/bin/env bash
# Seeds corpus/<target>/ from the fixtures in ../testdata, so the fuzzers start from real IMA
# lists, UEFI event logs and Keylime policies. The binary lists are the ASCII ima-ng fixtures
# rewritten in the kernel's binary layout (binary_runtime_measurements).
set -euo pipefail
cd "$(dirname "$0")"
T=../testdata
mkdir -p corpus/ascii_list corpus/binary_list corpus/uefi_log corpus/runtime_policy

# ASCII lists. Long fixtures are cut to 40 entries: every iteration replays the whole input.
cp "$T/ima-log-sha1" "$T/ima-log-sha256" corpus/ascii_list/
head -n 40 "$T/ascii_runtime_measurements" >corpus/ascii_list/ascii_runtime_measurements
head -n 40 "$T/generated/ima_200.log" >corpus/ascii_list/ima_200
# Every template kind (as in the parser's unit tests; template hashes are placeholders).
h=$(printf '1%.0s' {1..40})
d1=00112233445566778899aabbccddeeff00112233
d256=$(printf 'ab%.0s' {1..32})
cat >corpus/ascii_list/every_template <<EOF
10 $h ima $d1 /usr/bin/legacy
10 $h ima-ng sha256:$d256 /usr/bin/ng
10 $h ima-sig sha256:$d256 /usr/bin/signed 030204aabbccdd0004deadbeef
10 $h ima-sig sha256:$d256 /usr/bin/unsigned 
10 $h ima-buf sha256:$d256 kexec-cmdline 726f6f743d2f6465762f736461
10 $h ima-modsig sha256:$d256 /lib/modules/y.ko 0302 sha256:$d256 3082
10 $h ima-modsig sha256:$d256 /lib/modules/z.ko   
10 $h ima-modsig sm3-256:$d256 /lib/modules/s.ko 0302 sm3-256:$d256 3082
11 $h ima-ng sha1:$d1 /other/pcr
10 $(printf '0%.0s' {1..40}) ima-ng sha256:$(printf '0%.0s' {1..40}) /violation
EOF
# The same lists as a per-bank sha256 list would log them: all-zero (violation) template hashes,
# which replay without a hash check.
zero256=$(printf '0%.0s' {1..64})
for f in ima_200 every_template; do
    sed -E "s/^( *[0-9]+) [0-9a-f]+ /\1 $zero256 /" "corpus/ascii_list/$f" >"corpus/ascii_list/$f.sha256"
done

# Binary lists: u32 pcr || template hash || u32 len || "ima-ng" || u32 len || d-ng || n-ng.
to_binary() { # $1: ASCII ima-ng list; $2: template hash to use instead of the logged one, or ""
    awk -v hash="$2" '
        BEGIN { for (i = 32; i < 127; i++) hex[sprintf("%c", i)] = sprintf("%02x", i) }
        function le32(n) {
            return sprintf("%02x%02x%02x%02x", n % 256, int(n / 256) % 256,
                int(n / 65536) % 256, int(n / 16777216) % 256)
        }
        function tohex(s,   out, i) {
            out = ""
            for (i = 1; i <= length(s); i++) out = out hex[substr(s, i, 1)]
            return out
        }
        $3 == "ima-ng" {
            split($4, ad, ":")
            path = $5
            d = tohex(ad[1]) "3a00" ad[2]
            n = tohex(path) "00"
            data = le32(length(d) / 2) d le32(length(n) / 2) n
            printf "%s%s%s%s%s%s\n", le32($1), (hash == "" ? $2 : hash), le32(6), tohex("ima-ng"),
                le32(length(data) / 2), data
        }' "$1" | xxd -r -p
}
for f in ima-log-sha1 ima-log-sha256; do to_binary "$T/$f" "" >"corpus/binary_list/$f"; done
for f in ascii_runtime_measurements ima_200; do
    to_binary "corpus/ascii_list/$f" "" >"corpus/binary_list/$f"
    to_binary "corpus/ascii_list/$f" "$zero256" >"corpus/binary_list/$f.sha256"
done

# UEFI event logs (real firmware logs; -bogus is malformed on purpose).
for f in "$T"/binary_bios_measurements* "$T"/uefi_log.bin "$T"/event-*.bin; do
    cp "$f" corpus/uefi_log/
done

# Runtime policies, JSON and flat allowlists, an older JSON allowlist, an exclude list.
cp "$T/runtime-policy.json" "$T/policy-sha256" "$T/allowlist-sha256" "$T/ima-allowlist-short.txt" \
    corpus/runtime_policy/
cp "$T/generated/policy_200.json" corpus/runtime_policy/
cat >corpus/runtime_policy/legacy_allowlist.json <<EOF
{"meta": {"version": 1}, "release": 2, "hashes": {"/bin/a": ["$d1"]}, "excludes": ["/tmp/.*"], "keyrings": {".ima": ["$d256"]}, "ima": {"ignored_keyrings": ["%keyring"], "log_hash_alg": "sha1"}}
EOF
cat >corpus/runtime_policy/excludes <<'EOF'
# comment
/tmp/.*
^/var/log/[a-z]+\.log$
boot_aggregate
EOF
