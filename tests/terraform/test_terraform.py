"""terraform/ deploys exactly what the code defines, least-privileged, and cloudbuild.yaml builds and ships it.

Offline: python-hcl2 parses every .tf file; `terraform fmt` and `terraform console` (on locals.tf alone, no
provider) run where a terraform binary is on PATH and are skipped with the reason elsewhere.
`terraform validate/plan` need the google provider and a project, so they are not run here.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from perfguard.settings import settings_fields
from tests.terraform import consistency as c
from tests.terraform import policy
from tests.terraform.hcl import (
    REPO,
    TERRAFORM_DIR,
    Config,
    ConsoleError,
    evaluate_locals,
    fake_repo,
    load_config,
    load_file,
    run_terraform,
    single_block,
    terraform_binary,
)

needs_terraform = pytest.mark.skipif(
    terraform_binary() is None,
    reason="terraform is not on PATH (the project's machine image has it; Cloud Build copies it into the "
    "workspace); the python-hcl2 checks of terraform/ still run",
)
MAIN_PY = REPO / "functions" / "main.py"
TOPOLOGY = REPO / "functions" / "perfguard" / "topology.yaml"
SCHEMAS = REPO / "bigquery_schemas"
CLOUDBUILD = REPO / "cloudbuild.yaml"


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config()


@pytest.fixture(scope="module")
def want() -> c.Expected:
    return c.expected(MAIN_PY.read_text(encoding="utf-8"), TOPOLOGY.read_text(encoding="utf-8"), SCHEMAS)


@pytest.fixture(scope="module")
def have(tmp_path_factory: pytest.TempPathFactory) -> c.Deployment:
    if terraform_binary() is None:
        pytest.skip("terraform is not on PATH: cannot evaluate terraform/locals.tf")
    repo = fake_repo(tmp_path_factory.mktemp("repo"))
    return c.Deployment.from_locals(evaluate_locals(repo, list(c.Deployment.LOCALS)))


@pytest.fixture(scope="module")
def mirror(want: c.Expected) -> c.Deployment:
    """A deployment matching the code exactly, so the comparisons are tested without terraform."""
    return c.Deployment.mirroring(want)


def all_problems(want: c.Expected, have: c.Deployment) -> list[str]:
    return c.table_problems(want, have) + c.topology_problems(want, have) + c.function_problems(want, have)


# ---- formatting and parsing -----------------------------------------------------------------------------------


@needs_terraform
def test_terraform_files_are_formatted() -> None:
    result = run_terraform(["fmt", "-check", "-recursive", "-diff", str(TERRAFORM_DIR)], cwd=REPO)
    assert result.returncode == 0, f"run `terraform fmt -recursive terraform`:\n{result.stdout}{result.stderr}"


def test_every_tf_file_parses_and_the_stack_is_complete(config: Config) -> None:
    concerns = ["versions", "variables", "locals", "bigquery", "pubsub", "functions", "scheduler", "secrets", "iam"]
    assert {f"{name}.tf" for name in [*concerns, "monitoring", "outputs"]} <= set(config.files)
    for type_ in (
        "google_bigquery_dataset",
        "google_bigquery_table",
        "google_pubsub_topic",
        "google_cloudfunctions2_function",
        "google_cloud_scheduler_job",
        "google_secret_manager_secret",
        "google_service_account",
        "google_monitoring_alert_policy",
        "google_logging_metric",
    ):
        assert type_ in config.resources, f"terraform/ has no {type_}"


# ---- the code and terraform/ agree ----------------------------------------------------------------------------


def test_terraform_deploys_exactly_what_the_code_defines(want: c.Expected, have: c.Deployment) -> None:
    assert all_problems(want, have) == []
    assert "enforce_retention" in want.local_functions and "maintenance-ticks" in want.local_only
    assert "maintenance-ticks" not in have.topics, "nothing in the cloud publishes to or reads maintenance-ticks"
    assert "performance-alerts" in have.topics, "the evaluator publishes alert changes to it"


def test_a_function_added_only_to_main_py_is_reported(want: c.Expected, mirror: c.Deployment) -> None:
    source = MAIN_PY.read_text(encoding="utf-8") + (
        "\n\n@functions_framework.http\ndef get_capacity_forecast(request):\n    return None\n"
        "\n\n@functions_framework.cloud_event\ndef analyse_regressions(event):\n    return None\n"
    )
    assert all_problems(want, mirror) == []
    modified = c.expected(source, TOPOLOGY.read_text(encoding="utf-8"), SCHEMAS)
    problems = c.function_problems(modified, mirror)
    assert any("HTTP function get_capacity_forecast is defined in functions/main.py" in p for p in problems)
    assert any("analyse_regressions" in p and "no subscription delivers" in p for p in problems)


def test_a_function_deployed_with_the_wrong_trigger_is_reported(want: c.Expected, mirror: c.Deployment) -> None:
    as_http = dataclasses.replace(mirror, http_functions=mirror.http_functions | {"evaluate_thresholds"})
    assert any("deploys it as HTTP" in p for p in c.function_problems(want, as_http))
    wrong_entry = {**mirror.event_functions, "evaluate-on-tick": c.Subscription("evaluation-ticks", "get_kpi_status")}
    as_event = dataclasses.replace(mirror, event_functions=wrong_entry)
    assert any("event trigger for get_kpi_status" in p for p in c.function_problems(want, as_event))
    extra = dataclasses.replace(mirror, http_functions=mirror.http_functions | {"legacy_endpoint"})
    assert c.function_problems(want, extra) == [
        "terraform/ deploys HTTP function legacy_endpoint, which functions/main.py does not define"
    ]


def test_a_topic_subscription_or_schedule_added_on_one_side_is_reported(want: c.Expected, mirror: c.Deployment) -> None:
    topology = yaml.safe_load(TOPOLOGY.read_text(encoding="utf-8"))
    topology["topics"]["canister-polls"] = {"description": "extra"}
    topology["subscriptions"]["evaluate-on-poll"] = {"topic": "canister-polls", "function": "evaluate_thresholds"}
    topology["schedules"]["poll-every-5-minutes"] = {"cron": "*/5 * * * *", "topic": "canister-polls"}
    modified = c.expected(MAIN_PY.read_text(encoding="utf-8"), yaml.safe_dump(topology), SCHEMAS)
    problems = c.topology_problems(modified, mirror) + c.function_problems(modified, mirror)
    assert "topic canister-polls is defined in topology.yaml but not deployed by terraform/" in problems
    assert "subscription evaluate-on-poll is defined in topology.yaml but not deployed by terraform/" in problems
    assert "schedule poll-every-5-minutes is defined in topology.yaml but not deployed by terraform/" in problems
    assert any(p.startswith("subscription evaluate-on-poll (canister-polls") for p in problems)

    extra = dataclasses.replace(mirror, topics=mirror.topics | {"orphan-topic"})
    assert c.topology_problems(want, extra) == [
        "terraform/ deploys topic orphan-topic, which topology.yaml does not define"
    ]


def test_a_table_added_on_one_side_is_reported(want: c.Expected, mirror: c.Deployment, tmp_path: Path) -> None:
    schemas = _schemas_with_extra_table(tmp_path / "bigquery_schemas")
    modified = c.expected(MAIN_PY.read_text(encoding="utf-8"), TOPOLOGY.read_text(encoding="utf-8"), schemas)
    assert c.table_problems(modified, mirror) == [
        "table canister_status is defined in bigquery_schemas/ but not deployed by terraform/"
    ]
    relaid = {**mirror.tables, "performance_alerts": c.Table("triggered_at", ("status",))}
    assert len(c.table_problems(want, dataclasses.replace(mirror, tables=relaid))) == 1
    extra = {**mirror.tables, "scratch": c.Table("at", ())}
    assert c.table_problems(want, dataclasses.replace(mirror, tables=extra)) == [
        "terraform/ deploys table scratch, which bigquery_schemas/ does not define"
    ]


@needs_terraform
def test_terraform_derives_tables_topics_and_schedules_from_the_files(tmp_path: Path) -> None:
    """The other half of "no drift": a file change reaches terraform/ with no .tf edit."""
    topology = yaml.safe_load(TOPOLOGY.read_text(encoding="utf-8"))
    topology["topics"]["canister-polls"] = {"description": "extra"}
    topology["topics"]["local-debug"] = {"description": "only local", "local_only": True}
    topology["subscriptions"]["evaluate-on-poll"] = {"topic": "canister-polls", "function": "evaluate_thresholds"}
    topology["schedules"]["poll-every-5-minutes"] = {"cron": "*/5 * * * *", "topic": "canister-polls"}
    text = yaml.safe_dump(topology)
    repo = fake_repo(tmp_path / "repo", topology=text, schemas_dir=_schemas_with_extra_table(tmp_path / "schemas"))
    have = c.Deployment.from_locals(evaluate_locals(repo, list(c.Deployment.LOCALS)))
    want = c.expected(MAIN_PY.read_text(encoding="utf-8"), text, repo / "bigquery_schemas")
    assert all_problems(want, have) == []
    assert {"canister-polls"} <= have.topics and "local-debug" not in have.topics
    assert have.event_functions["evaluate-on-poll"] == c.Subscription("canister-polls", "evaluate_thresholds")
    assert have.tables["canister_status"] == c.Table("polled_at", ("canister_id",))


@needs_terraform
def test_a_subscription_to_an_unsized_function_stops_terraform(tmp_path: Path) -> None:
    topology = yaml.safe_load(TOPOLOGY.read_text(encoding="utf-8"))
    topology["subscriptions"]["notify-on-alert"] = {"topic": "performance-alerts", "function": "notify"}
    repo = fake_repo(tmp_path / "repo", topology=yaml.safe_dump(topology))
    with pytest.raises(ConsoleError, match="notify"):
        evaluate_locals(repo, ["event_functions"])


def _schemas_with_extra_table(folder: Path) -> Path:
    shutil.copytree(SCHEMAS, folder)
    fields = [
        {"name": "polled_at", "type": "TIMESTAMP", "mode": "REQUIRED"},
        {"name": "canister_id", "type": "STRING", "mode": "REQUIRED"},
    ]
    (folder / "canister_status.json").write_text(json.dumps(fields, indent=2), encoding="utf-8")
    layout = yaml.safe_load((folder / "layout.yaml").read_text(encoding="utf-8"))
    layout["tables"]["canister_status"] = {"partition_field": "polled_at", "clustering": ["canister_id"]}
    (folder / "layout.yaml").write_text(yaml.safe_dump(layout), encoding="utf-8")
    return folder


# ---- how the resources are wired ------------------------------------------------------------------------------


def test_tables_come_from_the_schema_folder_with_day_partitions_expiring_after_90_days(config: Config) -> None:
    assert 'fileset(local.schemas_dir, "*.json")' in config.locals["tables"]
    assert config.locals["schemas_dir"] == "${local.repo_root}/bigquery_schemas"
    assert "layout.yaml" in config.locals["layout"]
    table = config.resource("google_bigquery_table", "table")
    assert table["for_each"] == "${local.tables}"
    assert table["schema"] == "${jsonencode(each.value.schema)}"
    assert table["clustering"] == "${each.value.clustering}"
    partitioning = single_block(table, "time_partitioning")
    assert partitioning == {
        "type": "DAY",
        "field": "${each.value.partition_field}",
        "expiration_ms": "${local.partition_expiration_ms}",
    }
    view = config.resource("google_bigquery_table", "view")
    assert view["for_each"] == "${local.views}"
    # `$${dataset}` is HCL for the literal `${dataset}` placeholder of the view files.
    assert single_block(view, "view")["query"].startswith('${replace(each.value, "$${dataset}", "`${var.project_id}.')


@needs_terraform
def test_partition_expiration_is_the_layout_s_90_days(have: c.Deployment) -> None:
    assert yaml.safe_load((SCHEMAS / "layout.yaml").read_text(encoding="utf-8"))["partition_expiration_days"] == 90
    assert have.expiration_ms == 90 * 24 * 60 * 60 * 1000 == 7_776_000_000


def test_functions_are_2nd_gen_python_312_with_their_trigger_type(config: Config) -> None:
    assert config.locals["runtime"] == "python312"
    http = config.resource("google_cloudfunctions2_function", "http")
    assert http["for_each"] == "${local.http_functions}"
    assert http["name"] == "${each.key}" and single_block(http, "build_config")["entry_point"] == "${each.key}"
    assert "event_trigger" not in http
    event = config.resource("google_cloudfunctions2_function", "event")
    assert event["for_each"] == "${local.event_functions}"
    assert single_block(event, "build_config")["entry_point"] == "${each.value.entry_point}"
    trigger = single_block(event, "event_trigger")
    assert trigger["pubsub_topic"] == "${google_pubsub_topic.topic[each.value.topic].id}"
    assert trigger["retry_policy"] == "RETRY_POLICY_RETRY"
    assert trigger["event_type"] == "${local.pubsub_event}"
    assert config.locals["pubsub_event"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert single_block(event, "service_config")["ingress_settings"] == "ALLOW_INTERNAL_ONLY"
    assert set(config.resources["google_cloudfunctions2_function"]) == {"http", "event"}


def test_every_function_has_sizing_with_its_reason(config: Config) -> None:
    sized = {**config.locals["http_functions"], **config.locals["event_function_settings"]}
    for name, spec in sized.items():
        assert {"account", "memory", "cpu", "timeout_seconds", "max_instances", "concurrency"} <= set(spec), name
        assert spec["account"] in config.locals["service_accounts"], name
    text = (TERRAFORM_DIR / "locals.tf").read_text(encoding="utf-8")
    for name in sized:
        comment = text.split(f"    {name} = {{")[0].rstrip().splitlines()[-1].strip()
        assert comment.startswith("#"), f"locals.tf: say why {name} is sized as it is, in a comment above it"


def test_pubsub_and_scheduler_resources_come_only_from_the_topology(config: Config) -> None:
    topics = config.resources["google_pubsub_topic"]
    assert {name: body["for_each"] for name, body in topics.items()} == {
        "topic": "${local.topics}",
        "dead_letter": "${local.subscriptions}",
    }
    assert topics["dead_letter"]["name"] == "${each.key}-dead-letter"
    subscriptions = config.resources["google_pubsub_subscription"]
    assert {name: body["for_each"] for name, body in subscriptions.items()} == {"dead_letter": "${local.subscriptions}"}
    jobs = config.resources["google_cloud_scheduler_job"]
    assert set(jobs) == {"schedule"} and jobs["schedule"]["for_each"] == "${local.schedules}"
    target = single_block(jobs["schedule"], "pubsub_target")
    assert target["topic_name"] == "${google_pubsub_topic.topic[each.value.topic].id}"
    assert target["data"] == "${base64encode(each.value.payload)}"
    assert target["attributes"] == {"source": "scheduler", "schedule": "${each.key}"}
    delivery = config.resource("terraform_data", "eventarc_delivery")
    assert delivery["for_each"] == "${local.subscriptions}"
    assert "--dead-letter-topic" in str(delivery["provisioner"])


def test_the_scheduler_publishes_what_the_local_scheduler_publishes() -> None:
    source = (REPO / "functions/perfguard/local/scheduler.py").read_text(encoding="utf-8")
    assert '{"source": "scheduler", "schedule": schedule.name}' in source


def test_functions_get_only_known_settings(config: Config) -> None:
    known = {f"PERFGUARD_{field.name.upper()}" for field in settings_fields()}
    environment = config.locals["function_environment"]
    names = {name for name in environment if name.startswith("PERFGUARD_")}
    names |= set(re.findall(r"PERFGUARD_[A-Z_]+", config.locals["http_environment"]))
    assert names <= known, f"unknown settings would stop the functions: {sorted(names - known)}"
    assert environment["PERFGUARD_WAREHOUSE"] == "bigquery" and environment["PERFGUARD_BUS"] == "pubsub"
    assert {"PERFGUARD_GCP_PROJECT", "PERFGUARD_BIGQUERY_DATASET", "PERFGUARD_BIGQUERY_LOCATION"} <= names
    assert "PERFGUARD_API_KEYS_FILE" in config.locals["http_environment"]
    service = single_block(config.resource("google_cloudfunctions2_function", "http"), "service_config")
    volume = single_block(service, "secret_volumes")
    assert volume["secret"] == '${google_secret_manager_secret.secret["api_keys"].secret_id}'


# ---- least privilege and secrets ------------------------------------------------------------------------------


def test_no_primitive_role_and_no_dataset_wide_admin(config: Config) -> None:
    assert policy.role_problems(config) == []
    assert policy.project_role_problems(config) == []


def test_the_role_checks_catch_violations(config: Config) -> None:
    project_members = {
        **config.resources["google_project_iam_member"],
        "oops": {"role": "roles/editor", "member": "serviceAccount:x"},
        "data": {"role": "roles/bigquery.dataEditor", "member": "serviceAccount:x"},
    }
    dataset_members = {"all": {"role": "roles/bigquery.dataOwner"}}
    resources = {
        **config.resources,
        "google_project_iam_member": project_members,
        "google_bigquery_dataset_iam_member": dataset_members,
    }
    bad = dataclasses.replace(config, resources=resources)
    problems = policy.role_problems(bad) + policy.project_role_problems(bad)
    assert "google_project_iam_member.oops grants the primitive role roles/editor" in problems
    assert "google_bigquery_dataset_iam_member.all grants the admin role roles/bigquery.dataOwner" in problems
    assert any("roles/bigquery.dataEditor on the whole project" in p for p in problems)


def test_only_the_ingest_function_is_public(config: Config) -> None:
    assert policy.public_access_problems(config) == []
    readers = config.resource("google_cloud_run_v2_service_iam_member", "readers")
    assert "!= local.public_http_function" in readers["for_each"] and "local.http_functions" in readers["for_each"]
    assert readers["member"] == "${local.readers_member}"
    assert config.locals["readers_member"] == "group:${var.authorized_group}"
    invokers = {
        **config.resources["google_cloud_run_v2_service_iam_member"],
        "leak": {"for_each": "${local.http_functions}", "role": "roles/run.invoker", "member": "allUsers"},
    }
    resources = {**config.resources, "google_cloud_run_v2_service_iam_member": invokers}
    bad = dataclasses.replace(config, resources=resources)
    assert policy.public_access_problems(bad) == [
        "google_cloud_run_v2_service_iam_member.leak is public for several resources",
        "google_cloud_run_v2_service_iam_member.leak is public on None, not on local.public_http_function",
    ]


def test_grants_name_existing_tables_and_topics(config: Config, want: c.Expected) -> None:
    objects = set(want.tables) | {path.stem for path in (SCHEMAS / "views").glob("*.sql")}
    for account, roles in config.locals["table_roles"].items():
        for role, names in roles.items():
            if isinstance(names, list):
                assert set(names) <= objects, f"{account} {role}: unknown tables {set(names) - objects}"
    published = {topic for topics in config.locals["topic_publishers"].values() for topic in topics}
    assert published <= want.topics
    assert _topics_the_code_publishes_to() <= published


def _topics_the_code_publishes_to() -> set[str]:
    """Module constants named *TOPIC in perfguard.api: where the functions publish."""
    topics = set()
    for path in (REPO / "functions/perfguard/api").glob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant)
                and any(isinstance(t, ast.Name) and t.id.endswith("TOPIC") for t in node.targets)
            ):
                topics.add(str(node.value.value))
    return topics


def test_no_secret_in_any_deployment_file(config: Config) -> None:
    files = [*TERRAFORM_DIR.glob("*.tf"), TERRAFORM_DIR / "terraform.tfvars.example", CLOUDBUILD]
    assert policy.secret_problems(files) == []
    assert "google_secret_manager_secret_version" not in config.resources, "secret values are added by hand"
    for name, spec in config.variables.items():
        assert not re.search(r"token|password|secret|webhook", name), f"variable {name} looks like a secret"
        assert not spec.get("sensitive"), f"variable {name}: secrets come from Secret Manager, not variables"


def test_the_example_tfvars_sets_every_required_variable(config: Config) -> None:
    example = load_file(TERRAFORM_DIR / "terraform.tfvars.example")
    required = {name for name, spec in config.variables.items() if "default" not in spec}
    assert required <= set(example), f"terraform.tfvars.example lacks {sorted(required - set(example))}"
    assert set(example) <= set(config.variables), f"unknown variables: {sorted(set(example) - set(config.variables))}"


# ---- self-monitoring ------------------------------------------------------------------------------------------


def test_alert_policies_watch_errors_evaluator_dead_letters_and_rejections(config: Config) -> None:
    policies = config.resources["google_monitoring_alert_policy"]
    assert set(policies) == {"function_errors", "evaluator_silent", "dead_letters", "rejected_records"}
    for name, body in policies.items():
        assert body["notification_channels"] == "${local.notification_channels}", name
    assert "condition_absent" in single_block(policies["evaluator_silent"], "conditions")
    assert "slack" in config.resources["google_monitoring_notification_channel"]


def test_the_rejected_records_metric_matches_the_ingest_log_line(config: Config) -> None:
    pattern = config.locals["rejected_records_pattern"]
    log_format = _ingest_rejection_format()
    line = log_format % (3, 120, "gateway", "timestamp looks like milliseconds")
    assert re.search(pattern, line), f"{pattern!r} does not match the ingest log line {line!r}"
    metric = config.resource("google_logging_metric", "rejected_records")
    assert "${local.rejected_records_pattern}" in metric["filter"]
    key_regex = re.fullmatch(r'REGEXP_EXTRACT\(textPayload, "(.+)"\)', metric["label_extractors"]["key"])
    assert key_regex is not None
    key = re.search(key_regex.group(1), line)
    assert key is not None and key.group(1) == "gateway"


def _ingest_rejection_format() -> str:
    """The format string perfguard.api.ingest logs rejected records with."""
    source = (REPO / "functions/perfguard/api/ingest.py").read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "records from key" in node.value:
            return node.value
    raise AssertionError("perfguard/api/ingest.py no longer logs 'rejected N of M records from key K'")
