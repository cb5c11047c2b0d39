#!/usr/bin/env bash
# Recreates the swtpm test vectors in this directory (see README.md), then proves that
# palisade's software MakeCredential activates on a real (software) TPM for an RSA and an ECC EK.
#
#   evidence/testdata/swtpm/capture.sh            # vectors + activation proof
#   SKIP_ACTIVATION=1 evidence/testdata/swtpm/capture.sh   # vectors only
#
# Needs: swtpm, tpm2-tools 5.x, python3 with `cryptography`, cargo. Starts its own swtpm on
# 127.0.0.1:$SWTPM_PORT (default 23921, control port +1) and kills it on exit.
set -euo pipefail
umask 022

HERE=$(cd "$(dirname "$0")" && pwd)
CRATE=$(cd "$HERE/../.." && pwd)
PORT=${SWTPM_PORT:-23921}
WORK=$(mktemp -d)
SWTPM_PID=

cleanup() {
    if [[ -n "$SWTPM_PID" ]]; then
        kill "$SWTPM_PID" 2>/dev/null || true
        wait "$SWTPM_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

mkdir "$WORK/state"
swtpm socket --tpm2 --tpmstate dir="$WORK/state" \
    --server type=tcp,port="$PORT",bindaddr=127.0.0.1 \
    --ctrl type=tcp,port="$((PORT + 1))",bindaddr=127.0.0.1 \
    --flags not-need-init,startup-clear &
SWTPM_PID=$!
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$PORT"

for _ in $(seq 50); do
    tpm2_getrandom 1 >/dev/null 2>&1 && break
    sleep 0.1
done
tpm2_getrandom 1 >/dev/null

cd "$WORK"
flush() { tpm2_flushcontext -t; tpm2_flushcontext -s; }

echo "== swtpm $(swtpm --version | head -1); $(tpm2_createak -v)"
tpm2_getcap pcrs

# ---------------------------------------------------------------- keys
# EKs: TCG default low-range templates (RSA-2048 / ECC NIST P-256, AES-128-CFB, nameAlg SHA-256).
# AKs: restricted signing keys under each EK.
tpm2_createek -c ek_rsa.ctx -G rsa -u "$HERE/rsa_ek.pub"
tpm2_createak -C ek_rsa.ctx -c ak_rsa.ctx -G rsa -g sha256 -s rsassa \
    -u "$HERE/rsa_ak.pub" -n "$HERE/rsa_ak.name" -r ak_rsa.priv
flush
tpm2_createek -c ek_ecc.ctx -G ecc -u "$HERE/ecc_ek.pub"
tpm2_createak -C ek_ecc.ctx -c ak_ecc.ctx -G ecc -g sha256 -s ecdsa \
    -u "$HERE/ecc_ak.pub" -n "$HERE/ecc_ak.name" -r ak_ecc.priv
flush
tpm2_createak -C ek_rsa.ctx -c ak_pss.ctx -G rsa -g sha256 -s rsapss \
    -u "$HERE/pss_ak.pub" -n "$HERE/pss_ak.name" -r ak_pss.priv
flush
# The same AK public areas as bare TPMT_PUBLIC (what tss-esapi's Public::marshall() gives).
tpm2_readpublic -c ak_rsa.ctx -f tpmt -o "$HERE/rsa_ak.tpmt" >/dev/null
tpm2_readpublic -c ak_ecc.ctx -f tpmt -o "$HERE/ecc_ak.tpmt" >/dev/null
flush

# ---------------------------------------------------------------- PCRs
# PCR 10 and 15 (sha256 bank) are extended once each with SHA-256 of a known string, so their
# values are deterministic: SHA-256(0^32 || SHA-256(text)).
tpm2_pcrextend "10:sha256=$(printf 'palisade pcr 10' | sha256sum | cut -d' ' -f1)"
tpm2_pcrextend "15:sha256=$(printf 'palisade pcr 15' | sha256sum | cut -d' ' -f1)"
tpm2_pcrread sha256:0,10,15+sha1:0

# ---------------------------------------------------------------- quotes
# The nonce: 20 bytes, SHA-1("palisade nonce").
printf 'palisade nonce' | sha1sum | cut -d' ' -f1 | xxd -r -p >"$HERE/nonce.bin"
NONCE=$(xxd -p -c 64 "$HERE/nonce.bin")
quote() { # key-ctx out-prefix selection [tpm2_quote options]
    tpm2_quote -c "$1" -l "$3" -q "$NONCE" -g sha256 "${@:4}" \
        -m "$HERE/$2.attest" -s "$HERE/$2.sig" -o "$HERE/$2.pcrs" -F values >/dev/null
    flush
}
quote ak_rsa.ctx rsa_quote_single sha256:15
quote ak_rsa.ctx rsa_quote_multi sha256:0,10,15+sha1:0
quote ak_ecc.ctx ecc_quote_single sha256:15
quote ak_ecc.ctx ecc_quote_multi sha256:0,10,15+sha1:0
quote ak_pss.ctx pss_quote_single sha256:15 --scheme rsapss

# ---------------------------------------------------------------- KDF known answers
# An independent implementation of KDFa, KDFe and the credential blob (TPM 2.0 Part 1 §11.4.10
# and §24), in Python with hashlib/hmac and `cryptography` for AES-CFB, over fixed inputs.
python3 - "$HERE/kdf_vectors.json" <<'PY'
import hashlib, hmac, json, sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
try:  # cryptography >= 47 moved CFB to the "decrepit" module
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:
    from cryptography.hazmat.primitives.ciphers.modes import CFB

def kdfa(h, key, label, u, v, bits):
    out, i = b"", 1
    while len(out) * 8 < bits:
        msg = i.to_bytes(4, "big") + label + b"\0" + u + v + bits.to_bytes(4, "big")
        out += hmac.new(key, msg, h).digest()
        i += 1
    return out[: (bits + 7) // 8]

def kdfe(h, z, label, u, v, bits):
    out, i = b"", 1
    while len(out) * 8 < bits:
        out += hashlib.new(h, i.to_bytes(4, "big") + z + label + b"\0" + u + v).digest()
        i += 1
    return out[: (bits + 7) // 8]

def blob(h, aes_bits, seed, name, cred):
    sym = kdfa(h, seed, b"STORAGE", name, b"", aes_bits)
    enc = Cipher(algorithms.AES(sym), CFB(b"\0" * 16)).encryptor()
    ident = enc.update(len(cred).to_bytes(2, "big") + cred) + enc.finalize()
    hkey = kdfa(h, seed, b"INTEGRITY", b"", b"", hashlib.new(h).digest_size * 8)
    outer = hmac.new(hkey, ident + name, h).digest()
    return len(outer).to_bytes(2, "big") + outer + ident

seed = bytes(range(32))
name = bytes.fromhex("000b") + hashlib.sha256(b"an AK public area").digest()
cred = b"palisade credential 0123456789ab"
vectors = {
    "kdfa": [
        {"hash": "sha256", "key": seed.hex(), "label": "STORAGE", "context_u": name.hex(),
         "context_v": "", "bits": 128,
         "out": kdfa("sha256", seed, b"STORAGE", name, b"", 128).hex()},
        {"hash": "sha256", "key": seed.hex(), "label": "INTEGRITY", "context_u": "",
         "context_v": "", "bits": 256,
         "out": kdfa("sha256", seed, b"INTEGRITY", b"", b"", 256).hex()},
        {"hash": "sha384", "key": seed.hex(), "label": "XYZ", "context_u": "0102",
         "context_v": "0304", "bits": 520,
         "out": kdfa("sha384", seed, b"XYZ", b"\1\2", b"\3\4", 520).hex()},
    ],
    "kdfe": [
        {"hash": "sha256", "z": seed.hex(), "label": "IDENTITY", "party_u": "aa" * 32,
         "party_v": "bb" * 32, "bits": 256,
         "out": kdfe("sha256", seed, b"IDENTITY", b"\xaa" * 32, b"\xbb" * 32, 256).hex()},
        {"hash": "sha1", "z": "05", "label": "L", "party_u": "", "party_v": "", "bits": 320,
         "out": kdfe("sha1", b"\5", b"L", b"", b"", 320).hex()},
    ],
    "credential_blob": [
        {"hash": "sha256", "aes_bits": 128, "seed": seed.hex(), "ak_name": name.hex(),
         "credential": cred.hex(), "out": blob("sha256", 128, seed, name, cred).hex()},
        {"hash": "sha256", "aes_bits": 256, "seed": seed.hex(), "ak_name": name.hex(),
         "credential": "01", "out": blob("sha256", 256, seed, name, b"\1").hex()},
    ],
}
with open(sys.argv[1], "w") as f:
    json.dump(vectors, f, indent=1)
    f.write("\n")
PY

chmod 644 "$HERE"/*.pub "$HERE"/*.name "$HERE"/*.tpmt "$HERE"/*.attest "$HERE"/*.sig \
    "$HERE"/*.pcrs "$HERE"/*.bin "$HERE"/*.json
ls -l "$HERE"

# ---------------------------------------------------------------- activation proof
if [[ "${SKIP_ACTIVATION:-0}" == 1 ]]; then
    exit 0
fi
printf 'palisade-activation-secret-0001' >credential.bin

# palisade's make_credential (an #[ignore]d test that writes tpm2-tools' -i file format), or
# tpm2_makecredential as a control that the activation flow itself is right.
make_palisade() { # ek.pub ak.name out (relative to $WORK)
    (cd "$CRATE" && PALISADE_EK_PUBLIC="$1" PALISADE_AK_NAME="$2" \
        PALISADE_CREDENTIAL="$WORK/credential.bin" PALISADE_OUT="$WORK/$3" \
        cargo test -q -p palisade-evidence --lib -- --ignored --exact \
        tpm::credential::tests::make_credential_for_swtpm >/dev/null)
}
make_tools() { # ek.pub ak.name out
    tpm2_makecredential -T none -e "$1" -s credential.bin \
        -n "$(xxd -p -c 256 "$2")" -o "$3"
}
activate() { # ak.ctx ek.ctx in out
    [[ -s "$3" ]] || { echo "no credential file $3" >&2; exit 1; }
    tpm2_startauthsession --policy-session -S session.ctx
    tpm2_policysecret -S session.ctx -c e >/dev/null
    local rc=0
    tpm2_activatecredential -c "$1" -C "$2" -i "$3" -o "$4" -P session:session.ctx || rc=$?
    tpm2_flushcontext session.ctx
    flush
    return $rc
}
result=0
for alg in rsa ecc; do
    for maker in tools palisade; do
        "make_$maker" "$HERE/${alg}_ek.pub" "$HERE/${alg}_ak.name" "mk_${alg}_${maker}.out"
        rm -f "act_${alg}_${maker}.out"
        if activate "ak_$alg.ctx" "ek_$alg.ctx" "mk_${alg}_${maker}.out" "act_${alg}_${maker}.out" \
            && cmp -s credential.bin "act_${alg}_${maker}.out"; then
            echo "ACTIVATION $alg EK, credential made by $maker: OK (secret recovered)"
        else
            echo "ACTIVATION $alg EK, credential made by $maker: FAILED"
            result=1
        fi
    done
    # Negative control: a credential bound to the other AK's name must not activate.
    other=$([[ $alg == rsa ]] && echo ecc || echo rsa)
    make_palisade "$HERE/${alg}_ek.pub" "$HERE/${other}_ak.name" "mk_${alg}_wrong.out"
    if activate "ak_$alg.ctx" "ek_$alg.ctx" "mk_${alg}_wrong.out" "act_${alg}_wrong.out" \
        2>"neg_$alg.err"; then
        echo "NEGATIVE $alg EK, credential for another AK: activated (WRONG)"
        result=1
    else
        echo "NEGATIVE $alg EK, credential for another AK: refused by the TPM (as it must be):" \
            "$(grep -m1 'Esys_ActivateCredential(' "neg_$alg.err" || true)"
    fi
done
exit $result
