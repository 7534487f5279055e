#!/usr/bin/env bash
# Runs the whole test suite against a real RabbitMQ and PostgreSQL (started as up.sh does), then prints
# one closing line: "N passed, N failed, N skipped". Exit code 0 only when nothing failed.
set -uo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
eval "$("$ROOT/deploy/local/infra.sh" --print-env --with-browser)" || { echo "infrastructure did not start"; echo "0 passed, 1 failed"; exit 1; }

mkdir -p "$RUN_DIR"
log="$RUN_DIR/test-output.log"
dotnet build Automations.sln -c Release -nologo -v q -clp:ErrorsOnly
build=$?
if [ $build -ne 0 ]; then echo "build failed"; echo "0 passed, 1 failed"; exit 1; fi

dotnet test Automations.sln -c Release --no-build -nologo "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# Sum the per-assembly summaries ("Passed!  - Failed: 0, Passed: 25, Skipped: 0, Total: 25 ...").
read -r passed failed skipped < <(grep -E "^(Passed|Failed)! +- +Failed:" "$log" | sed -E 's/.*Failed: *([0-9]+), Passed: *([0-9]+), Skipped: *([0-9]+).*/\2 \1 \3/' |
  awk '{p+=$1; f+=$2; s+=$3} END {print p+0, f+0, s+0}')
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; echo "dotnet test exited with $status"; fi

# The short form of the fault drills, against the whole system as the run command starts it (AUTOMATIONS_DRILLS=none skips).
# Retries are compressed so the error drill's retries finish within the run.
if [ "${AUTOMATIONS_DRILLS:-short}" != "none" ]; then
  export Webhooks__RetrySchedule="${Webhooks__RetrySchedule:-00:00:01,00:00:02,00:00:04,00:00:08,00:00:15}"
  export Webhooks__Timeout="${Webhooks__Timeout:-00:00:05}"
  if "$ROOT/deploy/local/up.sh" > "$RUN_DIR/drills-up.log" 2>&1; then
    "$ROOT/deploy/local/drills.sh" --short | tee "$RUN_DIR/drills-output.log"
    read -r dp df < <(grep -E "^DRILLS:" "$RUN_DIR/drills-output.log" | sed -E 's/DRILLS: ([0-9]+) passed, ([0-9]+) failed/\1 \2/')
    passed=$((passed + ${dp:-0})); failed=$((failed + ${df:-1}))
  else
    echo "the system did not start for the drills:"; tail -30 "$RUN_DIR/drills-up.log"; failed=$((failed + 1))
  fi
  "$ROOT/deploy/local/down.sh" >/dev/null 2>&1 || true
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
