#!/usr/bin/env bash
# Stops the services started by up.sh (SIGTERM, then SIGKILL after 20 s); with --all also the broker and database.
set -uo pipefail
source "$(dirname "$0")/common.sh"
for f in "$RUN_DIR"/pids/*.pid; do
  [ -e "$f" ] || continue
  pid=$(cat "$f"); kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  kill -KILL "$pid" 2>/dev/null
  rm -f "$f"
done
if [ "${1:-}" = "--all" ]; then
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then docker compose down; else
    rabbitmqctl -q stop 2>/dev/null || true
    service postgresql stop 2>/dev/null || true
  fi
fi
echo "[down] stopped"
