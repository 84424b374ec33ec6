"""Runbook quoting: the first steps of Diagnose and Optimize as one line each, links, and the loader."""

from __future__ import annotations

from pathlib import Path

from perfguard.notify.runbook import (
    Guidance,
    RunbookLibrary,
    default_runbooks_dir,
    first_steps,
    load_runbook,
    optimizations,
    runbook_link,
)
from tests.notify.conftest import alert_event

LATENCY = (default_runbooks_dir() / "p95_api_latency.md").read_text(encoding="utf-8")


def test_first_steps_of_the_latency_runbook_are_its_numbered_items_without_code() -> None:
    assert first_steps(LATENCY) == [
        "Which endpoints, since when",
        "Per-minute shape of the slow endpoint over the last hour, against a day and a week ago"
        " (`baseline.day_ago.p95_change` > 0.5 means 50 % slower than yesterday at the same time)",
        "Which tag carries it (release, platform, canister, method): compare slices of the raw records",
    ]


def test_optimizations_are_the_optimize_bullets_in_plain_words() -> None:
    steps = optimizations(LATENCY, limit=2)
    assert steps == [
        "A deploy started it (the slow slice is one release): roll back first, then bisect.",
        "Canister-backed endpoint: look for update calls that only read (make them queries: ~10x faster),"
        " sequential awaits to other canisters (issue them concurrently), and instruction counts near the limits.",
    ]


def test_code_blocks_nested_lists_and_other_sections_are_left_out() -> None:
    markdown = """# T
## Symptoms
- not this
## Diagnose (exact calls)
Intro paragraph.

1. First:
   ```bash
   curl -s "$URL/secret-looking?x=1"
   - not an item inside code
   ```
   - nested detail, not a step
2. Second
   continued here
* Third
## Optimize
+ Only
"""
    assert first_steps(markdown, limit=5) == ["First", "Second continued here", "Third"]
    assert optimizations(markdown) == ["Only"]
    assert first_steps("# no sections") == [] and optimizations("## Diagnose\ntext only") == []


def test_a_step_is_cut_to_one_short_line() -> None:
    [step] = first_steps("## Diagnose\n- " + "word " * 200)
    assert len(step) <= 300 and step.endswith("…") and "\n" not in step


def test_links_point_into_the_repository_or_fall_back_to_the_path() -> None:
    path = "runbooks/p95_api_latency.md"
    assert runbook_link(path, "https://git.example.com/r/blob/main/") == f"https://git.example.com/r/blob/main/{path}"
    assert runbook_link(path, "") == path


def test_load_runbook_reads_by_rule_and_refuses_paths(tmp_path: Path) -> None:
    (tmp_path / "r1.md").write_text("## Diagnose\n1. Look", encoding="utf-8")
    assert load_runbook("r1", tmp_path) == "## Diagnose\n1. Look"
    assert load_runbook("missing", tmp_path) is None
    assert load_runbook("../r1", tmp_path / "sub") is None and load_runbook("", tmp_path) is None


def test_the_library_uses_the_runbook_the_context_names_and_keeps_the_link_when_it_is_missing(tmp_path: Path) -> None:
    library = RunbookLibrary(tmp_path, "https://x.test")
    (tmp_path / "shared.md").write_text("## Diagnose\n1. Shared step\n## Optimize\n- Cache", encoding="utf-8")
    named = alert_event(context={"runbook": "runbooks/shared.md"})
    assert library.for_event(named) == Guidance("https://x.test/runbooks/shared.md", ("Shared step",), ("Cache",))
    assert library.for_event(alert_event(context={})) == Guidance("https://x.test/runbooks/p95_api_latency.md")
