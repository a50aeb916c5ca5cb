#!/bin/sh
# The harness's in-container runner (PID 1 of every run-phase container).
#
# Runs the command, then writes "<exit status> <start ns> <end ns>" to $HARNESS_STATUS_DIR/exit and
# keeps the container alive, so that the harness can read the container's cgroup (exact peak
# memory, CPU time, OOM kills) before it removes the container: the kernel drops a cgroup, and its
# numbers, as soon as the container's last process exits.
status_dir="${HARNESS_STATUS_DIR:?}"
start=$(date +%s%N)
if [ -n "${HARNESS_DEADLINE_S:-}" ]; then
    # a backstop should the harness itself die: the harness kills the container long before this
    timeout --signal=KILL "$HARNESS_DEADLINE_S" "$@"
else
    "$@"
fi
rc=$?
end=$(date +%s%N)
echo "$rc $start $end" > "$status_dir/exit.tmp" && mv "$status_dir/exit.tmp" "$status_dir/exit"
exec sleep "${HARNESS_HOLD_S:-600}"
