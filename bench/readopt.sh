#!/usr/bin/env bash
# E11 timing: a ham with N entities (default 1000, each a sleeping process
# with a restart action) is killed with SIGKILL and started again on the
# same data; prints the time from the new ham's exec to its Unix socket
# answering `hamctrl ls`, and how long re-adoption itself took (from ham's
# own log line). Release build; everything it starts is killed at the end.
#
#   bench/readopt.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
cargo build --release -q -p ham-node-agent -p hamctrl
ham=target/release/ham
ctl=target/release/hamctrl
dir=$(mktemp -d)
sock=$dir/ham.sock
pid=
cleanup() {
    if [ -n "$pid" ]; then
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    pkill -9 -f "^/bin/sleep 1000042" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
start() {
    "$ham" --data-dir "$dir/data" --socket "$sock" -t none 2>>"$dir/ham.log" &
    pid=$!
}
wait_ready() {
    for _ in $(seq 1 3000); do
        "$ctl" --socket "$sock" --timeout 1 ls >/dev/null 2>&1 && return 0
        sleep 0.005
    done
    echo "ham did not answer" >&2
    exit 1
}
start
wait_ready
for i in $(seq 1 "$n"); do
    "$ctl" --socket "$sock" attach "e$i" --cmd "/bin/sleep 1000042" --restart >/dev/null
done
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
t0=$(date +%s%N)
start
wait_ready
t1=$(date +%s%N)
echo "entities: $n"
echo "restart to ready (exec -> hamctrl ls answers): $(( (t1 - t0) / 1000000 )) ms"
grep "re-adopted" "$dir/ham.log" | tail -1 | sed 's/^.*re-adopted/re-adopted:/'
victim=$("$ctl" --socket "$sock" cat e1/.info | awk -F' : ' '/Entity Pid/ {print $2}')
kill -9 "$victim"
for _ in $(seq 1 400); do
    now=$("$ctl" --socket "$sock" cat e1/.info | awk -F' : ' '/Entity Pid/ {print $2}')
    if [ "$now" != "$victim" ] && [ "$now" != "0" ]; then
        echo "a death after the restart was recovered: pid $victim -> $now"
        exit 0
    fi
    sleep 0.01
done
echo "the process killed after the restart was not restarted" >&2
exit 1
