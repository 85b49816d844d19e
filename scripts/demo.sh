#!/usr/bin/env bash
# Builds ham and hamctrl, starts a one-node HAM on its defaults (state in
# /var/lib/ham, API on the Unix socket /run/ham/ham.sock alone), attaches a
# process with a restart action in one hamctrl line, kills the process, and
# shows the HAM restarted it. The HAM keeps running afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bins
bin=target/release
sock=${HAM_SOCKET:-/run/ham/ham.sock}

if ! "$bin/hamctrl" ls >/dev/null 2>&1; then
    nohup "$bin/ham" -f /tmp/ham-demo.log >/dev/null 2>&1 &
    for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
    echo "ham started (pid $!, log /tmp/ham-demo.log)"
fi

"$bin/hamctrl" detach demo >/dev/null 2>&1 || true
# The one line: start a process, and restart it whenever it dies.
"$bin/hamctrl" attach demo --cmd "/bin/sleep 1000000" --restart

pid=$("$bin/hamctrl" cat demo/.info | awk -F' : ' '/Entity Pid/ {print $2}')
echo "demo runs as pid $pid; killing it with SIGKILL"
kill -9 "$pid"
for _ in $(seq 100); do
    "$bin/hamctrl" cat demo/.info | grep -q 'Num Restarts : 1' && break
    sleep 0.02
done
"$bin/hamctrl" ls
"$bin/hamctrl" cat demo/.info
echo "stop the HAM with: $bin/hamctrl -stop   (its processes keep running)"
