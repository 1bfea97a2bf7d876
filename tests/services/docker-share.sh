#!/usr/bin/env bash
# Share one Docker engine between test runs that overlap (two `make test`s on one machine):
#   docker-share.sh acquire PID   make an engine answer (tests/services/docker.sh) and register run PID as a user
#   docker-share.sh release PID   unregister PID; the last user to leave stops the engine, but only one that a test
#                                 run started — a dockerd that was already running (the system's) is never stopped
# State: $MLP_DOCKER_STATE (default /tmp/mlp-test-docker): users/<pid> per run, dockerd.pid when tests started it;
# every change holds a lock. Users whose process is gone (a run that was killed) are pruned.
set -euo pipefail
STATE=${MLP_DOCKER_STATE:-/tmp/mlp-test-docker}
START=${MLP_DOCKER_START:-"$(dirname "$0")/docker.sh"}
cmd=$1 user=$2
mkdir -p "$STATE/users"
exec 9>"$STATE.lock"
flock 9
case "$cmd" in
  acquire)
    pid=$(bash "$START" 9>&-)  # the engine must not inherit (and hold) the lock
    if [ -n "$pid" ]; then echo "$pid" >"$STATE/dockerd.pid"; fi
    touch "$STATE/users/$user"
    ;;
  release)
    rm -f "$STATE/users/$user"
    for u in "$STATE"/users/*; do
      [ -e "$u" ] || continue
      kill -0 "$(basename "$u")" 2>/dev/null || rm -f "$u"
    done
    if [ -z "$(ls -A "$STATE/users")" ] && [ -f "$STATE/dockerd.pid" ]; then
      pid=$(cat "$STATE/dockerd.pid")
      rm -f "$STATE/dockerd.pid"
      # the pid must still be a dockerd (not a reused pid)
      if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
        echo "[docker] stopping the dockerd the tests started (pid $pid)" >&2
        kill "$pid" 2>/dev/null || true
        # Wait for it to go (a zombie has gone); one that ignores or blocks SIGTERM — both are inherited from
        # whoever started it — is killed after 10 s.
        for _ in $(seq 1 100); do
          grep -qs '^State:[[:space:]]*[^Z]' "/proc/$pid/status" || break
          sleep 0.1
        done
        if grep -qs '^State:[[:space:]]*[^Z]' "/proc/$pid/status"; then kill -9 "$pid" 2>/dev/null || true; fi
      fi
    fi
    ;;
  *) echo "usage: $0 acquire|release PID" >&2; exit 2 ;;
esac
