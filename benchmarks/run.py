"""`make bench`: run every benchmark, print one table and write the figures as JSON.

Each benchmark is a script in this folder that prints, as its LAST line on stdout, one
JSON object ``{"benchmark": name, "figures": {label: value, ...}}``; everything else it
prints goes to stderr. Pass names to run a subset: ``make bench BENCH_ARGS="demo_orders"``.
Each script's own arguments can be given after ``--``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# name -> default arguments (kept small enough that `make bench` ends in minutes)
BENCHMARKS: dict[str, list[str]] = {
    "demo_orders": ["200000"],
    "webhook_ack": ["--requests", "3000", "--concurrency", "32"],
    "agent_turns": ["--conversations", "60", "--idle", "600", "--e2e-conversations", "16"],
    "orders_page": ["--orders", "200000", "--repeat", "10"],
}


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
        proc = subprocess.run(
            [sys.executable, str(HERE / f"{name}.py"), *args], stdout=subprocess.PIPE, text=True
        )
        if proc.returncode != 0:
            print(f"{name} failed with exit code {proc.returncode}", file=sys.stderr)
            return proc.returncode
        last = proc.stdout.strip().splitlines()[-1]
        result = json.loads(last)
        result["seconds"] = round(time.perf_counter() - started, 1)
        results.append(result)

    width = max(len(label) for r in results for label in r["figures"]) + 2
    print()
    for r in results:
        print(f"{r['benchmark']}  ({r['seconds']} s)")
        for label, value in r["figures"].items():
            print(f"  {label:<{width}} {value}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {out / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
