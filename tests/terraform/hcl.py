"""terraform/*.tf read with python-hcl2, and `terraform` itself where it is installed.

python-hcl2 returns expressions unevaluated (`"${local.tables}"`), which is enough to check how resources
are wired. Values derived from the repository's files are evaluated by `terraform console` on a copy of
terraform/locals.tf, which references nothing but files, so it needs no provider (local-standins.md, §6).
The functions' environments and secret mounts are evaluated the same way from the locals blocks of
functions.tf and secrets.tf plus variables.tf and a tfvars file, with STAND_INS for the few resource
attributes they read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"
OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
TERRAFORM_TIMEOUT_S = 120


def load_file(path: Path) -> dict[str, Any]:
    """One .tf (or .tfvars) file as python-hcl2 8.x serialises it with the project's options."""
    with path.open(encoding="utf-8") as handle:
        return dict(hcl2.load(handle, serialization_options=OPTIONS))


@dataclass(frozen=True)
class Config:
    """Every block of a Terraform folder, merged across its files."""

    resources: dict[str, dict[str, dict[str, Any]]]  # type -> name -> body
    data: dict[str, dict[str, dict[str, Any]]]
    locals: dict[str, Any]
    variables: dict[str, dict[str, Any]]
    files: dict[str, dict[str, Any]]  # file name -> parsed file

    def resource(self, type_: str, name: str) -> dict[str, Any]:
        """One resource's body; a KeyError names what is missing."""
        try:
            return self.resources[type_][name]
        except KeyError:
            raise KeyError(f"terraform/ has no resource {type_}.{name}") from None

    def all_resources(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(type, name, body) of every resource."""
        for type_, named in self.resources.items():
            for name, body in named.items():
                yield type_, name, body


def load_config(folder: Path = TERRAFORM_DIR) -> Config:
    """Parse every .tf file of `folder`."""
    resources: dict[str, dict[str, dict[str, Any]]] = {}
    data: dict[str, dict[str, dict[str, Any]]] = {}
    local_values: dict[str, Any] = {}
    variables: dict[str, dict[str, Any]] = {}
    files: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.tf")):
        doc = files[path.name] = load_file(path)
        _merge_blocks(resources, doc.get("resource", []), path.name)
        _merge_blocks(data, doc.get("data", []), path.name)
        for block in doc.get("locals", []):
            _merge_unique(local_values, block, f"local value in {path.name}")
        for block in doc.get("variable", []):
            _merge_unique(variables, block, f"variable in {path.name}")
    return Config(resources, data, local_values, variables, files)


def _merge_blocks(into: dict[str, dict[str, dict[str, Any]]], blocks: list[dict[str, Any]], source: str) -> None:
    for block in blocks:
        for type_, named in block.items():
            _merge_unique(into.setdefault(type_, {}), named, f"{type_} in {source}")


def _merge_unique(into: dict[str, Any], items: Mapping[str, Any], what: str) -> None:
    for key, value in items.items():
        if key in into:
            raise ValueError(f"duplicate {what}: {key}")
        into[key] = value


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (path, scalar) in a parsed block, e.g. ("service_config[0].ingress_settings", "ALLOW_ALL")."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, f"{path}[{index}]")
    else:
        yield path, value


def single_block(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A nested block that must appear exactly once (python-hcl2 gives nested blocks as lists)."""
    blocks = body.get(name)
    assert isinstance(blocks, list) and len(blocks) == 1, f"expected one {name} block, got {blocks!r}"
    return dict(blocks[0])


# ---- terraform ------------------------------------------------------------------------------------------------


def terraform_binary() -> str | None:
    """The terraform on PATH, if any."""
    return shutil.which("terraform")


def _environment() -> dict[str, str]:
    """No CLI configuration file is needed (the image points TF_CLI_CONFIG_FILE at a missing one)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CLI_CONFIG_FILE"}
    return env | {"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"}


def run_terraform(args: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run terraform non-interactively; nothing is downloaded."""
    binary = terraform_binary()
    assert binary is not None, "terraform is not on PATH"
    return subprocess.run(
        [binary, *args],
        cwd=cwd,
        env=_environment(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TERRAFORM_TIMEOUT_S,
        check=False,
    )


class ConsoleError(RuntimeError):
    """`terraform console` could not evaluate the expression; the message is terraform's."""


def fake_repo(root: Path, *, topology: str | None = None, schemas_dir: Path | None = None) -> Path:
    """A minimal repository for evaluating terraform/locals.tf: its locals.tf and the files it reads.

    `topology` replaces functions/perfguard/topology.yaml; `schemas_dir` replaces bigquery_schemas/.
    """
    (root / "terraform").mkdir(parents=True)
    shutil.copy2(TERRAFORM_DIR / "locals.tf", root / "terraform" / "locals.tf")
    package = root / "functions" / "perfguard"
    package.mkdir(parents=True)
    topology_text = topology if topology is not None else (REPO / "functions/perfguard/topology.yaml").read_text()
    (package / "topology.yaml").write_text(topology_text, encoding="utf-8")
    shutil.copytree(schemas_dir or REPO / "bigquery_schemas", root / "bigquery_schemas")
    return root


# Resource attributes the locals blocks of functions.tf and secrets.tf read, and what stands in for them where
# no provider exists. A new reference fails `add_module_locals` with its name, to be added here.
STAND_INS = {"google_bigquery_dataset.perfguard.dataset_id": "var.dataset_id"}
_RESOURCE_REFERENCE = re.compile(r"\b(?:google_|terraform_data\.|data\.)[\w.\[\]\"-]*")


def locals_blocks(text: str) -> list[str]:
    """The top-level `locals { ... }` blocks of a `terraform fmt`-formatted file (`locals {` and `}` at column 0)."""
    return re.findall(r"^locals \{\n.*?^\}$", text, flags=re.MULTILINE | re.DOTALL)


def add_module_locals(repo_root: Path, tfvars: str, files: tuple[str, ...] = ("functions.tf", "secrets.tf")) -> Path:
    """Add variables.tf, `tfvars` (as terraform.tfvars) and the locals blocks of `files` to a `fake_repo`.

    Those locals read variables, other locals and the STAND_INS only, so `terraform console` evaluates them
    without a provider, e.g. every function's environment and secret mounts.
    """
    folder = repo_root / "terraform"
    shutil.copy2(TERRAFORM_DIR / "variables.tf", folder / "variables.tf")
    (folder / "terraform.tfvars").write_text(tfvars, encoding="utf-8")
    for name in files:
        text = "\n\n".join(locals_blocks((TERRAFORM_DIR / name).read_text(encoding="utf-8")))
        for reference, stand_in in STAND_INS.items():
            text = text.replace(reference, stand_in)
        unknown = sorted(set(_RESOURCE_REFERENCE.findall(text)))
        assert not unknown, f"the locals of {name} read {unknown}: add a stand-in to tests/terraform/hcl.py STAND_INS"
        (folder / f"locals_of_{name}").write_text(text + "\n", encoding="utf-8")
    return repo_root


def evaluate_locals(repo_root: Path, names: list[str], variables: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The values of `local.<name>` for each name, evaluated by `terraform console` in repo_root/terraform.

    `variables` are passed as `-var name=value` (HCL syntax for lists), over terraform.tfvars if there is one.
    """
    expression = "jsonencode({" + ", ".join(f"{name} = local.{name}" for name in names) + "})\n"
    args = ["console", "-no-color", *(f"-var={name}={value}" for name, value in (variables or {}).items())]
    result = run_terraform(args, cwd=repo_root / "terraform", stdin=expression)
    output = result.stdout.strip()
    # An evaluation error still exits 0: terraform prints it on stderr and "(known after apply)" as the value.
    if result.returncode != 0 or "Error:" in result.stderr or not output.startswith('"'):
        raise ConsoleError(f"{result.stderr.strip()}\n{output}".strip())
    # console prints the JSON text as an HCL string literal, i.e. JSON-quoted once more.
    value = json.loads(json.loads(output))
    assert isinstance(value, dict)
    return value
