#!/usr/bin/env bash
# The cluster benchmark in one command: installs etcd from Debian when it is
# missing (root needed for that), builds the release binaries, and runs
# target/release/ham-bench-cluster, which prints the table and the verdicts.
#
#   bench-cluster/run.sh            full run (about 3 minutes once built)
#   bench-cluster/run.sh --quick    smoke run (well under a minute once built)
#   bench-cluster/run.sh --help     every option (--only, --clients, --no-etcd, ...)
#
# Every process the benchmark starts (ham nodes, etcd members, helpers) is
# killed and its temporary directory removed at the end, also on error or
# Ctrl-C. Everything listens on loopback addresses only.
set -euo pipefail
cd "$(dirname "$0")/.."

want_etcd=1
for a in "$@"; do
    case "$a" in --no-etcd | --help | -h) want_etcd=0 ;; esac
done
if ((want_etcd)) && ! command -v etcd >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "bench-cluster/run.sh: etcd missing; run as root to install it (or pass --no-etcd)" >&2
        exit 1
    fi
    echo "installing etcd-server" >&2
    # On a host running systemd the package also enables and starts its own
    # etcd.service (on 2379/2380); the benchmark does not use it: it starts
    # its own three members on free ports. Stop it if it is in the way.
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends etcd-server >/dev/null
fi

cargo build --release --bins -p ham-node-agent -p hamctrl -p ham-bench-cluster
exec "${CARGO_TARGET_DIR:-target}/release/ham-bench-cluster" "$@"
