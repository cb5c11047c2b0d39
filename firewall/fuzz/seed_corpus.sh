#!/usr/bin/env bash
# Seeds corpus/<target>/ from ../testdata: nft_json starts from real `nft -j` listings
# (testdata/corpus/*.json), canonical_doc from their golden canonical documents
# (testdata/canonical/*.json, checked by the crate's unit tests).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/nft_json corpus/canonical_doc
for f in ../testdata/corpus/*.json; do
    cp "$f" "corpus/nft_json/$(basename "$f")"
done
for f in ../testdata/canonical/*.json; do
    cp "$f" "corpus/canonical_doc/$(basename "$f")"
done
