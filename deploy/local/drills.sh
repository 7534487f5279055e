#!/usr/bin/env bash
# Fault drills under load against the running system (./deploy/local/up.sh), each ending with the exactly-once check
# at the receiver. `--short` is the form the test command runs (a few seconds of fault each); without it the full
# form (RabbitMQ down 30 s, errors for a minute...). Prints "DRILLS: N passed, N failed".
# Usage: deploy/local/drills.sh [--short] [drill ...]   (drills: rabbitmq kill postgres errors slow malformed)
set -uo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
mode=()
[ "${1:-}" = "--short" ] && { mode=(--short); shift; }
drills=("$@")
[ ${#drills[@]} -eq 0 ] && drills=(malformed kill rabbitmq postgres errors slow)
# Both forms run well below the system's capacity on a small machine (docs/performance.md), so a drill tests
# correctness under a fault, not a backlog: the short form (CI, a cold system, within the time budget) at 50/s, the
# full form at 200/s. AUTOMATIONS_DRILL_RATE sets either.
if [ ${#mode[@]} -gt 0 ]; then rate=${AUTOMATIONS_DRILL_RATE:-50}; else rate=${AUTOMATIONS_DRILL_RATE:-200}; fi
bench="$ROOT/tests/Automations.Benchmarks/bin/Release/net10.0/Automations.Benchmarks.dll"
mkdir -p "$RUN_DIR/drills"
passed=0; failed=0
all_ready() { for entry in "${SERVICES[@]}"; do curl -fsS "http://127.0.0.1:${entry##*:}/health/ready" >/dev/null 2>&1 || return 1; done; }
for d in "${drills[@]}"; do
  # Every drill starts from a whole system (a failed drill may have left a service down).
  if ! all_ready; then echo "restarting the system before drill $d"; "$ROOT/deploy/local/up.sh" >"$RUN_DIR/drills/up-before-$d.log" 2>&1; fi
  # The slow drill sends every event to two endpoints: half the rate keeps the deliveries per second the same.
  r=$rate; [ "$d" = slow ] && r=$(awk "BEGIN {print $rate / 2}")
  echo "=== drill $d (${mode[*]:-full}) at $r events/s"
  if dotnet "$bench" --drill "$d" --rate "$r" "${mode[@]}" --out "$RUN_DIR/drills" --run-dir "$RUN_DIR" 2>&1 | tee "$RUN_DIR/drills/$d.log" | grep -E "^(drill:|DRILL_RESULT|team |warm-up|latency plot)"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
    passed=$((passed+1)); echo "drill $d: PASS"
  else
    failed=$((failed+1)); echo "drill $d: FAIL (see $RUN_DIR/drills/$d.log)"; tail -30 "$RUN_DIR/drills/$d.log"
  fi
  # A drill that killed or restarted something leaves it running again; make sure all are ready before the next.
  for entry in "${SERVICES[@]}"; do port=${entry##*:}; for _ in $(seq 1 60); do curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && break; sleep 1; done; done
done
echo "DRILLS: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
