"""The ICP agent adapter: canister_status as a query and cycle top-ups through a funding wallet (icp-py-core).

Agent errors are translated at this boundary into `CanisterCallError` with a kind (`timeout`, `reject` or
`error`) and a message that names no URL or key. The reply's Candid record comes back with hashed field
names (the agent decodes without a type, which is what makes the decoding lenient: any subset of fields
decodes); known names are restored from their hashes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2
import httpx
from icp_agent import Agent, Client
from icp_candid import Types
from icp_candid.candid import idl_hash
from icp_core.errors import ICError, ReplicaReject, TimeoutWaitingForResponse, TransportError
from icp_identity import Identity

# The agent's transport (httpx) logs every request at INFO: a poll of many canisters a minute would flood the log.
logging.getLogger("httpx").setLevel(logging.WARNING)
MANAGEMENT = "aaaaa-aa"
TIMEOUT, REJECT, ERROR = "timeout", "reject", "error"
# Every field name of canister_status_result (icp-canisters.md §1.2) and of the wallet's result.
KNOWN_NAMES = [
    "status",
    "running",
    "stopping",
    "stopped",
    "ready_for_migration",
    "version",
    "settings",
    "controllers",
    "compute_allocation",
    "memory_allocation",
    "freezing_threshold",
    "reserved_cycles_limit",
    "log_visibility",
    "public",
    "allowed_viewers",
    "wasm_memory_limit",
    "wasm_memory_threshold",
    "environment_variables",
    "module_hash",
    "memory_size",
    "memory_metrics",
    "wasm_memory_size",
    "stable_memory_size",
    "global_memory_size",
    "wasm_binary_size",
    "custom_sections_size",
    "canister_history_size",
    "wasm_chunk_store_size",
    "snapshots_size",
    "log_memory_store_size",
    "cycles",
    "reserved_cycles",
    "idle_cycles_burned_per_day",
    "query_stats",
    "num_calls_total",
    "num_instructions_total",
    "request_payload_bytes_total",
    "response_payload_bytes_total",
    "Ok",
    "Err",
]
NAMES_BY_HASH = {str(idl_hash(name)): name for name in KNOWN_NAMES}
_STATUS_ARG = Types.Record({"canister_id": Types.Principal})
_WALLET_SEND = Types.Record({"canister": Types.Principal, "amount": Types.Nat})


class CanisterCallError(Exception):
    """A call to a canister failed: kind timeout, reject (with the reject code) or error."""

    def __init__(self, kind: str, message: str, reject_code: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.reject_code = reject_code


@dataclass(frozen=True)
class TopUpResult:
    """What a top-up came to: ok, refused (the wallet said no: nothing moved) or unknown (no answer)."""

    outcome: str
    detail: str = ""


def make_agent(replica_url: str, identity_pem: str = "", connections: int = 16, timeout: float = 60.0) -> Agent:
    """An agent for `replica_url`, signing as the PEM identity (a controller) or anonymously."""
    identity = Identity.from_pem(identity_pem) if identity_pem else Identity(anonymous=True)
    return Agent(identity, PooledClient(replica_url, connections, timeout))


class PooledClient(Client):  # type: ignore[misc]  # icp-py-core is untyped
    """icp-py-core's HTTP client on one pooled httpx.Client.

    The library's sync client calls `httpx.post` per request, which builds a new TLS context each time
    (~35 ms of CPU loading the CA bundle, under the GIL): 100 canisters a minute spent seconds on it
    (bench/README.md). This keeps the same endpoints and errors, with connections and TLS set up once.
    """

    def __init__(self, url: str, connections: int, timeout: float) -> None:
        super().__init__(url)
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self._http = httpx.Client(limits=limits, timeout=timeout)

    def query(self, canister_id: str, data: bytes, *, timeout: Any = None) -> bytes:
        """POST /api/v3/canister/<id>/query."""
        return self._post(f"{self.url}/api/v3/canister/{canister_id}/query", data, timeout).content

    def call(self, canister_id: str, data: bytes, *, timeout: Any = None) -> httpx.Response:
        """POST /api/v4/canister/<id>/call (synchronous call; 202 when still running)."""
        return self._post(f"{self.url}/api/v4/canister/{canister_id}/call", data, timeout)

    def read_state(self, canister_id: str, data: bytes, *, timeout: Any = None) -> bytes:
        """POST /api/v3/canister/<id>/read_state."""
        return self._post(f"{self.url}/api/v3/canister/{canister_id}/read_state", data, timeout).content

    def read_state_subnet(self, subnet_id: str, data: bytes, *, timeout: Any = None) -> bytes:
        """POST /api/v3/subnet/<id>/read_state."""
        return self._post(f"{self.url}/api/v3/subnet/{subnet_id}/read_state", data, timeout).content

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def _post(self, endpoint: str, data: bytes, timeout: Any) -> httpx.Response:
        headers = {"Content-Type": "application/cbor"}
        try:
            response = self._http.post(endpoint, content=data, headers=headers, timeout=timeout or self._http.timeout)
            response.raise_for_status()
        except (httpx.HTTPStatusError, httpx.RequestError) as exc:
            raise TransportError(endpoint, exc) from exc
        return response


def close_agent(agent: Agent) -> None:
    """Close an agent's connections (one made by make_agent)."""
    if isinstance(agent.client, PooledClient):
        agent.client.close()


def read_status(agent: Agent, canister_id: str, timeout: float) -> dict[str, Any]:
    """canister_status of `canister_id` as a query, with its field names restored."""
    arg = [{"type": _STATUS_ARG, "value": {"canister_id": canister_id}}]
    try:
        reply = agent.query(MANAGEMENT, "canister_status", arg, effective_canister_id=canister_id, timeout=timeout)
    except Exception as exc:  # the agent raises bare RuntimeErrors and decoder errors as well as ICError
        raise _translated(exc) from exc
    if not isinstance(reply, list) or not reply or not isinstance(reply[0], Mapping):
        raise CanisterCallError(ERROR, "canister_status replied with no Candid value")
    fields = named(reply[0].get("value"))
    if not isinstance(fields, dict):
        raise CanisterCallError(ERROR, "canister_status replied with something other than a record")
    return fields


def top_up(agent: Agent, wallet_id: str, canister_id: str, amount: int, timeout: float) -> TopUpResult:
    """Send `amount` cycles from the funding wallet to a canister (wallet_send128, an update call)."""
    arg = [{"type": _WALLET_SEND, "value": {"canister": canister_id, "amount": amount}}]
    try:
        # The certificate's BLS signature needs the `blst` binding, which is not on PyPI (docs/canisters.md).
        reply = agent.update(wallet_id, "wallet_send128", arg, verify_certificate=False, timeout=timeout)
    except ReplicaReject as exc:
        return TopUpResult("refused", f"reject code {exc.reject_code}: {exc.reject_message}")
    except Exception as exc:
        # Sent, maybe executed: only a balance read can tell, so never retry this blindly.
        return TopUpResult("unknown", _translated(exc).args[0])
    result = named(reply[0].get("value")) if isinstance(reply, list) and reply else None
    if isinstance(result, dict) and "Ok" in result:
        return TopUpResult("ok")
    if isinstance(result, dict) and "Err" in result:
        return TopUpResult("refused", str(result["Err"]))
    return TopUpResult("unknown", "the wallet's reply was neither Ok nor Err")


def named(value: Any) -> Any:
    """A decoded Candid value with the record and variant keys it knows turned back into names."""
    if isinstance(value, dict):
        return {NAMES_BY_HASH.get(str(key), str(key)): named(item) for key, item in value.items()}
    if isinstance(value, list):
        return [named(item) for item in value]
    return value


def _translated(exc: Exception) -> CanisterCallError:
    if isinstance(exc, TimeoutWaitingForResponse) or (
        isinstance(exc, TransportError) and isinstance(exc.original_error, httpx.TimeoutException)
    ):
        return CanisterCallError(TIMEOUT, "no answer within the timeout")
    if isinstance(exc, ReplicaReject):
        return CanisterCallError(REJECT, f"rejected (code {exc.reject_code}): {exc.reject_message}", exc.reject_code)
    if isinstance(exc, TransportError):
        return CanisterCallError(ERROR, f"transport failed: {_transport_detail(exc.original_error)}")
    if isinstance(exc, (ICError, cbor2.CBORDecodeError, RuntimeError, ValueError, KeyError, TypeError)):
        return CanisterCallError(ERROR, f"malformed answer ({type(exc).__name__})")
    return CanisterCallError(ERROR, f"call failed ({type(exc).__name__})")


def _transport_detail(error: Exception) -> str:
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    return type(error).__name__
