#!/usr/bin/env bash
# The palisade demo: one host (a network namespace with swtpm and a real nftables ruleset) running
# the agent, the verifier outside it; PASS, then one firewall rule changes, then FAIL naming it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
echo "[demo] building palisade"
cargo build --quiet --workspace --bins
exec ./target/debug/palisade-demo "$@"
