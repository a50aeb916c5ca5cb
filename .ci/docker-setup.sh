#!/usr/bin/env bash
# Install and start a Docker engine for the harness's docker tests, then bootstrap the base images.
#
# Idempotent and safe to re-run on a fresh Debian/Ubuntu machine as root:
#   - installs docker.io and debootstrap with apt when missing (waits for other apt runs);
#   - starts dockerd (--bridge=none --iptables=false, log under $HARNESS_DOCKERD_LOG) unless
#     `docker info` already works, and waits until it does;
#   - bootstraps the Debian base images named in $HARNESS_BASE_RELEASES (default: bookworm
#     bullseye) with `harness image bootstrap`, which skips images that already exist.
# Exit status is non-zero when the engine could not be brought up.
set -euo pipefail

releases="${HARNESS_BASE_RELEASES:-bookworm bullseye}"
log="${HARNESS_DOCKERD_LOG:-/var/log/harness-dockerd.log}"
if [ -n "${HARNESS_CMD:-}" ]; then
    read -r -a harness_cmd <<<"$HARNESS_CMD"
elif command -v harness >/dev/null 2>&1; then
    harness_cmd=(harness)
else
    harness_cmd=(python3 -m harness.cli)
fi

say() { echo "docker-setup: $*" >&2; }

apt_install() {
    local tries=0
    until DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"; do
        tries=$((tries + 1))
        if [ "$tries" -ge 30 ]; then say "apt-get install $* failed"; return 1; fi
        say "apt is busy or failed; retrying in 10s ($tries/30)"
        sleep 10
        [ "$tries" -eq 1 ] && apt-get update -q || true
    done
}

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then say "need root to install ${missing[*]}"; exit 1; fi
    say "installing ${missing[*]}"
    apt-get update -q || true
    apt_install "${missing[@]}"
fi

if ! docker info >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then say "no engine running and not root: cannot start dockerd"; exit 1; fi
    pidfile=/var/run/docker.pid
    if [ -f "$pidfile" ]; then
        old=$(cat "$pidfile" 2>/dev/null || true)
        if [ -n "$old" ] && kill -0 "$old" 2>/dev/null; then
            say "dockerd $old is running but not answering yet; waiting for it"
            for _ in $(seq 1 60); do
                docker info >/dev/null 2>&1 && break
                kill -0 "$old" 2>/dev/null || break
                sleep 1
            done
        fi
        if ! kill -0 "$old" 2>/dev/null; then rm -f "$pidfile"; fi
    fi
fi
if ! docker info >/dev/null 2>&1; then
    say "starting dockerd (log: $log)"
    mkdir -p "$(dirname "$log")"
    # its own session: dockerd outlives this script and any process-group kill of the CI run
    setsid nohup dockerd --bridge=none --iptables=false >>"$log" 2>&1 </dev/null &
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
    if ! docker info >/dev/null 2>&1; then
        say "dockerd did not come up; last log lines:"
        tail -n 20 "$log" >&2 || true
        exit 1
    fi
fi
say "engine up: $(docker info --format '{{.ServerVersion}} cgroup v{{.CgroupVersion}} {{.Driver}}')"

for release in $releases; do
    "${harness_cmd[@]}" image bootstrap --release "$release"
done
