"""cloudbuild.yaml: lint and test as the README says, check the Terraform formatting, package the source, then
plan (manual trigger) or apply (push to main). The package step's own script is run here on a copy of the tree.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import yaml

from tests.terraform.hcl import REPO, load_config

CLOUDBUILD = REPO / "cloudbuild.yaml"


def _cloudbuild() -> dict[str, Any]:
    data = yaml.safe_load(CLOUDBUILD.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _step(build: dict[str, Any], step_id: str) -> dict[str, Any]:
    steps = {step.get("id"): step for step in build["steps"]}
    assert step_id in steps, f"cloudbuild.yaml has no step {step_id}"
    return dict(steps[step_id])


def _step_text(step: dict[str, Any]) -> str:
    return " ".join([step.get("entrypoint", ""), *step.get("args", []), step.get("script", "")])


def test_cloudbuild_tests_checks_packages_then_plans_or_applies() -> None:
    build = _cloudbuild()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert re.search(r"^make test\b", readme, re.M), "the README's test command changed: update cloudbuild.yaml"
    assert re.search(r"^\s*make test\s*$", _step_text(_step(build, "test")), re.M)
    fmt = _step(build, "fmt")
    assert fmt["args"] == ["fmt", "-check", "-recursive", "terraform"] and "terraform" in fmt["name"]
    assert "function-source.zip" in _step_text(_step(build, "package"))
    deploy = _step_text(_step(build, "terraform"))
    assert "terraform plan -out=tfplan" in deploy
    assert re.search(r'if \[ "\$TF_ACTION" = apply \]; then\s+terraform apply tfplan', deploy)
    assert "TF_ACTION=${_TF_ACTION}" in _step(build, "terraform")["env"]
    assert build["substitutions"]["_TF_ACTION"] == "plan", "a build started by hand must only plan"
    order = [step["id"] for step in build["steps"]]
    assert order.index("test") < order.index("terraform") and order.index("package") < order.index("terraform")
    assert load_config().variables["source_archive"]["default"] == "build/function-source.zip", "terraform reads it"


def test_the_package_step_builds_a_deterministic_archive_with_requirements_at_its_root(tmp_path: Path) -> None:
    for name in ("functions", "bigquery_schemas", "runbooks"):
        shutil.copytree(REPO / name, tmp_path / name)
    shutil.copy2(REPO / "requirements.txt", tmp_path / "requirements.txt")
    (tmp_path / "functions" / "perfguard" / "__pycache__").mkdir(exist_ok=True)
    (tmp_path / "functions" / "perfguard" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"junk")
    script = _step(_cloudbuild(), "package")["script"]
    archive = tmp_path / "build" / "function-source.zip"

    def package() -> bytes:
        subprocess.run([sys.executable, "-c", script], cwd=tmp_path, check=True, capture_output=True, timeout=60)
        return archive.read_bytes()

    first = package()
    assert package() == first, "the archive must be byte-identical for an unchanged tree"
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
    assert {"main.py", "requirements.txt", "perfguard/__init__.py", "perfguard/topology.yaml"} <= names
    assert {"bigquery_schemas/layout.yaml", "bigquery_schemas/performance_metrics.json"} <= names
    assert any(name.startswith("bigquery_schemas/views/") for name in names)
    assert "runbooks/p95_api_latency.md" in names
    assert any(name.startswith("perfguard/queries/") and name.endswith(".sql") for name in names)
    assert not [name for name in names if "__pycache__" in name or ".egg-info" in name]
