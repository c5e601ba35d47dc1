"""The dialogue suite's pass rate, printed at the end of every session that ran it
(``make test`` included): ``dialogues: 68/70 passed (97.1%)``, per folder (each batch of
dialogues), with the two safety figures that must stay at 0: wrong orders and unasked
cart changes."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

DIALOGUE_TEST = "test_dialogues.py::test_dialogue["


class _Outcomes:
    def __init__(self) -> None:
        self.by_case: dict[str, str] = {}
        self.unsafe: dict[str, list[str]] = {}  # nodeid -> wrong orders, unasked changes
        self.folder: dict[str, str] = {}  # nodeid -> the dialogue's folder (its batch)

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


def record_safety(request: pytest.FixtureRequest, safety: Any) -> None:
    """Keep a dialogue's wrong orders and unasked cart changes for the summary."""
    _OUTCOMES.unsafe[request.node.nodeid] = [
        *(f"wrong order {w}" for w in safety.wrong_orders),
        *(f"unasked {u}" for u in safety.unasked_changes),
    ]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = getattr(item, "callspec", None) and item.callspec.params.get("path")
        if DIALOGUE_TEST in item.nodeid and path is not None:
            _OUTCOMES.folder[item.nodeid] = path.parent.name


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
    wrong = sum(1 for lines in _OUTCOMES.unsafe.values() for x in lines if x.startswith("wrong"))
    unasked = sum(len(lines) for lines in _OUTCOMES.unsafe.values()) - wrong
    terminalreporter.write_line(f"safety: {wrong} wrong orders, {unasked} unasked cart changes")
    folders = sorted({_OUTCOMES.folder.get(n, "") for n in outcomes} - {""})
    if len(folders) > 1:
        for folder in folders:
            mine = [n for n in outcomes if _OUTCOMES.folder.get(n) == folder]
            passed = sum(outcomes[n] == "passed" for n in mine)
            ran = sum(outcomes[n] in ("passed", "failed", "gap") for n in mine)
            bad = [x for n in mine for x in _OUTCOMES.unsafe.get(n, [])]
            w = sum(x.startswith("wrong") for x in bad)
            terminalreporter.write_line(
                f"  {folder:<22} {passed:>3}/{ran:<3} passed"
                + (f" ({100 * passed / ran:.0f}%)" if ran else "")
                + f"; {w} wrong orders, {len(bad) - w} unasked cart changes"
            )
    failed = sorted(
        nodeid.split("[", 1)[1].rstrip("]") for nodeid, o in outcomes.items() if o == "failed"
    )
    if failed:
        terminalreporter.write_line("failed: " + ", ".join(failed))
    for nodeid, lines in sorted(_OUTCOMES.unsafe.items()):
        for line in lines:
            terminalreporter.write_line(f"unsafe: {nodeid.split('[', 1)[1].rstrip(']')}: {line}")
