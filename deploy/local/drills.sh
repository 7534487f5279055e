#!/usr/bin/env bash
# Fault drills under load against the running system (./deploy/local/up.sh), each ending with the exactly-once check
# at the receiver. `--short` is the form the test command runs (a few seconds of fault each); without it the full
# form (RabbitMQ down 30 s, errors for a minute...). Prints "DRILLS: N passed, N failed".
# Usage: deploy/local/drills.sh [--short] [drill ...]   (drills: rabbitmq kill postgres errors slow malformed)
# Each drill fails unless it observed its fault (the broker's AMQP port refused, PostgreSQL unreachable, a new pid after
# each kill, 500s answered, hanging requests given up, malformed events refused and kept) and intake kept accepting
# where it can. Self-test: AUTOMATIONS_DRILL_NOOP=NAME[,NAME...]|all makes the named drills' fault a no-op (nothing is
# stopped or killed, the receiver behaves); each must then fail with its fault not observed, which counts as a pass
# here, and a drill that passes without its fault as a failure.
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
noop() { case ",${AUTOMATIONS_DRILL_NOOP:-}," in *,all,*|*,"$1",*) return 0 ;; esac; return 1; }
all_ready() { for entry in "${SERVICES[@]}"; do curl -fsS "http://127.0.0.1:${entry##*:}/health/ready" >/dev/null 2>&1 || return 1; done; }
for d in "${drills[@]}"; do
  # Every drill starts from a whole system (a failed drill may have left a service down).
  if ! all_ready; then echo "restarting the system before drill $d"; "$ROOT/deploy/local/up.sh" >"$RUN_DIR/drills/up-before-$d.log" 2>&1; fi
  # The slow drill sends every event to two endpoints: half the rate keeps the deliveries per second the same.
  r=$rate; [ "$d" = slow ] && r=$(awk "BEGIN {print $rate / 2}")
  echo "=== drill $d (${mode[*]:-full}${AUTOMATIONS_DRILL_NOOP:+, self-test: fault skipped}) at $r events/s"
  log="$RUN_DIR/drills/$d.log"
  dotnet "$bench" --drill "$d" --rate "$r" "${mode[@]}" --out "$RUN_DIR/drills" --run-dir "$RUN_DIR" 2>&1 | tee "$log" | grep -E "^(drill:|DRILL_RESULT|team |warm-up|latency plot)"
  status=${PIPESTATUS[0]}
  if noop "$d"; then
    if [ "$status" -ne 0 ] && grep -q '"fault_observed":false' "$log"; then
      passed=$((passed+1)); echo "drill $d: SELF-TEST PASS (fault skipped: the drill failed, fault not observed)"
    else
      failed=$((failed+1)); echo "drill $d: SELF-TEST FAIL (fault skipped, yet the drill did not fail on it; see $log)"; tail -30 "$log"
    fi
  elif [ "$status" -eq 0 ]; then
    passed=$((passed+1)); echo "drill $d: PASS"
  else
    failed=$((failed+1)); echo "drill $d: FAIL (see $log)"; tail -30 "$log"
  fi
  # The drill starts what it stopped, even when it fails; should it have died half-way, start them here.
  case $d in rabbitmq|postgres) "$ROOT/deploy/local/infra.sh" start "$d" || echo "drill $d: could not start $d again" ;; esac
  # A drill that killed or restarted something leaves it running again; make sure all are ready before the next.
  for entry in "${SERVICES[@]}"; do port=${entry##*:}; for _ in $(seq 1 60); do curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && break; sleep 1; done; done
done
echo "DRILLS: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
