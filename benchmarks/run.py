"""`make bench`: run every benchmark, print one table and write the figures as JSON.

Each benchmark is a script in this folder that prints, as its LAST line on stdout, one
JSON object ``{"benchmark": name, "figures": {label: value, ...}}``; everything else it
prints goes to stderr. Pass names to run a subset: ``make bench BENCH_ARGS="demo_orders"``.
Each script's own arguments can be given after ``--``. ``agent_turns_postgres`` runs
``agent_turns.py`` on the PostgreSQL server of ``TENDERO_BENCH_POSTGRES`` (default: the
local one; it creates a database there and drops it). After every figure, the ones the
issue's goals name are printed again in one table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The PostgreSQL server the PostgreSQL runs create their (dropped) databases on.
POSTGRES = os.environ.get("TENDERO_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
# name -> default arguments (kept small enough that `make bench` ends in minutes)
BENCHMARKS: dict[str, list[str]] = {
    "demo_orders": ["200000"],
    "webhook_ack": ["--requests", "3000", "--concurrency", "32"],
    "agent_turns": [
        "--conversations", "60", "--idle", "10000", "--e2e-conversations", "16",
        "--e2e-concurrency", "1,8",
    ],
    # The same script on PostgreSQL: end to end with one server process, then two.
    "agent_turns_postgres": [
        "--parts", "e2e", "--postgres", POSTGRES, "--workers", "1,2",
        "--e2e-conversations", "24", "--e2e-concurrency", "8",
    ],
    # The panel over HTTP and the CLI export, on SQLite and on PostgreSQL (the PostgreSQL
    # part is reported as skipped when no server answers there).
    "orders_page": [
        "--orders", "200000", "--repeat", "10", "--http", "--export", "csv",
        "--databases", "sqlite,postgres", "--postgres", POSTGRES,
    ],
}  # fmt: skip
# A name that runs another name's script.
SCRIPTS = {"agent_turns_postgres": "agent_turns"}
# The figures of the goals, gathered in one table at the end, each beside its goal
# (or, for a baseline, what it is compared with): (benchmark, figure, goal).
HEADLINE = (
    ("webhook_ack", "baseline_rps", "minimal signed insert, same run"),
    ("webhook_ack", "ingress_rps", ""),
    ("webhook_ack", "ingress_vs_baseline", ">= 0.8"),
    ("webhook_ack", "ingress_p99_ms", "< 50"),
    ("webhook_ack", "app_vs_baseline", "(turns running in the same process)"),
    ("agent_turns", "e2e_c1_turns_per_s", ""),
    ("agent_turns", "e2e_c1_p50_ms", ""),
    ("agent_turns", "e2e_c1_p99_ms", ""),
    ("agent_turns", "e2e_c8_turns_per_s", ">= 300 (stretch 1,000)"),
    ("agent_turns", "e2e_c8_server_cpu_ms_per_turn", ""),
    ("agent_turns", "turn_p99_ms", ""),
    ("agent_turns", "checkpoint_bytes_per_turn", ""),
    ("agent_turns", "idle_conversations", "10,000 in the README's run"),
    ("agent_turns", "idle_rss_after_mb", "< 500"),
    ("agent_turns", "idle_kb_per_conversation", ""),
    ("agent_turns_postgres", "e2e_c8_turns_per_s", ""),
    ("agent_turns_postgres", "e2e_w2_c8_turns_per_s", ""),
    ("agent_turns_postgres", "e2e_w2_vs_w1_c8", ">= 1.7"),
    ("orders_page", "sqlite_http_first_page_p95_ms", "< 100 (at 1,000,000 orders)"),
    ("orders_page", "sqlite_http_status_new_p95_ms", "< 100 (at 1,000,000 orders)"),
    ("orders_page", "sqlite_export_csv_orders_per_second", ""),
    ("orders_page", "sqlite_export_csv_peak_rss_mb", "< 150"),
    ("orders_page", "postgresql_http_first_page_p95_ms", "< 100 (at 1,000,000 orders)"),
    ("orders_page", "postgresql_http_status_new_p95_ms", "< 100 (at 1,000,000 orders)"),
    ("orders_page", "postgresql_export_csv_orders_per_second", ""),
    ("orders_page", "postgresql_export_csv_peak_rss_mb", "< 150"),
)


def main(argv: list[str]) -> int:
    extra: list[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}",
            file=sys.stderr,
        )
        return 2
    results = []
    for name in names:
        args = extra or BENCHMARKS[name]
        print(f"== {name} {' '.join(args)}", file=sys.stderr)
        started = time.perf_counter()
        script = HERE / f"{SCRIPTS.get(name, name)}.py"
        proc = subprocess.run(
            [sys.executable, str(script), *args], stdout=subprocess.PIPE, text=True
        )
        if proc.returncode != 0:
            print(f"{name} failed with exit code {proc.returncode}", file=sys.stderr)
            return proc.returncode
        last = proc.stdout.strip().splitlines()[-1]
        result = json.loads(last)
        result["benchmark"] = name
        result["seconds"] = round(time.perf_counter() - started, 1)
        results.append(result)

    width = max(len(label) for r in results for label in r["figures"]) + 2
    print()
    for r in results:
        print(f"{r['benchmark']}  ({r['seconds']} s)")
        for label, value in r["figures"].items():
            print(f"  {label:<{width}} {value}")
    ran = {r["benchmark"]: r["figures"] for r in results}
    headline = [(f"{b} {f}", ran[b][f], goal) for b, f, goal in HEADLINE if f in ran.get(b, {})]
    if headline:
        label_width = max(len(label) for label, _, _ in headline) + 2
        value_width = max(len(str(value)) for _, value, _ in headline) + 2
        print("\nissue goals (see benchmarks/README.md)")
        print(f"  {'figure':<{label_width}} {'measured':>{value_width}}   goal")
        for label, value, goal in headline:
            print(f"  {label:<{label_width}} {value!s:>{value_width}}   {goal}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {out / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
