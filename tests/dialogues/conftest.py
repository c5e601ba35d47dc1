"""The dialogue suite's pass rate, printed at the end of every session that ran it
(``make test`` included): ``dialogues: 68/70 passed (97.1%)``."""

from __future__ import annotations

from collections import Counter

import pytest

DIALOGUE_TEST = "test_dialogues.py::test_dialogue["


class _Outcomes:
    def __init__(self) -> None:
        self.by_case: dict[str, str] = {}

    def record(self, report: pytest.TestReport) -> None:
        if DIALOGUE_TEST not in report.nodeid:
            return
        if report.when == "call" or report.outcome != "passed":
            # A failing set-up or teardown counts against the dialogue too.
            previous = self.by_case.get(report.nodeid)
            if previous != "failed":
                gap = hasattr(report, "wasxfail")
                self.by_case[report.nodeid] = "gap" if gap else report.outcome


_OUTCOMES = _Outcomes()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _OUTCOMES.record(report)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    outcomes = _OUTCOMES.by_case
    if not outcomes:
        return
    counts = Counter(outcomes.values())
    ran = counts["passed"] + counts["failed"] + counts["gap"]
    rate = 100 * counts["passed"] / ran if ran else 0.0
    engines = Counter(
        nodeid.rsplit("-", 1)[-1].rstrip("]")
        for nodeid, outcome in outcomes.items()
        if outcome != "skipped"
    )
    detail = ", ".join(f"{n} on {engine}" for engine, n in sorted(engines.items()))
    line = f"dialogues: {counts['passed']}/{ran} passed ({rate:.1f}%)"
    if detail:
        line += f" — {detail}"
    if counts["gap"]:
        line += f"; {counts['gap']} known gaps (marked known_gap in their files)"
    if counts["skipped"]:
        line += f"; {counts['skipped']} skipped"
    terminalreporter.write_sep("=", "dialogue suite")
    terminalreporter.write_line(line)
    failed = sorted(
        nodeid.split("[", 1)[1].rstrip("]") for nodeid, o in outcomes.items() if o == "failed"
    )
    if failed:
        terminalreporter.write_line("failed: " + ", ".join(failed))
