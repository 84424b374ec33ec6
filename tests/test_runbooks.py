"""Every rule names a runbook that exists, and runbooks have the sections people rely on."""

from __future__ import annotations

from pathlib import Path

from perfguard.domain.thresholds import RULE

RUNBOOKS = Path(__file__).resolve().parents[1] / "runbooks"
SECTIONS = ("## Symptoms", "## Diagnose", "## Optimize", "## Escalate", "## Remediate")


def test_the_threshold_rule_has_a_runbook() -> None:
    assert (RUNBOOKS / f"{RULE}.md").is_file()


def test_every_runbook_has_the_standard_sections() -> None:
    books = sorted(RUNBOOKS.glob("*.md"))
    assert books
    for book in books:
        text = book.read_text(encoding="utf-8")
        missing = [section for section in SECTIONS if section not in text]
        assert not missing, f"{book.name} lacks {missing}"
