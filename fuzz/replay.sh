#!/usr/bin/env bash
# CI's fuzz step (docs/fuzzing.md): builds every fuzz target and replays its committed
# corpus once (libFuzzer's -runs=0 runs each input and stops), so the targets keep compiling
# and every seed, and every input that once crashed, keeps passing. No new inputs are searched.
set -euo pipefail
cd "$(dirname "$0")"
# cargo-fuzz needs nightly flags: a nightly toolchain when one is installed, otherwise the
# stable one with RUSTC_BOOTSTRAP=1.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=+nightly
else
    toolchain=
    export RUSTC_BOOTSTRAP=1
fi
# Unoptimized (a quicker build, the corpus is small) and without a sanitizer, like the long runs.
cargo $toolchain fuzz build --dev --sanitizer none
for t in $(cargo $toolchain fuzz list); do
    n=$(find "corpus/$t" -type f | wc -l)
    echo "fuzz: replaying $n inputs of $t"
    cargo $toolchain fuzz run --dev --sanitizer none "$t" "corpus/$t" -- \
        -runs=0 -rss_limit_mb=2048 -timeout=10 >"/tmp/ham-fuzz-replay-$t.log" 2>&1 || {
        cat "/tmp/ham-fuzz-replay-$t.log"
        echo "fuzz: $t failed on its corpus"
        exit 1
    }
done
echo "fuzz: every target replayed its corpus"
