#!/usr/bin/env bash
# Runs the whole system locally: broker and database, migrations, a first team and key, every service.
# Idempotent: services already running are restarted with the fresh build.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
mkdir -p "$RUN_DIR/logs" "$RUN_DIR/pids"

"$ROOT/deploy/local/infra.sh"
echo "[up] building (Release)"
dotnet build Automations.sln -c Release -nologo -v q -clp:ErrorsOnly >&2
# The services run ReadyToRun: precompiled, a cold service does not spend its first minutes under load in the JIT
# (each service compiles tens of thousands of methods, most of them MassTransit generics).
# AUTOMATIONS_READY_TO_RUN=0 runs the plain build output instead.
case "$(uname -m)" in x86_64) rid=linux-x64 ;; aarch64) rid=linux-arm64 ;; *) rid="" ;; esac
if [ "${AUTOMATIONS_READY_TO_RUN:-1}" != 0 ] && [ -n "$rid" ]; then
  echo "[up] publishing the services ReadyToRun ($rid)"
  for entry in "${SERVICES[@]}"; do
    name=${entry%%:*}
    # Incremental: an unchanged service takes a few seconds; the first publish of a clone about half a minute each.
    dotnet publish "services/$name/$name.csproj" -c Release -r "$rid" --self-contained false -p:PublishReadyToRun=true \
      -o "$RUN_DIR/publish/$name" -nologo -v q -clp:ErrorsOnly >&2 ||
      { echo "[up] ReadyToRun publish of $name failed; running its build output" >&2; rm -rf "$RUN_DIR/publish/$name"; }
  done
else
  rm -rf "$RUN_DIR/publish"
fi

# PostgreSQL over its Unix socket when it has one for us (Debian's packages, see infra.sh): less kernel time per
# round trip than loopback TCP. A Docker database, or AUTOMATIONS_PG_TCP=1, goes through 127.0.0.1.
pg_host=127.0.0.1
if [ "${AUTOMATIONS_PG_TCP:-0}" != 1 ] && [ -S /var/run/postgresql/.s.PGSQL.5432 ] && command -v psql >/dev/null 2>&1 &&
   PGPASSWORD=automations psql -h /var/run/postgresql -U automations -d automations -tAc 'select 1' >/dev/null 2>&1; then
  pg_host=/var/run/postgresql
fi
export ConnectionStrings__Postgres="${ConnectionStrings__Postgres:-Host=$pg_host;Port=5432;Username=automations;Password=automations;Database=automations;SSL Mode=Disable;Maximum Pool Size=30}"
export ConnectionStrings__RabbitMq="${ConnectionStrings__RabbitMq:-amqp://guest:guest@127.0.0.1:5672/}"
export Webhooks__AllowedCidrs="${Webhooks__AllowedCidrs:-127.0.0.0/8,::1/128}"
# The master key for team secrets: generated once for this checkout, kept in .run/master.key (git-ignored).
[ -s "$RUN_DIR/master.key" ] || head -c 32 /dev/urandom | base64 > "$RUN_DIR/master.key"
export Secrets__MasterKeys__local1="${Secrets__MasterKeys__local1:-$(cat "$RUN_DIR/master.key")}"
export Secrets__ActiveKeyId="${Secrets__ActiveKeyId:-local1}"
export ASPNETCORE_ENVIRONMENT="${ASPNETCORE_ENVIRONMENT:-Development}"
# Workstation (concurrent) GC for the services here: five .NET processes, the broker and the database share the
# machine's cores, and Server GC's per-core GC threads spin while the others wait for the CPU; workstation GC also
# keeps each process smaller (docs/performance.md, "Runtime settings"). The container image (deploy/Dockerfile) and
# the Kubernetes manifests set the same; the project files keep ASP.NET's default (Server GC).
# DOTNET_gcServer=1 ./deploy/local/up.sh brings Server GC back here.
export DOTNET_gcServer="${DOTNET_gcServer:-0}"
# One thread-pool worker to begin with per service instead of one per core. Each service queues several work items per
# event (socket completions, continuations), and with two workers allowed the pool woke the second for nearly every one,
# only for it to find the item taken and sleep again: futex wake-ups that were most of a service's CPU per event at
# moderate rates. The pool still adds workers when the load needs them (hill climbing) or one blocks. Same in the image
# and the manifests (docs/performance.md, "Runtime settings").
export DOTNET_ThreadPool_ForceMinWorkerThreads="${DOTNET_ThreadPool_ForceMinWorkerThreads:-1}"
# The memory bound per service (docs/operations.md, "Memory"): the GC heap may commit at most 96 MiB (hexadecimal,
# as the runtime reads it), and compacts its old generation when much of it is free space (0-9, higher is more eager)
# rather than keeping it committed; the youngest generation collected every 8 MiB allocated (by default its budget
# follows the CPU's cache and lets a flood's garbage take the heap to its limit; each MiB of it is resident between
# collections). Same values in deploy/Dockerfile and deploy/k8s/base/common.yaml.
export DOTNET_GCHeapHardLimit="${DOTNET_GCHeapHardLimit:-0x6000000}"
# The console (and the Api's own console pages) call the Api over HTTP at its port here.
export Console__ApiBaseUrl="${Console__ApiBaseUrl:-http://127.0.0.1:$(service_port Automations.Api)}"
export DOTNET_GCgen0size="${DOTNET_GCgen0size:-0x800000}"
export DOTNET_GCConserveMemory="${DOTNET_GCConserveMemory:-7}"
# Ingestion's heap is bounded lower (64 MiB): its live heap is small (the requests and AMQP messages in flight, at most
# ~35 MiB of bodies at the limits), and with 96 MiB a flood after hours of traffic took it past 200 MB resident.
INGESTION_GCHeapHardLimit="${INGESTION_GCHeapHardLimit:-0x4000000}"

echo "[up] applying migrations"
dotnet "$(service_dll Automations.Api)" migrate >"$RUN_DIR/logs/migrate.log" 2>&1 || { cat "$RUN_DIR/logs/migrate.log" >&2; exit 1; }

# A first team and admin key, once; kept in .run/admin.key (git-ignored).
if [ ! -s "$RUN_DIR/admin.key" ]; then
  dotnet "$(service_dll Automations.Api)" bootstrap --entity acme --user admin --quiet > "$RUN_DIR/admin.key"
fi
KEY=$(cat "$RUN_DIR/admin.key")

"$ROOT/deploy/local/down.sh" --services-only >/dev/null 2>&1 || true
for entry in "${SERVICES[@]}"; do
  name=${entry%%:*}; port=${entry##*:}
  dll=$(service_dll "$name")
  [ -f "$dll" ] || continue
  urls="http://127.0.0.1:$port"
  heap=$DOTNET_GCHeapHardLimit
  [ "$name" = Automations.Ingestion ] && heap=$INGESTION_GCHeapHardLimit
  # exec: the recorded pid is the service itself, and nothing keeps this script's stdout open.
  (cd "$(dirname "$dll")" && DOTNET_GCHeapHardLimit=$heap exec nohup dotnet "$dll" --urls "$urls" >"$RUN_DIR/logs/$name.log" 2>&1 </dev/null) &
  echo $! >"$RUN_DIR/pids/$name.pid"
done

for entry in "${SERVICES[@]}"; do
  name=${entry%%:*}; port=${entry##*:}
  [ -f "$(service_dll "$name")" ] || continue
  [ "$port" = 0 ] && continue
  ok=""
  for _ in $(seq 1 90); do
    if curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then ok=1; break; fi
    sleep 1
  done
  if [ -z "$ok" ]; then echo "[up] $name is not ready; see $RUN_DIR/logs/$name.log" >&2; tail -20 "$RUN_DIR/logs/$name.log" >&2; exit 1; fi
  echo "[up] $name ready on http://127.0.0.1:$port"
done

cat <<EOT

Automations is running.
  Api (control plane): http://127.0.0.1:5080   OpenAPI: http://127.0.0.1:5080/openapi/v1.json
  Ingestion:           http://127.0.0.1:5081   POST /v1/events
  Console:             http://127.0.0.1:5085   (sign in with the admin key below)
  RabbitMQ UI:         http://127.0.0.1:15672  (guest/guest)
  Logs:                $RUN_DIR/logs/
  Admin key (team acme, shown here from $RUN_DIR/admin.key): $KEY

Send a first event:
  curl -i -X POST http://127.0.0.1:5081/v1/events \\
    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \\
    -d '{"eventId":"first-1","eventType":"ADD_ARTIFACT_ALIAS","entity":"acme","project":"mnist","collection":"eval-set","alias":"production","versionIndex":3,"occurredAt":"2026-11-27T22:41:00Z"}'

Stop everything: ./deploy/local/down.sh
EOT
