#!/usr/bin/env bash
# The ham benchmark in one command: installs runit, s6 and supervisord with
# apt-get when they are missing (root needed for that), builds the release
# binaries, and runs target/release/ham-bench, which prints the tables and
# then the same figures as Markdown for docs/benchmarks.md.
#
#   bench/run.sh            full run (about 12 minutes)
#   bench/run.sh --quick    CI smoke test (under a minute once built)
#   bench/run.sh --help     every option (sizes, --only PART,..., --raw FILE)
#
# Every process the benchmark starts is killed and its temporary directory
# removed at the end, also on error or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v runsv >/dev/null 2>&1 || missing+=(runit)
command -v s6-supervise >/dev/null 2>&1 || missing+=(s6)
command -v supervisord >/dev/null 2>&1 || missing+=(supervisor)
if ((${#missing[@]})); then
    if [ "$(id -u)" -ne 0 ]; then
        echo "bench/run.sh: ${missing[*]} missing; run as root to install them" >&2
        exit 1
    fi
    echo "installing ${missing[*]}" >&2
    # On a host running systemd this also enables the packages' own
    # (empty) runsvdir and supervisord services; the benchmark does not use
    # them: it starts its own runsv, s6-supervise and supervisord.
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cargo build --release --bins -p ham-node-agent -p hamctrl -p ham-bench
exec "${CARGO_TARGET_DIR:-target}/release/ham-bench" "$@"
