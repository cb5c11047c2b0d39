#!/usr/bin/env bash
# Seeds corpus/<target>/ from the swtpm vectors in ../testdata/swtpm, so the fuzzers start from
# real TPM structures (and tpm_verify_quote from quotes whose signatures verify).
set -euo pipefail
cd "$(dirname "$0")"
T=../testdata/swtpm
mkdir -p corpus/tpm_attest corpus/tpm_public corpus/tpm_signature corpus/tpm_verify_quote
for f in "$T"/*.attest; do cp "$f" corpus/tpm_attest/; done
for f in "$T"/*.sig; do cp "$f" corpus/tpm_signature/; done
for k in rsa_ak ecc_ak pss_ak rsa_ek ecc_ek; do
    cp "$T/$k.pub" "corpus/tpm_public/$k.tpm2b"
    tail -c +3 "$T/$k.pub" >"corpus/tpm_public/$k.tpmt" # drop the TPM2B size
done
u16() { printf '%04x' "$1" | xxd -r -p; }
for q in rsa_quote_single rsa_quote_multi ecc_quote_single ecc_quote_multi pss_quote_single; do
    ak="corpus/tpm_public/${q%%_*}_ak.tpmt"
    {
        u16 "$(stat -c %s "$ak")"
        u16 "$(stat -c %s "$T/$q.attest")"
        cat "$ak" "$T/$q.attest" "$T/$q.sig"
    } >"corpus/tpm_verify_quote/$q"
done
