#!/usr/bin/env bash
# The long fuzz runs of docs/fuzzing.md: each target in turn (never two at once), at the
# lowest priority, until it has run 10 million inputs or 20 minutes, whichever comes first.
# Usage: fuzz/long-runs.sh [TARGET...] (default: every target). Logs: fuzz/logs/<target>.log,
# one summary line per target in fuzz/logs/summary.txt.
set -euo pipefail
cd "$(dirname "$0")"
# A nightly toolchain when one is installed, otherwise the default one with RUSTC_BOOTSTRAP=1.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=+nightly
else
    toolchain=
    export RUSTC_BOOTSTRAP=1
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo $toolchain fuzz list)
fi
mkdir -p logs
for t in "${targets[@]}"; do
    # The commit the run builds, marked when the work tree differs from it.
    commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- .. || echo +dirty)
    mkdir -p "corpus/$t"
    # A scratch corpus: what the run finds stays out of the committed seeds.
    work=$(mktemp -d)
    start=$(date +%s)
    set +e
    nice -n 19 cargo $toolchain fuzz run --release --sanitizer none "$t" "$work" "corpus/$t" -- \
        -rss_limit_mb=2048 -timeout=10 -runs=10000000 -max_total_time=1200 \
        -print_final_stats=1 >"logs/$t.log" 2>&1
    rc=$?
    set -e
    secs=$(( $(date +%s) - start ))
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' || echo '?')
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "logs/$t.log" | tail -1 || echo '?')
    echo "$t commit=$commit exit=$rc runs=$runs seconds=$secs exec/s=$rate $cov" | tee -a logs/summary.txt
    rm -rf "$work"
done
