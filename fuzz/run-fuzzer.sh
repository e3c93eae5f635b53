#!/bin/sh
# run-fuzzer.sh FUZZER SEED_CORPUS SECONDS: fuzz for SECONDS starting from a
# scratch copy of the seed corpus; libFuzzer exits non-zero on any finding.
set -eu
fuzzer=$(realpath "$1") seeds=$(realpath "$2") seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$seeds"/. "$work"/ 2>/dev/null || true
cd "$work"
exec "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 "$work"
