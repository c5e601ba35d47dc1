"""The soak benchmark (`make soak`) in small: the same script, the real `tendero serve`,
about 20 seconds of load, so the soak code cannot rot between full runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOAK = ROOT / "benchmarks" / "soak.py"


@pytest.mark.slow
def test_short_soak_answers_every_message_once_and_passes(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            str(SOAK),
            "--conversations",
            "90",
            "--minutes",
            "0.33",
            "--order-every",
            "15",
            "--scripts",
            "2",
            "--think",
            "0.5",
            "--sample-every",
            "2",
            # Twenty seconds cannot tell a leak from warm-up, nor drift from the other
            # work on a shared machine: the full run judges memory and latency.
            "--max-rss-slope",
            "60",
            "--p99-slack",
            "5",
            "--results",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=280,
        cwd=ROOT,
    )
    last = run.stdout.strip().splitlines()[-1]
    result = json.loads(last)
    figures = result["figures"]
    assert result["benchmark"] == "soak"
    failed = [label for label, ok in figures["checks"].items() if not ok]
    assert run.returncode == 0, (failed, run.stderr[-3000:])
    assert figures["passed"] is True
    assert all(figures["checks"].values())
    # Every message in was answered, exactly: as many turns as messages, nothing lost
    # or doubled, one inbox row per message.
    assert figures["conversations"] == 90
    assert figures["messages_in"] == figures["turns"] == figures["inbox_rows"] > 90
    assert figures["lost"] == figures["duplicated"] == 0
    assert figures["unwaited_bodies"] == 0
    assert figures["bodies_out"] > figures["turns"]  # a first turn has the greeting too
    assert figures["orders_created"] == figures["ordering_conversations"] == 6
    assert figures["outbox_by_status"].keys() == {"sent"}
    # The time series was written, one sample every two seconds of load.
    (written,) = tmp_path.glob("soak-*.json")
    series = json.loads(written.read_text())["series"]
    assert len(series) >= 8
    assert {"t", "rss_mb", "p99_ms", "messages_in", "bodies_out", "outbox_backlog"} <= set(
        series[0]
    )
    assert all(sample["rss_mb"] > 50 for sample in series)  # the server's RSS, not ours
    assert "soak figures" in run.stderr and "PASS  no duplicate reply" in run.stderr
