"""Least-privilege and no-secret rules over the parsed terraform/ configuration.

Each function returns one sentence per violation, naming the resource, so a test can assert `== []` and
a failure says what to fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tests.terraform.hcl import Config

PRIMITIVE_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
# Roles that administer a dataset (its access, its deletion), wherever they are granted.
ADMIN_ROLES = frozenset({"roles/bigquery.admin", "roles/bigquery.dataOwner"})
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
# The only HTTP functions anyone may invoke: their callers cannot send a Google identity token, and each
# authenticates every request itself. Adding one here is a security review, not a refactoring.
PUBLIC_FUNCTIONS = {
    "record_performance_metric": "a perfguard API key with the ingest scope on every request",
    "slack_actions": "Slack's request signature (slack_signing_secret) on every request",
}
PUBLIC_FOR_EACH = "${local.public_http_functions}"
PUBLIC_SERVICE = "${google_cloudfunctions2_function.http[each.key].service_config[0].service}"
_TOSET_LITERAL = re.compile(r"\$\{toset\((\[[^\]]*\])\)\}")

# The only dataset-wide grants, each with its reason in terraform/iam.tf.
ALLOWED_DATASET_GRANTS = frozenset(
    {
        ("ingest_staging", "roles/bigquery.dataEditor"),  # BigQueryWarehouse creates staging tables
        ("firebase_export_reader", "roles/bigquery.dataViewer"),  # Firebase's datasets, read-only
    }
)
DATASET_IAM_TYPES = (
    "google_bigquery_dataset_iam_member",
    "google_bigquery_dataset_iam_binding",
    "google_bigquery_dataset_iam_policy",
    "google_bigquery_dataset_access",
)
# Data roles belong on the table, topic or secret they concern, never on the whole project.
PROJECT_WIDE_FORBIDDEN = re.compile(r"roles/(bigquery\.data\w+|pubsub\.\w+|secretmanager\.\w+|storage\.object\w+)")
ROLE = re.compile(r"roles/[A-Za-z0-9_.]+")

SECRET_PATTERNS = {
    "Slack token": re.compile(r"xox[abposr]-[0-9A-Za-z-]{10,}"),
    "Slack webhook URL": re.compile(r"hooks\.slack\.com/services/T[0-9A-Z]+/B[0-9A-Z]+/[0-9A-Za-z]+"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "Google API key": re.compile(r"AIza[0-9A-Za-z_-]{35}"),
}


def strings(value: Any) -> Iterator[str]:
    """Every string in a parsed block, keys included (roles can be map keys, as in iam.tf's table_roles)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def role_problems(config: Config) -> list[str]:
    """No primitive or BigQuery admin role anywhere; dataset-wide grants only the allowed ones."""
    problems = []
    everything = [*((f"{t}.{n}", body) for t, n, body in config.all_resources()), *config.locals.items()]
    for where, body in everything:
        for role in {role for text in strings(body) for role in ROLE.findall(text)}:
            if role in PRIMITIVE_ROLES:
                problems.append(f"{where} grants the primitive role {role}")
            if role in ADMIN_ROLES:
                problems.append(f"{where} grants the admin role {role}")
    for type_ in DATASET_IAM_TYPES:
        for name, body in config.resources.get(type_, {}).items():
            if (name, body.get("role")) not in ALLOWED_DATASET_GRANTS:
                problems.append(f"{type_}.{name} grants {body.get('role')} on a whole dataset; grant it per table")
    for name, body in config.resources.get("google_bigquery_dataset", {}).items():
        if "access" in body:
            problems.append(f"google_bigquery_dataset.{name} sets dataset-wide access blocks")
    return problems


def project_role_problems(config: Config) -> list[str]:
    """Project-level grants are additive members only, and never a data role."""
    problems = [
        f"{type_}.{name} is authoritative and would remove grants made outside terraform/"
        for type_ in ("google_project_iam_binding", "google_project_iam_policy")
        for name in config.resources.get(type_, {})
    ]
    project_level = [
        (f"google_project_iam_member.{name}", body)
        for name, body in config.resources.get("google_project_iam_member", {}).items()
    ]
    project_level.append(("local.project_roles", config.locals.get("project_roles", {})))
    for where, body in project_level:
        for role in {role for text in strings(body) for role in ROLE.findall(text)}:
            if PROJECT_WIDE_FORBIDDEN.fullmatch(role):
                problems.append(f"{where} grants {role} on the whole project; grant it on the resource")
    return problems


def public_http_functions(config: Config) -> set[str] | None:
    """The names in `local.public_http_functions = toset([...])`; None when it is not such a literal."""
    match = _TOSET_LITERAL.fullmatch(str(config.locals.get("public_http_functions", "")))
    if match is None:
        return None
    names = json.loads(match.group(1))
    return {str(name) for name in names} if isinstance(names, list) else None


def public_access_problems(config: Config) -> list[str]:
    """allUsers / allAuthenticatedUsers only as invoker of the allowlisted, self-authenticating functions.

    The allowlist is local.public_http_functions, which must name exactly PUBLIC_FUNCTIONS (HTTP functions of
    locals.tf); the one public grant is a run.invoker member for each of them, and nothing else anywhere
    names a public member.
    """
    problems = []
    listed = public_http_functions(config)
    if listed is None:
        problems.append("local.public_http_functions must be a literal toset([...]) of function names")
        listed = set()
    allowed = ", ".join(sorted(PUBLIC_FUNCTIONS))
    for name in sorted(listed - set(PUBLIC_FUNCTIONS)):
        problems.append(f"local.public_http_functions makes {name} public; only {allowed} authenticate every request")
    for name in sorted(set(PUBLIC_FUNCTIONS) - listed):
        problems.append(f"local.public_http_functions lacks {name} ({PUBLIC_FUNCTIONS[name]})")
    for name in sorted(listed - set(config.locals.get("http_functions", {}))):
        problems.append(f"local.public_http_functions names {name}, which is not an HTTP function of locals.tf")
    for type_, name, body in config.all_resources():
        if not _names_public_member(body):
            continue
        where = f"{type_}.{name}"
        if type_ != "google_cloud_run_v2_service_iam_member" or body.get("role") != "roles/run.invoker":
            problems.append(f"{where} makes something other than a function invocation public")
        if body.get("for_each") != PUBLIC_FOR_EACH or "count" in body:
            problems.append(f"{where} is public for {body.get('for_each')}, not for local.public_http_functions")
        if body.get("name") != PUBLIC_SERVICE:
            problems.append(f"{where} is public on {body.get('name')}, not on each of local.public_http_functions")
    # A public member held in a local or a variable could reach any resource unseen by the checks above.
    for where, body in [
        *((f"local.{name}", value) for name, value in config.locals.items()),
        *((f"var.{name}", spec.get("default")) for name, spec in config.variables.items()),
    ]:
        if _names_public_member(body):
            problems.append(f"{where} holds a public member; write it only in the public invoker resource")
    return problems


def _names_public_member(body: Any) -> bool:
    return any(member in text for text in strings(body) for member in PUBLIC_MEMBERS)


def secret_problems(paths: list[Path]) -> list[str]:
    """No secret value in the deployment files."""
    problems = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for what, pattern in SECRET_PATTERNS.items():
            if pattern.search(text):
                problems.append(f"{path.name} contains a {what}")
    return problems
