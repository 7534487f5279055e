#!/usr/bin/env bash
# Makes sure RabbitMQ (with the management API) and PostgreSQL run on loopback, and that the
# `automations` role and database exist. Idempotent. Uses a Docker engine when one answers,
# else Debian's rabbitmq-server and postgresql (installed when missing).
# Prints nothing on stdout but `export` lines when called with --print-env. --with-browser also installs headless
# Chromium and its driver, which only the test command needs (the console's browser tests).
# `infra.sh stop|start rabbitmq|postgres` stops or starts one of them, whichever way it runs here (the fault drills,
# tests/Automations.Benchmarks, inject their broker and database faults through this; start waits until it answers).
set -euo pipefail
cd "$(dirname "$0")/../.."

PG_USER=${AUTOMATIONS_PG_USER:-automations}
PG_PASSWORD=${AUTOMATIONS_PG_PASSWORD:-automations}
PG_DB=${AUTOMATIONS_PG_DB:-automations}
log() { echo "[infra] $*" >&2; }

wait_for() { # name, seconds, command...
  local name=$1 secs=$2; shift 2
  for _ in $(seq 1 "$secs"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  log "$name did not become ready in ${secs}s"; return 1
}

docker_engine() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

case "${1:-}" in
  stop|start)
    action=$1 what=${2:-}
    [ "$what" = rabbitmq ] || [ "$what" = postgres ] || { log "usage: $0 stop|start rabbitmq|postgres"; exit 2; }
    if docker_engine; then
      if [ "$action" = stop ]; then docker compose stop "$what" >&2; else docker compose up -d --wait "$what" >&2; fi
    elif [ "$what" = rabbitmq ]; then
      # stop_app leaves the Erlang node up (a quick start) but closes the AMQP and management listeners.
      if [ "$action" = stop ]; then rabbitmqctl -q stop_app >&2
      elif ! rabbitmq-diagnostics -q check_running >/dev/null 2>&1; then rabbitmqctl -q start_app >&2 && wait_for rabbitmq 90 rabbitmqctl -q await_startup; fi
    else
      if [ "$action" = stop ]; then service postgresql stop >&2
      elif ! pg_isready -q -h 127.0.0.1 -p 5432; then service postgresql start >&2 && wait_for postgresql 60 pg_isready -q -h 127.0.0.1 -p 5432; fi
    fi
    exit 0 ;;
esac

print_env=""; with_browser=""
for arg in "$@"; do
  case "$arg" in
    --print-env) print_env=1 ;;
    --with-browser) with_browser=1 ;;
    *) echo "[infra] unknown argument: $arg (usage: infra.sh [--print-env] [--with-browser])" >&2; exit 2 ;;
  esac
done


if docker_engine; then
  log "Docker engine found: starting rabbitmq and postgres from docker-compose.yml"
  docker compose up -d --wait rabbitmq postgres >&2
else
  need=()
  command -v rabbitmq-server >/dev/null 2>&1 || need+=(rabbitmq-server)
  [ -x /usr/lib/postgresql/15/bin/postgres ] || ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
  command -v curl >/dev/null 2>&1 || need+=(curl)
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]} from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "${need[@]}" >&2
  fi

  # RabbitMQ: management plugin (tests create one vhost per test class through its API)
  if ! rabbitmqctl -q status >/dev/null 2>&1; then
    rabbitmq-plugins -q --offline enable rabbitmq_management >/dev/null 2>&1 || true
    log "starting rabbitmq-server"
    rabbitmq-server -detached >&2 2>&1 || true
  fi
  wait_for rabbitmq 90 rabbitmqctl -q await_startup
  rabbitmq-plugins -q is_enabled rabbitmq_management >/dev/null 2>&1 || rabbitmq-plugins -q enable rabbitmq_management >&2
  wait_for "rabbitmq management" 60 curl -fsS -u guest:guest http://127.0.0.1:15672/api/overview

  # PostgreSQL
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    log "starting postgresql"
    service postgresql start >&2 || pg_ctlcluster 15 main start >&2
  fi
  wait_for postgresql 60 pg_isready -q -h 127.0.0.1 -p 5432
  # Room for several services and parallel test classes.
  cur=$(su postgres -c "psql -tAc 'show max_connections'" 2>/dev/null || echo 100)
  if [ "${cur:-100}" -lt 300 ]; then
    su postgres -c "psql -qc 'alter system set max_connections = 300'" >&2
    service postgresql restart >&2 || pg_ctlcluster 15 main restart >&2
    wait_for postgresql 60 pg_isready -q -h 127.0.0.1 -p 5432
  fi
  # A reloadable setting (no restart): set and reloaded only when the server has another value.
  pg_reload_setting() { # name, value as `show` prints it
    if [ "$(su postgres -c "psql -tAc 'show $1'" 2>/dev/null)" != "$2" ]; then
      su postgres -c "psql -qc \"alter system set $1 = '$2'\"" >&2
      su postgres -c "psql -qc 'select pg_reload_conf()'" >/dev/null
    fi
  }
  # Every event writes a few small rows and deletes outbox rows: with the default 1 GB of WAL between checkpoints,
  # PostgreSQL checkpoints every few seconds under sustained load, and the full-page writes after each one cost CPU
  # the pipeline needs (they show as latency spikes).
  pg_reload_setting max_wal_size 4GB
  pg_reload_setting checkpoint_timeout 15min
  # A new WAL segment is zero-filled (16 MB) inside the commit that needs it, holding the WAL write lock: every commit
  # waits ~100 ms. Under load the project fills a segment every few seconds, and until a checkpoint has recycled old
  # ones (the first half hour after a start) each is new: a latency spike every few seconds. Created without the
  # zeroes it costs one write.
  pg_reload_setting wal_init_zero off
  # The services up.sh starts reach PostgreSQL over its Unix socket: a round trip there costs less kernel time than
  # loopback TCP, for the services and PostgreSQL alike. Password authentication for our role on the socket, ahead of
  # Debian's `peer` line.
  hba=$(su postgres -c "psql -tAc 'show hba_file'" 2>/dev/null || true)
  if [ -n "$hba" ] && [ -f "$hba" ] && ! grep -qE "^local[[:space:]]+all[[:space:]]+$PG_USER[[:space:]]" "$hba"; then
    sed -i "0,/^local[[:space:]]\+all[[:space:]]\+all[[:space:]]/s//local   all             $PG_USER                             scram-sha-256\n&/" "$hba"
    su postgres -c "psql -qc 'select pg_reload_conf()'" >/dev/null
  fi
  su postgres -c "psql -tAc \"select 1 from pg_roles where rolname='$PG_USER'\"" | grep -q 1 ||
    su postgres -c "psql -qc \"create role $PG_USER login createdb password '$PG_PASSWORD'\"" >&2
  su postgres -c "psql -tAc \"select 1 from pg_database where datname='$PG_DB'\"" | grep -q 1 ||
    su postgres -c "psql -qc \"create database $PG_DB owner $PG_USER\"" >&2
fi

# Headless Chromium and its driver for the console's browser tests (tests/Automations.Console.Tests): test.sh only.
if [ -n "$with_browser" ] && { ! [ -x /usr/bin/chromium ] || ! [ -x /usr/bin/chromedriver ]; } && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  log "installing chromium and chromium-driver from Debian"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >&2 ||
    { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >&2; } || log "chromium could not be installed: the console's browser tests will fail"
fi

if [ -n "$print_env" ]; then
  echo "export AUTOMATIONS_TEST_POSTGRES='Host=127.0.0.1;Port=5432;Username=$PG_USER;Password=$PG_PASSWORD;Database=$PG_DB;SSL Mode=Disable'"
  echo "export AUTOMATIONS_TEST_RABBITMQ='amqp://guest:guest@127.0.0.1:5672/'"
  echo "export AUTOMATIONS_TEST_RABBITMQ_MANAGEMENT='http://guest:guest@127.0.0.1:15672/'"
fi
log "rabbitmq and postgresql are ready"
