#!/usr/bin/env bash
# Runs ../shared/bench-e2e's cases (run-daemon.sh) against `ordersync serve`,
# on the bench recipe in rules.yaml: eBay orders tagged on import and published
# to a store at the harness's sink. The harness is read-only where it is
# shipped; copy it out first:
#
#   cp -r ../shared/bench-e2e /work/e2e && chmod -R u+w /work/e2e
#   cargo build --release --bins
#   E2E=/work/e2e benches/e2e/run-ordersync.sh            # QUICK=1 ROUNDS=1 for a smoke run
#
# Starts the daemon on 127.0.0.1:18801 with a fresh SQLite file in a temp dir
# (WAL, synchronous=FULL, as always), runs the harness, stops the daemon by PID.
# Environment: E2E (the harness copy, required), ORDERSYNC (the binary,
# default target/release/ordersync), plus anything run-daemon.sh reads (ROUNDS,
# QUICK, OUT, ...).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${E2E:?set E2E to a writable copy of ../shared/bench-e2e}"
bin=${ORDERSYNC:-$here/../../target/release/ordersync}
dir=$(mktemp -d)
"$bin" serve --rules "$here/rules.yaml" --db "$dir/ordersync.db" --listen 127.0.0.1:18801 \
    >"$dir/stdout" 2>"$dir/daemon.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
    grep -q "listening" "$dir/stdout" 2>/dev/null && break
    sleep 0.1
done
grep -q "listening" "$dir/stdout" || { cat "$dir/daemon.log"; exit 1; }
URL=http://127.0.0.1:18801/webhooks/ebay SECRET=bench-secret SUT_PID=$pid "$E2E/run-daemon.sh"
