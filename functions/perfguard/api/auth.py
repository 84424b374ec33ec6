"""API keys with scopes. Keys are kept only as SHA-256 digests and compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from perfguard.errors import AuthenticationError, ConfigError, PermissionDenied

INGEST, READ, ADMIN = "ingest", "read", "admin"
SCOPES = frozenset({INGEST, READ, ADMIN})


@dataclass(frozen=True)
class ApiKey:
    """A named key with its scopes; `admin` grants every scope."""

    name: str
    digest: bytes
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        """Whether this key may call a function that needs `scope`."""
        return ADMIN in self.scopes or scope in self.scopes


class KeyRing:
    """The API keys a process accepts."""

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self._keys = list(keys)

    def __len__(self) -> int:
        return len(self._keys)

    def authenticate(self, authorization: str | None, scope: str) -> ApiKey:
        """The key of an `Authorization: Bearer <key>` header, if it has `scope`."""
        if not self._keys:
            raise AuthenticationError("no API keys are configured on this server; see docs/configuration.md")
        scheme, _, secret = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():  # the scheme name is case-insensitive (RFC 9110)
            raise AuthenticationError("send the API key as 'Authorization: Bearer <key>'")
        digest = _digest(secret.strip())
        # Compare against every key so the time taken does not reveal which one nearly matched.
        matches = [key for key in self._keys if hmac.compare_digest(key.digest, digest)]
        if not matches:
            raise AuthenticationError("unknown API key")
        if not matches[0].allows(scope):
            raise PermissionDenied(f"API key '{matches[0].name}' lacks the '{scope}' scope")
        return matches[0]


def key(name: str, secret: str, scopes: Iterable[str]) -> ApiKey:
    """An ApiKey from its secret; unknown scopes are a ConfigError."""
    wanted = frozenset(scopes)
    if not secret:
        raise ConfigError(f"API key '{name}' has an empty secret")
    if not wanted or wanted - SCOPES:
        raise ConfigError(f"API key '{name}' needs scopes from {sorted(SCOPES)}, got {sorted(wanted)}")
    return ApiKey(name, _digest(secret), wanted)


def load_keys_file(path: Path) -> list[ApiKey]:
    """Keys from a YAML or JSON list of {name, key, scopes} (in the cloud, a Secret Manager volume)."""
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read API keys file {path}: {exc}") from exc
    if not isinstance(entries, list):
        raise ConfigError(f"API keys file {path} must hold a list of {{name, key, scopes}}")
    return [_entry(path, index, entry) for index, entry in enumerate(entries)]


def _entry(path: Path, index: int, entry: Any) -> ApiKey:
    if not isinstance(entry, Mapping) or not {"name", "key", "scopes"} <= set(entry):
        raise ConfigError(f"API keys file {path}: entry {index} needs name, key and scopes")
    secret, scopes = entry["key"], entry["scopes"]
    if secret is None:  # `key:` left empty: never let it become the text "None"
        secret = ""
    if isinstance(secret, bool) or not isinstance(secret, (str, int)):
        raise ConfigError(f"API keys file {path}: entry {index} needs the key as text")
    if not isinstance(scopes, list) or not all(isinstance(scope, str) for scope in scopes):
        raise ConfigError(f"API keys file {path}: entry {index} needs scopes as a list, e.g. [ingest]")
    return key(str(entry["name"]), str(secret), scopes)


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()
