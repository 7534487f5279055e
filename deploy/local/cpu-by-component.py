#!/usr/bin/env python3
"""CPU by component, once a second, while something runs: the services, PostgreSQL, RabbitMQ, the benchmark.

    python3 deploy/local/cpu-by-component.py          # Ctrl-C to stop

Each line: percent of one core per component (100 per core: 200 is all of a two-core machine), then the outbox backlogs
(ingestion, rules, delivery), the deliveries pending in the sender, and PostgreSQL commits per second.
Reads /proc and asks psql (PGPASSWORD from the environment, default "automations"). Used for the CPU profile in
docs/performance.md: it shows where the machine's cores go per event.
"""
import os, subprocess, time

HZ = os.sysconf("SC_CLK_TCK")
GROUPS = [("Automations.Ingestion.dll", "ingestion"), ("Automations.Rules.dll", "rules"), ("Automations.WebhookSender.dll", "sender"),
          ("Automations.Benchmarks", "bench"), ("postgres", "postgres"), ("beam.smp", "rabbitmq"),
          ("Automations.Api.dll", "api+launch"), ("Automations.LaunchEnqueuer.dll", "api+launch")]
NAMES = ["ingestion", "rules", "sender", "postgres", "rabbitmq", "bench", "api+launch", "other"]
SQL = ("select (select count(*) from ingestion.outbox)||' '||(select count(*) from rules.outbox)||' '||"
       "(select count(*) from delivery.outbox)||' '||(select count(*) from delivery.deliveries where status='pending')||' '||"
       "(select xact_commit from pg_stat_database where datname=current_database())")
cmdlines = {}


def group(pid):
    if pid not in cmdlines:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdlines[pid] = f.read().replace(b"\0", b" ").decode(errors="replace")
    return next((g for key, g in GROUPS if key in cmdlines[pid]), "other")


def snapshot():
    ticks = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks[pid] = (group(pid), int(fields[11]) + int(fields[12]))
        except OSError:
            pass
    return ticks


def database():
    env = {**os.environ, "PGPASSWORD": os.environ.get("PGPASSWORD", "automations")}
    try:
        out = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "automations", "-d", "automations", "-tAc", SQL],
                             capture_output=True, text=True, env=env, timeout=5).stdout.split()
        return [int(x) for x in out] if len(out) == 5 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


print("time     " + " ".join(f"{n:>10}" for n in NAMES) + " | outbox ing/rules/delivery, pending deliveries, commits/s", flush=True)
prev, prev_t, prev_commits = snapshot(), time.time(), None
while True:
    time.sleep(1)
    cur, now = snapshot(), time.time()
    used = dict.fromkeys(NAMES, 0)
    for pid, (g, t) in cur.items():
        used[g] += t - prev.get(pid, (g, t))[1]
    db = database()
    commits = "" if db is None or prev_commits is None else f"{(db[4] - prev_commits) / (now - prev_t):.0f}"
    backlog = "?" if db is None else " ".join(map(str, db[:4]))
    print(time.strftime("%H:%M:%S ") + " ".join(f"{used[n] * 100 / HZ / (now - prev_t):>10.0f}" for n in NAMES) + f" | {backlog} {commits}", flush=True)
    prev_commits = db[4] if db else None
    prev, prev_t = cur, now
