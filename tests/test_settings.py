"""Settings: defaults < file < PERFGUARD_* environment < overrides; unknown keys and bad types name the key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from perfguard.errors import ConfigError
from perfguard.settings import DEFAULT_TAG_ALLOWLIST, ENV_PREFIX, Settings, load_settings, settings_fields

DOCS = Path(__file__).parents[1] / "docs" / "configuration.md"
FIELD_NAMES = [f.name for f in settings_fields()]


def config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "perfguard.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(**kwargs: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(**kwargs)
    return str(info.value)


def as_text(value: object) -> str:
    return ",".join(value) if isinstance(value, tuple) else str(value)


def test_defaults() -> None:
    settings = load_settings()
    assert settings == Settings()
    assert (settings.warehouse, settings.bus, settings.environment) == ("duckdb", "inprocess", "production")
    assert (settings.retention_days, settings.max_tags, settings.max_tag_chars) == (90, 32, 256)
    assert settings.latency_threshold_ms == 2000.0
    assert (settings.threshold_windows, settings.threshold_min_samples) == (5, 10)
    assert settings.tag_allowlist == DEFAULT_TAG_ALLOWLIST
    assert settings.data_path() == Path("data")


def test_default_allowlist_keeps_the_tags_outcome_and_platform_need() -> None:
    assert {"status", "status_code", "route", "platform", "canister_id"} <= set(DEFAULT_TAG_ALLOWLIST)
    assert not {"email", "user", "user_id", "ip"} & set(DEFAULT_TAG_ALLOWLIST)


def test_no_environ_argument_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERFGUARD_RETENTION_DAYS", "7")
    assert load_settings().retention_days == 90


def test_file_values_override_defaults(tmp_path: Path) -> None:
    path = config_file(tmp_path, "retention_days: 30\nenvironment: staging\ntag_allowlist: [route, status]\n")
    settings = load_settings(path)
    assert (settings.retention_days, settings.environment) == (30, "staging")
    assert settings.tag_allowlist == ("route", "status")


def test_environment_overrides_the_file_and_overrides_win(tmp_path: Path) -> None:
    path = config_file(tmp_path, "retention_days: 30\nmax_tags: 10\npage_size: 50\n")
    environ = {"PERFGUARD_RETENTION_DAYS": "20", "PERFGUARD_MAX_TAGS": "12"}
    settings = load_settings(path, environ, {"retention_days": 10})
    assert (settings.retention_days, settings.max_tags, settings.page_size) == (10, 12, 50)


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    assert load_settings(config_file(tmp_path, "# nothing yet\n")) == Settings()


@pytest.mark.parametrize("name", FIELD_NAMES)
def test_every_setting_has_a_perfguard_environment_variable(name: str) -> None:
    default = getattr(Settings(), name)
    environ = {f"{ENV_PREFIX}{name.upper()}": as_text(default)}
    if name == "gcp_project":
        environ[f"{ENV_PREFIX}GCP_PROJECT"] = "my-project"
        default = "my-project"
    assert getattr(load_settings(environ=environ), name) == default


def test_environment_variables_are_converted_to_their_types() -> None:
    settings = load_settings(
        environ={
            "PERFGUARD_RETENTION_DAYS": " 45 ",
            "PERFGUARD_LATENCY_THRESHOLD_MS": "1500.5",
            "PERFGUARD_MAX_TAGS": "8",
        }
    )
    assert (settings.retention_days, settings.latency_threshold_ms, settings.max_tags) == (45, 1500.5, 8)
    assert isinstance(settings.latency_threshold_ms, float)


def test_variables_without_the_prefix_are_ignored() -> None:
    assert load_settings(environ={"HOME": "/root", "RETENTION_DAYS": "1", "PERFGUARDX_MAX_TAGS": "1"}) == Settings()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("route, status ,platform", ("route", "status", "platform")),
        ("route,,status,", ("route", "status")),
        ("", ()),
        ("status", ("status",)),
    ],
)
def test_tag_allowlist_from_a_comma_list(value: str, expected: tuple[str, ...]) -> None:
    assert load_settings(environ={"PERFGUARD_TAG_ALLOWLIST": value}).tag_allowlist == expected


def test_tag_allowlist_from_a_yaml_list_and_an_override_list(tmp_path: Path) -> None:
    assert load_settings(config_file(tmp_path, "tag_allowlist: [a, ' b ']\n")).tag_allowlist == ("a", "b")
    assert load_settings(overrides={"tag_allowlist": ["x", "y"]}).tag_allowlist == ("x", "y")


def test_unknown_key_in_the_file_is_named(tmp_path: Path) -> None:
    message = config_error(config_file=config_file(tmp_path, "retention_dayz: 30\n"))
    assert "unknown setting 'retention_dayz'" in message
    assert "retention_days" in message  # the known ones are listed


def test_unknown_environment_variable_is_named() -> None:
    message = config_error(environ={"PERFGUARD_RETENTION_DAYZ": "30"})
    assert message.startswith("unknown setting PERFGUARD_RETENTION_DAYZ in the environment (known: ")


def test_unknown_override_is_named() -> None:
    assert "unknown setting 'colour'" in config_error(overrides={"colour": "blue"})


def test_perfguard_config_is_not_a_setting_so_callers_must_remove_it() -> None:
    assert "PERFGUARD_CONFIG" in config_error(environ={"PERFGUARD_CONFIG": "perfguard.yaml"})


@pytest.mark.parametrize(
    ("key", "value", "type_name"),
    [
        ("retention_days", "thirty", "int"),
        ("retention_days", "3.0", "int"),
        ("retention_days", 2.5, "int"),
        ("retention_days", True, "int"),
        ("retention_days", None, "int"),
        ("max_tags", [1], "int"),
        ("latency_threshold_ms", "fast", "float"),
        ("latency_threshold_ms", None, "float"),
        ("tag_allowlist", 5, "tuple[str, ...]"),
        ("environment", ["prod"], "str"),
        ("environment", {"a": 1}, "str"),
        ("warehouse", None, "str"),
    ],
)
def test_wrong_type_names_the_key(key: str, value: object, type_name: str) -> None:
    assert config_error(overrides={key: value}) == f"setting '{key}' must be {type_name}, got {value!r}"


def test_wrong_type_in_the_environment_names_the_key() -> None:
    assert config_error(environ={"PERFGUARD_MAX_TAGS": "many"}) == "setting 'max_tags' must be int, got 'many'"


def test_wrong_type_in_the_file_names_the_key(tmp_path: Path) -> None:
    message = config_error(config_file=config_file(tmp_path, "page_size: [1, 2]\n"))
    assert message == "setting 'page_size' must be int, got [1, 2]"


def test_integral_float_is_accepted_for_an_int() -> None:
    assert load_settings(overrides={"retention_days": 30.0}).retention_days == 30


@pytest.mark.parametrize(("key", "value"), [("warehouse", "postgres"), ("bus", "kafka")])
def test_invalid_adapter_names_are_rejected(key: str, value: str) -> None:
    message = config_error(overrides={key: value})
    assert message.startswith(f"setting '{key}' must be ") and repr(value) in message


@pytest.mark.parametrize("overrides", [{"warehouse": "bigquery"}, {"bus": "pubsub"}])
def test_gcp_project_is_required_by_the_cloud_adapters(overrides: dict[str, str]) -> None:
    assert "'gcp_project' is required" in config_error(overrides=overrides)
    settings = load_settings(overrides={**overrides, "gcp_project": "market-prod"})
    assert settings.gcp_project == "market-prod"


POSITIVE = ["retention_days", "max_batch_records", "max_body_bytes", "threshold_windows", "page_size"]


@pytest.mark.parametrize("key", POSITIVE)
@pytest.mark.parametrize("value", [0, -1])
def test_sizes_must_be_positive(key: str, value: int) -> None:
    assert config_error(overrides={key: value}) == f"setting '{key}' must be positive, got {value}"


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    message = config_error(config_file=tmp_path / "absent.yaml")
    assert message.startswith(f"cannot read config file {tmp_path / 'absent.yaml'}")


def test_invalid_yaml_is_a_config_error(tmp_path: Path) -> None:
    assert "is not valid YAML" in config_error(config_file=config_file(tmp_path, "warehouse: [duckdb\n"))


@pytest.mark.parametrize("text", ["- warehouse\n", "just text\n", "42\n"])
def test_file_must_hold_a_mapping(tmp_path: Path, text: str) -> None:
    assert "must hold a mapping of setting: value" in config_error(config_file=config_file(tmp_path, text))


def test_settings_are_immutable() -> None:
    settings = load_settings()
    with pytest.raises(AttributeError):
        settings.retention_days = 1  # type: ignore[misc]


def test_every_setting_has_help_text() -> None:
    for f in settings_fields():
        assert isinstance(f.metadata.get("help"), str) and f.metadata["help"].strip(), f.name


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z0-9_]+)` \|", text, flags=re.MULTILINE))
    assert set(FIELD_NAMES) <= documented, sorted(set(FIELD_NAMES) - documented)


def test_config_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("environment: producción\n".encode("latin-1"))
    with pytest.raises(ConfigError):
        load_settings(path)


def test_a_setting_can_be_read_from_the_file_a_file_variable_names(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("xoxb-from-secret-manager\n", encoding="utf-8")
    environ = {"PERFGUARD_SLACK_BOT_TOKEN_FILE": str(secret), "PERFGUARD_SLACK_CHANNEL": "C0ALERTS"}
    settings = load_settings(environ=environ)
    assert settings.slack_bot_token == "xoxb-from-secret-manager"


def test_an_unreadable_secret_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PERFGUARD_SLACK_BOT_TOKEN_FILE: cannot read"):
        load_settings(environ={"PERFGUARD_SLACK_BOT_TOKEN_FILE": str(tmp_path / "missing")})


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PERFGUARD_SMTP_HOST": "smtp.example.com"}, "'smtp_to' names no recipient"),
        ({"PERFGUARD_SLACK_BOT_TOKEN": "xoxb-1"}, "'slack_bot_token' needs 'slack_channel'"),
    ],
)
def test_a_half_configured_channel_stops_the_start(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=environ)


def test_a_setting_and_its_file_variable_together_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("a", encoding="utf-8")
    environ = {"PERFGUARD_SLACK_WEBHOOK_URL_FILE": str(secret), "PERFGUARD_SLACK_WEBHOOK_URL": "b"}
    with pytest.raises(ConfigError, match="set either PERFGUARD_SLACK_WEBHOOK_URL_FILE or PERFGUARD_SLACK_WEBHOOK_URL"):
        load_settings(environ=environ)
