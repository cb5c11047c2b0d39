#!/usr/bin/env bash
# Every check palisade has: formatting, clippy (warnings are errors), licences and sources,
# unit and end-to-end tests (real swtpm, nftables in network namespaces; needs root), and that
# every fuzz target builds and survives a short run.
set -euo pipefail
cd "$(dirname "$0")/.."
PALISADE_SETUP_DEV=1 ./scripts/setup.sh

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "format"
cargo fmt --all -- --check
step "clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
step "licences, bans, sources (deny.toml)"
cargo deny --log-level error check licenses bans sources
step "build binaries (end-to-end tests run them)"
cargo build --workspace --bins --quiet
step "tests"
cargo test --workspace --quiet
step "fuzz targets build and run briefly"
# One target directory for every fuzz crate: the dependencies they share (serde, the palisade
# crates under test, …) are compiled once with the sanitizer flags, not once per crate.
fuzz_target_dir="$PWD/target/fuzz"
for crate in $(find . -path ./target -prune -o -name Cargo.toml -path '*/fuzz/*' -print | xargs -n1 dirname); do
    (
        cd "$crate"
        cargo +nightly fuzz build --target-dir "$fuzz_target_dir" > fuzz-build.log 2>&1 \
            || { tail -40 fuzz-build.log; echo "fuzz crate $crate does not build"; exit 1; }
        tail -1 fuzz-build.log
        for target in $(cargo +nightly fuzz list); do
            cargo +nightly fuzz run --target-dir "$fuzz_target_dir" "$target" -- -max_total_time=5 -print_final_stats=0 >/dev/null 2>&1 \
                || { echo "fuzz target $crate:$target failed"; exit 1; }
            echo "fuzz $crate:$target ok"
        done
    )
done
step "all checks passed"
