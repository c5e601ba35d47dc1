"""Docs as tests: the integrator guide cannot fall behind the hook specs."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from tendero import PROJECT_NAME, hookspecs

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"
SPEC_MARK = f"{PROJECT_NAME}_spec"  # the attribute pluggy's HookspecMarker sets


def hook_names() -> set[str]:
    return {
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, SPEC_MARK)
    }


def headings() -> list[str]:
    return [
        m.group(2).strip().strip("`")
        for m in re.finditer(r"^(#{2,4})\s+(.+)$", GUIDE.read_text(), re.MULTILINE)
    ]


def test_the_specs_are_found() -> None:
    assert {"startup", "register_exporters", "agent_graph", "order_created"} <= hook_names()


def test_every_hook_has_a_section_in_the_guide() -> None:
    missing = hook_names() - set(headings())
    assert not missing, f"docs/plugins.md has no section for: {', '.join(sorted(missing))}"


def test_every_hook_section_names_a_real_hook() -> None:
    text = GUIDE.read_text()
    reference = text[text.index("## Hook reference") :]
    reference = reference[: reference.index("\n## ", 1)]
    sections = re.findall(r"^####\s+(\S+)$", reference, re.MULTILINE)
    assert set(sections) == hook_names()


def test_every_hook_spec_has_a_docstring_with_its_calling_convention() -> None:
    conventions = ("all results collected", "firstresult", "notification", "lifecycle")
    for name in hook_names():
        doc = (getattr(hookspecs, name).__doc__ or "").lower()
        assert any(c in doc for c in conventions), f"{name}: docstring lacks its calling convention"


SECURITY = GUIDE.parent.parent / "SECURITY.md"


def security_references() -> list[tuple[str, list[str]]]:
    """Every ``tests/...`` path SECURITY.md names, with the test names given for it:
    ``path::name`` or ``path`` followed by ``(`name`, `name`)``."""
    refs = []
    pattern = r"`(tests/[\w/.]+)(?:::(\w+))?`(?: \(([^)]*)\))?"
    for path, name, listed in re.findall(pattern, SECURITY.read_text()):
        names = [name] if name else re.findall(r"`(test_\w+)`", listed)
        refs.append((path, names))
    return refs


def test_security_md_maps_threats_to_tests_that_exist() -> None:
    root = SECURITY.parent
    refs = security_references()
    assert len(refs) > 40, "SECURITY.md names the test behind each defence"
    problems = []
    for path, names in refs:
        target = root / path
        if not target.exists():
            problems.append(f"{path} does not exist")
            continue
        if target.is_dir():
            continue
        source = target.read_text()
        problems += [
            f"{path} has no test {name}"
            for name in names
            if not re.search(rf"^(async )?def {name}\(", source, re.MULTILINE)
        ]
    assert not problems, "SECURITY.md names tests that are not there:\n" + "\n".join(problems)
