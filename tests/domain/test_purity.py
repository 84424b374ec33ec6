"""The domain is pure: no I/O, clock, environment or adapter imports (DESIGN.md), checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import perfguard.domain

DOMAIN_DIR = Path(perfguard.domain.__file__).parent
FORBIDDEN_MODULES = (
    "os",
    "sys",
    "time",
    "socket",
    "http",
    "urllib",
    "urllib3",
    "requests",
    "httpx",
    "subprocess",
    "duckdb",
    "google",
    "flask",
    "werkzeug",
    "functions_framework",
    "perfguard.warehouse",
    "perfguard.bus",
    "perfguard.api",
    "perfguard.local",
    "perfguard.runtime",
    "perfguard.settings",
)
# Reading the clock or the environment, by the module-qualified name the access resolves to.
FORBIDDEN_ACCESSES = frozenset(
    {
        "datetime.datetime.now",
        "datetime.datetime.utcnow",
        "datetime.datetime.today",
        "datetime.date.today",
        "time.time",
        "time.time_ns",
        "time.monotonic",
        "time.perf_counter",
        "os.environ",
        "os.getenv",
    }
)
# Attribute names that read the clock whatever object they are reached through.
CLOCK_ATTRIBUTES = frozenset({"now", "utcnow", "time_ns"})
# Builtins that do I/O.
IO_BUILTINS = frozenset({"open", "input"})


def is_forbidden_module(name: str) -> bool:
    return any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN_MODULES)


def absolute_module(node: ast.ImportFrom, package: str) -> str:
    if node.level == 0:
        return node.module or ""
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imported_names(tree: ast.AST, package: str) -> dict[str, str]:
    """Local name -> the module or object it is bound to (`import datetime as dt` gives dt -> datetime)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                # `import a.b` binds `a`; `import a.b as c` binds `c` to a.b
                top = alias.name.split(".")[0]
                names[alias.asname or top] = alias.name if alias.asname else top
        elif isinstance(node, ast.ImportFrom):
            module = absolute_module(node, package)
            for alias in node.names:
                names[alias.asname or alias.name] = f"{module}.{alias.name}"
    return names


def dotted(node: ast.expr) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def violations(source: str, package: str = "perfguard.domain") -> list[str]:
    """Every forbidden import and clock/environment access in `source`, as readable lines."""
    tree = ast.parse(source)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names if is_forbidden_module(a.name)]
        elif isinstance(node, ast.ImportFrom):
            module = absolute_module(node, package)
            targets = [module] + [f"{module}.{a.name}" for a in node.names]
            if any(is_forbidden_module(target) for target in targets):
                found.append(f"line {node.lineno}: from {module} import {', '.join(a.name for a in node.names)}")
    names = imported_names(tree, package)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in IO_BUILTINS:
            found.append(f"line {node.lineno}: {node.func.id}()")
        if not isinstance(node, ast.Attribute):
            continue
        path = dotted(node)
        resolved = ".".join([names.get(path[0], path[0]), *path[1:]]) if path else None
        if node.attr in CLOCK_ATTRIBUTES or resolved in FORBIDDEN_ACCESSES:
            found.append(f"line {node.lineno}: {resolved or node.attr}")
    return found


def domain_modules() -> list[Path]:
    return sorted(DOMAIN_DIR.rglob("*.py"))


def test_the_domain_has_modules_to_check() -> None:
    names = {path.stem for path in domain_modules()}
    assert {"validation", "histogram", "summary", "thresholds", "kpi", "scrub", "timestamps"} <= names


@pytest.mark.parametrize("path", domain_modules(), ids=lambda path: str(path.relative_to(DOMAIN_DIR)))
def test_domain_module_is_pure(path: Path) -> None:
    package = ".".join(["perfguard", "domain", *path.parent.relative_to(DOMAIN_DIR).parts])
    assert violations(path.read_text(encoding="utf-8"), package) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import os", ["line 1: import os"]),
        ("import os.path", ["line 1: import os.path"]),
        ("import time as clock", ["line 1: import time"]),
        ("from urllib.parse import quote", ["line 1: from urllib.parse import quote"]),
        ("from perfguard.warehouse.port import Warehouse", ["line 1: from perfguard.warehouse.port import Warehouse"]),
        ("from perfguard import settings", ["line 1: from perfguard import settings"]),
        ("from .. import runtime", ["line 1: from perfguard import runtime"]),
        ("from ..api import params", ["line 1: from perfguard.api import params"]),
        ("import google.cloud.bigquery", ["line 1: import google.cloud.bigquery"]),
        ("import datetime as dt\nnow = dt.datetime.now(dt.UTC)", ["line 2: datetime.datetime.now"]),
        ("from datetime import datetime\nx = datetime.utcnow()", ["line 2: datetime.datetime.utcnow"]),
        ("from datetime import date\nx = date.today()", ["line 2: datetime.date.today"]),
        ("def f(clock):\n    return clock.now()", ["line 2: clock.now"]),
        ("text = open('rules.yaml').read()", ["line 1: open()"]),
    ],
)
def test_checker_finds_forbidden_imports_and_clock_reads(source: str, expected: list[str]) -> None:
    assert violations(source) == expected


def test_checker_finds_environment_reads_through_an_alias() -> None:
    assert violations("import os as o\nx = o.environ['A']") == ["line 1: import os", "line 2: os.environ"]


@pytest.mark.parametrize(
    "source",
    [
        "import datetime as dt\nx = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)",
        "import math\nfrom collections import Counter",
        "from perfguard.domain.histogram import bucket_of\nfrom perfguard.errors import ValidationError",
        "from . import histogram",
        "def f(now):\n    return now + 1",
        "import datetime as dt\nt = dt.time(12, 30)",
    ],
)
def test_checker_accepts_pure_code(source: str) -> None:
    assert violations(source) == []
