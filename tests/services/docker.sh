#!/usr/bin/env bash
# Make a Docker engine answer for the container tests: install Debian's docker.io (and debootstrap, which the
# platform uses to build its base image, since no registry is reachable) when missing, start dockerd when it is
# not running (there is no systemd here), and wait until it answers. Prints the pid of a dockerd it started, or
# nothing when one was already running. Idempotent.
set -euo pipefail
log() { echo "[docker] $*" >&2; }
export DEBIAN_FRONTEND=noninteractive
if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  log "installing docker.io and debootstrap from Debian's packages"
  apt-get update -qq >&2 && apt-get install -y -qq docker.io debootstrap >&2
fi
ping() { python3 - <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect("/var/run/docker.sock"); s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
    sys.exit(0 if b"OK" in s.recv(1024) else 1)
except OSError:
    sys.exit(1)
PY
}
if ping; then
  exit 0
fi
log "starting dockerd"
nohup dockerd >"${DOCKERD_LOG:-/tmp/mlp-dockerd.log}" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  if ping; then echo "$pid"; exit 0; fi
  sleep 0.2
done
log "dockerd did not answer; its log:"; tail -20 "${DOCKERD_LOG:-/tmp/mlp-dockerd.log}" >&2
exit 1
