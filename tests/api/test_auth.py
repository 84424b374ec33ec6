"""API keys: scopes (admin implies all), 401 for a missing/unknown key, 403 naming the scope, the keys file."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfguard.api.auth import ADMIN, INGEST, READ, SCOPES, KeyRing, key, load_keys_file
from perfguard.errors import AuthenticationError, ConfigError, PermissionDenied

RING = KeyRing(
    [
        key("gateway", "gw-secret", [INGEST]),
        key("dashboards", "dash-secret", [READ]),
        key("ops", "ops-secret", [ADMIN]),
        key("both", "both-secret", [INGEST, READ]),
    ]
)


def keys_file(tmp_path: Path, text: str, name: str = "keys.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_scopes_are_ingest_read_admin() -> None:
    assert {"ingest", "read", "admin"} == SCOPES


@pytest.mark.parametrize(
    ("secret", "scope", "name"),
    [
        ("gw-secret", INGEST, "gateway"),
        ("dash-secret", READ, "dashboards"),
        ("ops-secret", INGEST, "ops"),
        ("ops-secret", READ, "ops"),
        ("ops-secret", ADMIN, "ops"),
        ("both-secret", INGEST, "both"),
        ("both-secret", READ, "both"),
    ],
)
def test_key_with_the_scope_is_accepted(secret: str, scope: str, name: str) -> None:
    assert RING.authenticate(f"Bearer {secret}", scope).name == name


@pytest.mark.parametrize(
    ("secret", "scope", "name"),
    [("gw-secret", READ, "gateway"), ("dash-secret", INGEST, "dashboards"), ("both-secret", ADMIN, "both")],
)
def test_key_without_the_scope_is_denied_naming_it(secret: str, scope: str, name: str) -> None:
    with pytest.raises(PermissionDenied) as info:
        RING.authenticate(f"Bearer {secret}", scope)
    assert str(info.value) == f"API key '{name}' lacks the '{scope}' scope"


def test_admin_allows_every_scope() -> None:
    ops = key("ops", "s", [ADMIN])
    assert all(ops.allows(scope) for scope in SCOPES)
    assert not key("g", "s", [INGEST]).allows(READ)


def test_surrounding_spaces_around_the_key_are_ignored() -> None:
    assert RING.authenticate("Bearer   gw-secret  ", INGEST).name == "gateway"


@pytest.mark.parametrize("header", ["Bearer wrong", "Bearer gw-secret2", "Bearer GW-SECRET"])
def test_unknown_key_is_unauthenticated(header: str) -> None:
    with pytest.raises(AuthenticationError, match="^unknown API key$"):
        RING.authenticate(header, INGEST)


@pytest.mark.parametrize("header", [None, "", "gw-secret", "Basic gw-secret", "Token gw-secret", "Bearer", "Bearer "])
def test_missing_or_malformed_header_is_unauthenticated(header: str | None) -> None:
    with pytest.raises(AuthenticationError, match="send the API key as 'Authorization: Bearer <key>'"):
        RING.authenticate(header, INGEST)


def test_empty_ring_says_no_keys_are_configured() -> None:
    ring = KeyRing([])
    assert len(ring) == 0
    with pytest.raises(AuthenticationError, match="no API keys are configured on this server"):
        ring.authenticate("Bearer anything", READ)


def test_ring_length_counts_keys() -> None:
    assert len(RING) == 4


def test_secret_is_kept_only_as_a_digest() -> None:
    api_key = key("gateway", "gw-secret", [INGEST])
    assert len(api_key.digest) == 32
    assert b"gw-secret" not in api_key.digest
    assert "gw-secret" not in repr(api_key)


@pytest.mark.parametrize(
    ("secret", "scopes", "message"),
    [
        ("", [READ], "API key 'k' has an empty secret"),
        ("s", [], "API key 'k' needs scopes from ['admin', 'ingest', 'read'], got []"),
        ("s", ["write"], "API key 'k' needs scopes from ['admin', 'ingest', 'read'], got ['write']"),
        ("s", [READ, "owner"], "got ['owner', 'read']"),
    ],
)
def test_invalid_key_definitions_are_config_errors(secret: str, scopes: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        key("k", secret, scopes)
    assert message in str(info.value)


def test_keys_file_in_yaml(tmp_path: Path) -> None:
    path = keys_file(
        tmp_path,
        '- {name: gateway, key: "long-random-secret", scopes: [ingest]}\n'
        "- name: dashboards\n  key: another-secret\n  scopes: [read, ingest]\n",
    )
    ring = KeyRing(load_keys_file(path))
    assert len(ring) == 2
    assert ring.authenticate("Bearer another-secret", INGEST).scopes == {READ, INGEST}
    with pytest.raises(PermissionDenied):
        ring.authenticate("Bearer long-random-secret", READ)


def test_keys_file_in_json(tmp_path: Path) -> None:
    path = keys_file(tmp_path, '[{"name": "ops", "key": "s3", "scopes": ["admin"]}]', "keys.json")
    (ops,) = load_keys_file(path)
    assert (ops.name, ops.scopes) == ("ops", {ADMIN})


def test_numeric_secret_in_the_file_is_read_as_text(tmp_path: Path) -> None:
    (numeric,) = load_keys_file(keys_file(tmp_path, "- {name: n, key: 12345, scopes: [read]}\n"))
    assert KeyRing([numeric]).authenticate("Bearer 12345", READ).name == "n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{name: a, key: b, scopes: [read]}\n", "must hold a list of {name, key, scopes}"),
        ("", "must hold a list of {name, key, scopes}"),
        ("- {name: a, key: b}\n", "entry 0 needs name, key and scopes"),
        ("- {name: a, key: b, scopes: [read]}\n- just-a-string\n", "entry 1 needs name, key and scopes"),
        ("- {name: a, key: b, scopes: [superuser]}\n", "API key 'a' needs scopes from"),
        ("- {name: a, key: '', scopes: [read]}\n", "API key 'a' has an empty secret"),
        ("- {name: a, key: [unclosed\n", "cannot read API keys file"),
    ],
)
def test_keys_file_errors_are_config_errors(tmp_path: Path, text: str, message: str) -> None:
    path = keys_file(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_keys_file(path)
    assert message in str(info.value)


def test_missing_keys_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read API keys file .*absent.yaml"):
        load_keys_file(tmp_path / "absent.yaml")


def test_null_secret_in_the_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="empty secret"):
        load_keys_file(keys_file(tmp_path, "- {name: a, key: , scopes: [admin]}\n"))


def test_null_scopes_in_the_file_are_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_keys_file(keys_file(tmp_path, "- {name: a, key: s, scopes: }\n"))


def test_keys_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_bytes("- {name: caf\xe9, key: s, scopes: [read]}\n".encode("latin-1"))
    with pytest.raises(ConfigError):
        load_keys_file(path)


def test_the_bearer_scheme_is_case_insensitive() -> None:
    assert RING.authenticate("bearer gw-secret", INGEST).name == "gateway"
