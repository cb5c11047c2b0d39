#!/usr/bin/env bash
# Idempotent set-up of everything palisade needs on a fresh Debian 12 machine (run as root):
# Debian packages, the pinned Rust toolchain's components, nightly with rust-src and bpf-linker
# for the eBPF programs (and cargo-fuzz), cargo tools.
# Sourced by demo.sh and test.sh; safe to run again (installs only what is missing).
set -euo pipefail

APT_PACKAGES=(
    nftables iproute2 iputils-ping        # hosts as network namespaces with real firewalls
    swtpm swtpm-tools tpm2-tools          # a TPM per host, and the tools an attacker/operator uses
    libtss2-dev pkg-config clang          # tss-esapi builds against tpm2-tss 3.2.1
    bpftool python3                       # tests: BTF cross-check; processes that open sockets
    postgresql                            # tests: the verifier's store on a real PostgreSQL server
)

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "palisade's demo and tests create network namespaces and firewalls: run them as root" >&2
    exit 1
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v rustup >/dev/null || { echo "rustup is required (https://rustup.rs)" >&2; exit 1; }

# The pinned toolchain (rust-toolchain.toml) with rustfmt and clippy.
say "Rust toolchain: $(cd "$(dirname "$0")/.." && rustup show active-toolchain | cut -d' ' -f1)"
(cd "$(dirname "$0")/.." && rustup component add rustfmt clippy >/dev/null 2>&1 || true)

# The eBPF programs (ebpf/programs) are Rust built for bpfel-unknown-none by ebpf/loader's build
# script (aya-build): nightly with rust-src (build-std) and bpf-linker (pinned: newer ones need
# a newer rustc than these machines have).
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
rustup component list --toolchain nightly --installed | grep -q '^rust-src' \
    || rustup component add rust-src --toolchain nightly >/dev/null
if ! command -v bpf-linker >/dev/null || ! bpf-linker --version | grep -q '0\.10\.4'; then
    say "installing bpf-linker 0.10.4 (eBPF programs in Rust)"
    (cd / && cargo install bpf-linker@0.10.4 --locked --quiet)
fi

if [ "${PALISADE_SETUP_DEV:-0}" = 1 ]; then
    # Fuzzing needs nightly (installed above); cargo-fuzz and cargo-deny are built once.
    if ! command -v cargo-fuzz >/dev/null; then
        say "installing cargo-fuzz"
        cargo install cargo-fuzz --locked --quiet
    fi
    if ! command -v cargo-deny >/dev/null; then
        say "installing cargo-deny"
        cargo install cargo-deny --locked --quiet
    fi
fi
