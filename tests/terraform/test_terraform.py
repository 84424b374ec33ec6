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

from perfguard.errors import ConfigError
from perfguard.settings import load_settings, settings_fields
from tests.terraform import consistency as c
from tests.terraform import policy
from tests.terraform.hcl import (
    REPO,
    TERRAFORM_DIR,
    Config,
    ConsoleError,
    add_module_locals,
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
EXAMPLE_TFVARS = TERRAFORM_DIR / "terraform.tfvars.example"
# Variables whose names look like secrets but hold none, and why.
NOT_SECRET_VARIABLES = {
    "mounted_secrets": "the names of the secrets that have a version, never a value",
    "alert_webhook_urls": "receiver URLs; its validation refuses credentials (user:password@, query, Slack hooks)",
    "remediation_webhook_url": "a receiver URL; its validation refuses credentials like alert_webhook_urls'",
}
# Secrets whose setting names, not values, are in the configuration: their values stay in Secret Manager.
SECRET_SETTINGS = {"api_key", "slack_bot_token", "slack_webhook_url", "slack_signing_secret", "smtp_password"}


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
    assert have.event_functions["notify-on-alert"] == c.Subscription("performance-alerts", "notify_alert")
    assert have.event_functions["remediate-on-alert"] == c.Subscription("performance-alerts", "remediate_alert")


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
    topology["subscriptions"]["analyse-on-alert"] = {"topic": "performance-alerts", "function": "analyse_alert"}
    repo = fake_repo(tmp_path / "repo", topology=yaml.safe_dump(topology))
    with pytest.raises(ConsoleError, match="analyse_alert"):
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
        assert {"account", "memory", "cpu", "timeout_seconds", "max_instances", "concurrency", "secrets"} <= set(
            spec
        ), name
        assert spec["account"] in config.locals["service_accounts"], name
    text = (TERRAFORM_DIR / "locals.tf").read_text(encoding="utf-8")
    for name in sized:
        comment = text.split(f"    {name} = {{")[0].rstrip().splitlines()[-1].strip()
        assert comment.startswith("#"), f"locals.tf: say why {name} is sized as it is, in a comment above it"


def test_sizing_is_within_the_limits_of_cloud_functions(config: Config) -> None:
    """2nd gen: HTTP functions run up to 3,600 s, event functions up to 540 s; more than one request per
    instance needs a whole vCPU."""
    for limit, functions in ((3600, config.locals["http_functions"]), (540, config.locals["event_function_settings"])):
        for name, spec in functions.items():
            assert 0 < spec["timeout_seconds"] <= limit, f"{name}: timeout {spec['timeout_seconds']} s > {limit} s"
            assert spec["concurrency"] == 1 or float(spec["cpu"]) >= 1, f"{name}: concurrency > 1 needs cpu >= 1"
            assert spec["max_instances"] >= 1, name
    # notify_alert records nothing when cut short, so a redelivery would notify again: the longest timeout.
    assert config.locals["event_function_settings"]["notify_alert"]["timeout_seconds"] == 540


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


def _known_environment_names() -> set[str]:
    """PERFGUARD_<FIELD> of every Settings field, and PERFGUARD_<FIELD>_FILE (the value read from a file)."""
    fields = {f"PERFGUARD_{field.name.upper()}" for field in settings_fields()}
    return fields | {f"{name}_FILE" for name in fields}


def _perfguard_names(config: Config) -> set[str]:
    """Every PERFGUARD_ name written anywhere in terraform/ (locals, resources, variables)."""
    everything = [config.locals, config.variables, *(body for _, _, body in config.all_resources())]
    return {name for body in everything for text in policy.strings(body) for name in PERFGUARD_NAME.findall(text)}


PERFGUARD_NAME = re.compile(r"\bPERFGUARD_[A-Z0-9_]+")


def test_functions_get_only_known_settings(config: Config) -> None:
    names = _perfguard_names(config)
    known = _known_environment_names()
    assert names <= known, f"unknown settings would stop the functions: {sorted(names - known)}"
    environment = config.locals["function_environment"]
    assert environment["PERFGUARD_WAREHOUSE"] == "bigquery" and environment["PERFGUARD_BUS"] == "pubsub"
    assert {"PERFGUARD_GCP_PROJECT", "PERFGUARD_BIGQUERY_DATASET", "PERFGUARD_BIGQUERY_LOCATION"} <= names
    # Secrets arrive only as files: their PERFGUARD_<NAME> never appears without _FILE.
    plain = {f"PERFGUARD_{name.upper()}" for name in SECRET_SETTINGS} & names
    assert not plain, f"secret values would sit in plain environment variables: {sorted(plain)}"


def test_the_settings_check_accepts_the_file_form_and_nothing_else() -> None:
    known = _known_environment_names()
    assert {"PERFGUARD_SMTP_PASSWORD_FILE", "PERFGUARD_SLACK_SIGNING_SECRET_FILE", "PERFGUARD_API_KEYS_FILE"} <= known
    assert "PERFGUARD_SLACK_SIGNING_SECRETS_FILE" not in known and "PERFGUARD_SMTP_PASS_FILE" not in known
    locals_ = {"function_environment": {"PERFGUARD_SMTP_PASSWROD_FILE": "/etc/perfguard/x", "PERFGUARD_BUS": "pubsub"}}
    bad = Config(resources={}, data={}, locals=locals_, variables={}, files={})
    assert _perfguard_names(bad) - known == {"PERFGUARD_SMTP_PASSWROD_FILE"}


def test_every_secret_is_a_file_setting_mounted_by_the_functions_that_read_it(config: Config) -> None:
    secrets = config.locals["secrets"]
    fields = {field.name for field in settings_fields()}
    for name, secret in secrets.items():
        # The key is the setting the file feeds: PERFGUARD_<NAME>_FILE (api_keys_file is itself the path).
        assert secret["environment"] == f"PERFGUARD_{name.upper()}_FILE", name
        assert name in fields or f"{name}_file" in fields, f"secret {name} feeds no Settings field"
        assert secret["optional"] is (name != "api_keys"), name
    assert set(secrets) == {
        "api_keys", "slack_bot_token", "slack_webhook_url", "slack_signing_secret", "smtp_password", "canisters",
        "icp_identity_pem",
    }  # fmt: skip
    condition = single_block(config.variables["mounted_secrets"], "validation")["condition"]
    assert set(re.findall(r'"(\w+)"', condition)) == {name for name, s in secrets.items() if s["optional"]}

    for block in ("http", "event"):
        service = single_block(config.resource("google_cloudfunctions2_function", block), "service_config")
        assert service["environment_variables"] == "${local.function_environments[each.key]}", block
        volumes = single_block(service, "dynamic")["secret_volumes"]
        assert volumes["for_each"] == "${local.function_secrets[each.key]}", block
        content = single_block(volumes, "content")
        assert content["secret"] == "${google_secret_manager_secret.secret[secret_volumes.value].secret_id}"
        assert single_block(content, "versions")["version"] == "latest"


def test_functions_mount_only_secrets_their_account_may_read_and_every_grant_is_used(config: Config) -> None:
    secrets = config.locals["secrets"]
    functions = {**config.locals["http_functions"], **config.locals["event_function_settings"]}
    used = set()
    for name, spec in functions.items():
        for secret in spec["secrets"]:
            assert secret in secrets, f"{name} reads the unknown secret {secret}"
            assert spec["account"] in secrets[secret]["readers"], f"{name}'s account cannot read {secret}"
            used.add((secret, spec["account"]))
    granted = {(secret, account) for secret, spec in secrets.items() for account in spec["readers"]}
    assert granted == used, f"secret grants no function uses: {sorted(granted - used)}"
    assert functions["slack_actions"]["secrets"] == ["slack_signing_secret"]
    assert set(functions["notify_alert"]["secrets"]) == {"slack_bot_token", "slack_webhook_url", "smtp_password"}
    assert secrets["slack_signing_secret"]["readers"] == ["responder"], "only slack_actions verifies Slack requests"
    assert set(config.locals["role_environment"]) == {"notifier", "remediator", "poller"}
    assert config.locals["role_environment"]["notifier"] == "${local.notification_environment}"
    assert config.locals["role_environment"]["poller"] == (
        "${merge(local.canister_environment, local.firebase_environment)}"
    )
    # The canisters and the identity: only what polls them and what tops them up.
    for secret in ("canisters", "icp_identity_pem"):
        assert secrets[secret]["readers"] == ["poller", "remediator"], secret
    assert set(functions["remediate_alert"]["secrets"]) == {
        "canisters", "icp_identity_pem", "slack_bot_token", "slack_webhook_url",
    }  # fmt: skip


@needs_terraform
@pytest.mark.parametrize(
    "mounted", [[], ["slack_bot_token", "slack_webhook_url", "slack_signing_secret", "smtp_password"]]
)
def test_each_function_starts_with_its_settings_and_secrets(tmp_path: Path, mounted: list[str]) -> None:
    """Every function's environment, evaluated from the example tfvars and loaded by perfguard.settings itself,
    with its secret volumes stood in for by files under tmp_path."""
    repo = add_module_locals(fake_repo(tmp_path / "repo"), EXAMPLE_TFVARS.read_text(encoding="utf-8"))
    values = evaluate_locals(
        repo, ["function_environments", "function_secrets", "secret_mounts"], {"mounted_secrets": json.dumps(mounted)}
    )
    environments, mounts = values["function_environments"], values["secret_mounts"]
    secrets = {}
    for name, mount in mounts.items():
        path = tmp_path / "mounts" / mount["path"].lstrip("/") / mount["file"]
        path.parent.mkdir(parents=True)
        secrets[name] = f"value of {name}"
        path.write_text("- {name: ops, key: k, scopes: [admin]}\n" if name == "api_keys" else secrets[name] + "\n")
    example = load_file(EXAMPLE_TFVARS)
    for function, environment in environments.items():
        mounted_here = values["function_secrets"][function]
        env = {k: str(tmp_path / "mounts") + v if k.endswith("_FILE") else v for k, v in environment.items()}
        settings = load_settings(environ=env)  # raises on any unknown PERFGUARD_ variable
        assert settings.warehouse == "bigquery" and settings.gcp_project == example["project_id"], function
        assert bool(settings.api_keys_file) == ("api_keys" in mounted_here), function
        for secret in ("slack_bot_token", "slack_webhook_url", "slack_signing_secret", "smtp_password"):
            expected = secrets[secret] if secret in mounted_here else ""
            assert getattr(settings, secret) == expected, f"{function}: {secret}"
        if function in ("notify-on-alert", "notify-on-tick", "escalate-on-tick"):  # the notifier's functions
            assert mounted_here == [
                s for s in ("slack_bot_token", "slack_webhook_url", "smtp_password") if s in mounted
            ]
            assert settings.slack_channel == example["slack_channel"]
            assert settings.smtp_host == example["smtp_host"] and settings.smtp_port == example["smtp_port"]
            assert settings.smtp_starttls == "yes" and settings.smtp_username == example["smtp_username"]
            assert settings.smtp_from == example["smtp_from"] and settings.smtp_to == tuple(example["smtp_to"])
            assert settings.alert_webhook_urls == tuple(example["alert_webhook_urls"])
            assert settings.runbook_base_url == example["runbook_base_url"]
        elif function == "remediate-on-alert":  # the cycles top-up's Slack notice: the channel, nothing else
            assert settings.slack_channel == example["slack_channel"] and not settings.smtp_host
            assert not any(k.startswith(("PERFGUARD_SMTP", "PERFGUARD_ALERT")) for k in environment)
        else:  # where alerts go is the notifier's business only
            settings_of_notifier = ("PERFGUARD_SMTP", "PERFGUARD_SLACK", "PERFGUARD_ALERT", "PERFGUARD_RUNBOOK")
            assert not any(k.startswith(settings_of_notifier) and not k.endswith("_FILE") for k in environment)
        if function == "remediate-on-alert":  # off unless remediation_mode says otherwise
            assert settings.remediation_mode == "off" and environment["PERFGUARD_REMEDIATION_MODE"] == "off"
        else:  # and only the remediator may act
            assert not any(k.startswith("PERFGUARD_REMEDIATION") for k in environment), function
        # A file variable for exactly the secrets mounted, and a mount for each.
        assert {k for k in environment if k.endswith("_FILE")} == {k for s in mounted_here for k in mounts[s]["env"]}
        assert environment["THREADS"].isdigit()
    assert values["function_secrets"]["slack_actions"] == (["slack_signing_secret"] if mounted else [])
    assert values["function_secrets"]["record_performance_metric"] == ["api_keys"]


@needs_terraform
def test_the_notifier_omits_unset_settings_so_their_defaults_hold(tmp_path: Path) -> None:
    tfvars = 'project_id = "p"\nauthorized_group = "perf@example.com"\nslack_channel = "#perf-alerts"\n'
    repo = add_module_locals(fake_repo(tmp_path / "repo"), tfvars)
    environment = evaluate_locals(repo, ["function_environments"])["function_environments"]["notify-on-alert"]
    notification = {k for k in environment if k.startswith(("PERFGUARD_SMTP", "PERFGUARD_SLACK", "PERFGUARD_ALERT"))}
    assert notification == {"PERFGUARD_SLACK_CHANNEL", "PERFGUARD_SMTP_PORT", "PERFGUARD_SMTP_STARTTLS"}
    assert "PERFGUARD_RUNBOOK_BASE_URL" not in environment
    assert load_settings(environ=environment).smtp_from == "perfguard@localhost"


def test_an_email_channel_without_recipients_stops_the_plan(config: Config) -> None:
    """perfguard.settings refuses smtp_host without smtp_to at start; Terraform refuses it before deploying."""
    with pytest.raises(ConfigError, match="smtp_to"):
        load_settings(environ={"PERFGUARD_SMTP_HOST": "smtp.example.com"})
    event = config.resource("google_cloudfunctions2_function", "event")
    conditions = [pre["condition"] for block in event["lifecycle"] for pre in block["precondition"]]
    assert '${var.smtp_host == "" || length(var.smtp_to) > 0}' in conditions


@needs_terraform
@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("alert_webhook_urls", '["https://alerts.example.com/hook?token=abc"]', "without user:password@, query"),
        ("alert_webhook_urls", '["https://user:pw@alerts.example.com/hook"]', "without user:password@, query"),
        ("alert_webhook_urls", '["http://alerts.example.com/hook"]', "must be an https:// URL"),
        (
            "alert_webhook_urls",
            '["https://hooks.slack.com/services/T0/B0/x"]',
            "Slack incoming webhook URL is a secret",
        ),
        ("alert_webhook_urls", json.dumps([f"https://a.example.com/{i}" for i in range(6)]), "At most 5"),
        ("smtp_port", "25", "other than 25"),
        ("smtp_to", '["oncall@example.com,cto@example.com"]', "one email address"),
        ("mounted_secrets", '["api_keys"]', "mounted_secrets may name only"),
        ("runbook_base_url", "https://github.com/OWNER/perfguard/blob/main/runbooks extra", "https:// URL"),
        ("remediation_mode", "yes", "must be off, dry_run or on"),
        ("remediation_webhook_url", "https://ops.example.com/hook?token=abc", "without user:password@, query"),
        ("remediation_webhook_url", "http://ops.example.com/hook", "must be an https:// URL"),
        (
            "remediation_webhook_url",
            "https://hooks.slack.com/services/T0/B0/x",
            "Slack incoming webhook URL is a secret",
        ),
    ],
)
def test_notification_variables_refuse_credentials_and_bad_values(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    repo = add_module_locals(fake_repo(tmp_path / "repo"), EXAMPLE_TFVARS.read_text(encoding="utf-8"), files=())
    evaluate_locals(repo, ["tables"])  # the example itself passes every validation
    with pytest.raises(ConsoleError) as raised:
        evaluate_locals(repo, ["tables"], {variable: value})
    assert message in " ".join(str(raised.value).split()), str(raised.value)


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


def test_only_the_allowlisted_self_authenticating_functions_are_public(config: Config, want: c.Expected) -> None:
    assert policy.public_access_problems(config) == []
    assert (
        policy.public_http_functions(config)
        == set(policy.PUBLIC_FUNCTIONS)
        == {
            "record_performance_metric",
            "slack_actions",
        }
    )
    http = {name for name, kind in want.functions.items() if kind == c.HTTP}
    assert set(policy.PUBLIC_FUNCTIONS) <= http, "every public function is an HTTP function of functions/main.py"
    public = config.resource("google_cloud_run_v2_service_iam_member", "public")
    assert public["for_each"] == "${local.public_http_functions}" and public["member"] == "allUsers"
    # Every other HTTP function admits the authorized group only.
    readers = config.resource("google_cloud_run_v2_service_iam_member", "readers")
    assert readers["for_each"] == (
        "${{for name in keys(local.http_functions) : name => name if !contains(local.public_http_functions, name)}}"
    )
    assert readers["member"] == "${local.readers_member}"
    assert config.locals["readers_member"] == "group:${var.authorized_group}"
    # Each public function says in iam.tf why it may be public.
    iam = (TERRAFORM_DIR / "iam.tf").read_text(encoding="utf-8")
    for name in policy.PUBLIC_FUNCTIONS:
        assert iam.split(f'    "{name}",')[0].rstrip().splitlines()[-1].strip().startswith("#"), name


def test_a_public_grant_on_any_other_function_is_reported(config: Config) -> None:
    invokers = config.resources["google_cloud_run_v2_service_iam_member"]
    cases = {
        "leak": {"for_each": "${local.http_functions}", "role": "roles/run.invoker", "member": "allUsers"},
        "one": {
            "name": '${google_cloudfunctions2_function.http["update_alert_status"].service_config[0].service}',
            "role": "roles/run.invoker",
            "member": "allAuthenticatedUsers",
        },
    }
    resources = {**config.resources, "google_cloud_run_v2_service_iam_member": {**invokers, **cases}}
    assert policy.public_access_problems(dataclasses.replace(config, resources=resources)) == [
        "google_cloud_run_v2_service_iam_member.leak is public for ${local.http_functions}, "
        "not for local.public_http_functions",
        "google_cloud_run_v2_service_iam_member.leak is public on None, not on each of local.public_http_functions",
        "google_cloud_run_v2_service_iam_member.one is public for None, not for local.public_http_functions",
        "google_cloud_run_v2_service_iam_member.one is public on "
        '${google_cloudfunctions2_function.http["update_alert_status"].service_config[0].service}, '
        "not on each of local.public_http_functions",
    ]
    hidden = {**config.locals, "everyone": "allUsers"}
    assert policy.public_access_problems(dataclasses.replace(config, locals=hidden)) == [
        "local.everyone holds a public member; write it only in the public invoker resource"
    ]


def test_adding_a_function_to_the_public_set_is_reported(tmp_path: Path) -> None:
    """On a modified copy of terraform/: get_alerts added to the allowlist, slack_actions dropped from it."""
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_DIR, copy)
    iam = (copy / "iam.tf").read_text(encoding="utf-8")
    listed = '    "slack_actions",\n'
    assert iam.count(listed) == 1
    (copy / "iam.tf").write_text(iam.replace(listed, '    "get_alerts",\n'), encoding="utf-8")
    modified = load_config(copy)
    assert policy.public_http_functions(modified) == {"record_performance_metric", "get_alerts"}
    assert policy.public_access_problems(modified) == [
        "local.public_http_functions makes get_alerts public; only record_performance_metric, slack_actions "
        "authenticate every request",
        "local.public_http_functions lacks slack_actions (Slack's request signature (slack_signing_secret) on "
        "every request)",
    ]
    (copy / "iam.tf").write_text(iam.replace(listed, listed + '    "legacy_endpoint",\n'), encoding="utf-8")
    assert policy.public_access_problems(load_config(copy)) == [
        "local.public_http_functions makes legacy_endpoint public; only record_performance_metric, slack_actions "
        "authenticate every request",
        "local.public_http_functions names legacy_endpoint, which is not an HTTP function of locals.tf",
    ]
    computed = iam.replace("public_http_functions = toset([", "public_http_functions = toset(concat(local.x, [", 1)
    computed = computed.replace('    "slack_actions",\n  ])', '    "slack_actions",\n  ]))', 1)
    (copy / "iam.tf").write_text(computed, encoding="utf-8")
    assert "must be a literal toset" in policy.public_access_problems(load_config(copy))[0]


def test_the_alert_roles_have_exactly_their_grants(config: Config) -> None:
    """responder: update_alert_status, slack_actions and the silence functions; notifier: notify_alert and
    escalate_alerts (perfguard.api.alert_status, perfguard.api.silences, perfguard.api.notify,
    perfguard.api.escalation)."""
    roles, topics, project = (
        config.locals["table_roles"],
        config.locals["topic_publishers"],
        config.locals["project_roles"],
    )
    assert roles["responder"] == {
        "roles/bigquery.dataEditor": ["performance_alerts", "alert_silences"],
        "roles/bigquery.dataViewer": ["performance_alerts_current", "alert_silences_current"],
    }
    assert topics["responder"] == ["performance-alerts"]
    assert roles["notifier"] == {
        "roles/bigquery.dataEditor": ["alert_notifications", "alert_escalations"],
        "roles/bigquery.dataViewer": [
            "alert_silences",
            "alert_silences_current",
            "performance_alerts",
            "performance_alerts_current",
        ],
    }
    assert "notifier" not in topics, "the notifier publishes nothing"
    assert project["responder"] == project["notifier"] == ["roles/bigquery.jobUser"]
    readers = {name: spec["readers"] for name, spec in config.locals["secrets"].items()}
    assert {name for name, accounts in readers.items() if "responder" in accounts} == {
        "api_keys",
        "slack_signing_secret",
    }
    assert {name for name, accounts in readers.items() if "notifier" in accounts} == {
        "slack_bot_token",
        "slack_webhook_url",
        "smtp_password",
    }
    functions = {**config.locals["http_functions"], **config.locals["event_function_settings"]}
    assert {name for name, spec in functions.items() if spec["account"] == "responder"} == {
        "update_alert_status",
        "slack_actions",
        "create_silence",
        "expire_silence",
    }
    assert functions["get_alerts"]["account"] == functions["get_silences"]["account"] == "api"
    assert functions["notify_alert"]["account"] == functions["escalate_alerts"]["account"] == "notifier"
    assert functions["escalate_alerts"]["secrets"] == functions["notify_alert"]["secrets"]
    # remediator: remediate_alert (perfguard.api.remediation) reads and appends its audit rows, nothing else.
    assert roles["remediator"] == {"roles/bigquery.dataEditor": ["remediation_actions"]}
    assert "remediator" not in topics and project["remediator"] == ["roles/bigquery.jobUser"]
    # The remediator reads the canisters, the ICP identity and Slack's (the top-up's notice), nothing else.
    remediator_reads = {name for name, accounts in readers.items() if "remediator" in accounts}
    assert remediator_reads == {"canisters", "icp_identity_pem", "slack_bot_token", "slack_webhook_url"}
    assert {name for name, spec in functions.items() if spec["account"] == "remediator"} == {"remediate_alert"}
    # Every account that reads or writes a table can run the query jobs that do it.
    for account in roles:
        assert "roles/bigquery.jobUser" in project[account], account


def test_service_accounts_fit_google_s_limits(config: Config) -> None:
    for key, display_name in config.locals["service_accounts"].items():
        assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", f"perfguard-{key}"), key
        assert len(display_name) <= 100, f"{key}: display names hold at most 100 characters"


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
        if name not in NOT_SECRET_VARIABLES:
            assert not re.search(r"token|password|secret|webhook", name), f"variable {name} looks like a secret"
        assert not spec.get("sensitive"), f"variable {name}: secrets come from Secret Manager, not variables"
    assert set(NOT_SECRET_VARIABLES) <= set(config.variables)
    # The webhook URLs are plain settings only because the variable refuses URLs that carry credentials.
    checks = " ".join(v["error_message"] for v in config.variables["alert_webhook_urls"]["validation"])
    assert "user:password@" in checks and "query string" in checks and "Slack incoming webhook" in checks


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
