"""A fake ICP replica and HTTP gateway on loopback, serving simulated canisters to the real ICP agent.

It speaks the wire format icp-py-core uses, for the calls perfguard makes:

* `POST /api/v3/canister/<id>/query`: a CBOR envelope {content, sender_pubkey, sender_sig}; the management
  canister's `canister_status` (Candid record, encoded with the agent's own Candid encoder) answers
  `{"status": "replied", "reply": {"arg": DIDL...}}` or a reject;
* `POST /api/v4/canister/<id>/call`: a funding wallet's `wallet_send128` (a cycles top-up), answered
  synchronously with a certificate whose hash tree holds `request_status/<request id>/{status,reply}`;
* `GET /api/v2/status`; and the gateway's `GET /metrics?canisterId=<id>` (Prometheus text, as dfx serves
  a local canister's `http_request`).

What it does not do (docs/canisters.md): it checks no sender signature or ingress expiry, signs no query
response (icp-py-core verifies query signatures only when asked to), and its certificates carry a zero BLS
signature, so update calls need the agent's `verify_certificate=False`.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cbor2
from icp_agent.agent import to_request_id
from icp_candid import Types, decode, encode
from icp_principal import Principal

from perfguard.local.canister_sim import SimCanister, State

Clock = Callable[[], dt.datetime]
_STATUS = Types.Variant({"running": Types.Null, "stopping": Types.Null, "stopped": Types.Null})
_OLD_SETTINGS = {
    "controllers": Types.Vec(Types.Principal),
    "compute_allocation": Types.Nat,
    "memory_allocation": Types.Nat,
    "freezing_threshold": Types.Nat,
}
_SETTINGS = {
    **_OLD_SETTINGS,
    "reserved_cycles_limit": Types.Nat,
    "log_visibility": Types.Variant({"controllers": Types.Null, "public": Types.Null}),
    "wasm_memory_limit": Types.Nat,
    "wasm_memory_threshold": Types.Nat,
}
_MEMORY_METRICS_NAMES = (
    "wasm_memory_size",
    "stable_memory_size",
    "global_memory_size",
    "wasm_binary_size",
    "custom_sections_size",
    "canister_history_size",
    "wasm_chunk_store_size",
    "snapshots_size",
)
_QUERY_STATS_NAMES = (
    "num_calls_total",
    "num_instructions_total",
    "request_payload_bytes_total",
    "response_payload_bytes_total",
)
_MEMORY_METRICS = Types.Record(dict.fromkeys(_MEMORY_METRICS_NAMES, Types.Nat))
_QUERY_STATS = Types.Record(dict.fromkeys(_QUERY_STATS_NAMES, Types.Nat))
OLD_STATUS = Types.Record(
    {
        "status": _STATUS,
        "settings": Types.Record(_OLD_SETTINGS),
        "module_hash": Types.Opt(Types.Vec(Types.Nat8)),
        "memory_size": Types.Nat,
        "cycles": Types.Nat,
    }
)
STATUS = Types.Record(
    {
        "status": _STATUS,
        "ready_for_migration": Types.Bool,
        "version": Types.Nat64,
        "settings": Types.Record(_SETTINGS),
        "module_hash": Types.Opt(Types.Vec(Types.Nat8)),
        "memory_size": Types.Nat,
        "memory_metrics": _MEMORY_METRICS,
        "cycles": Types.Nat,
        "reserved_cycles": Types.Nat,
        "idle_cycles_burned_per_day": Types.Nat,
        "query_stats": _QUERY_STATS,
    }
)
WALLET_SEND = Types.Record({"canister": Types.Principal, "amount": Types.Nat})
WALLET_RESULT = Types.Variant({"Ok": Types.Null, "Err": Types.Text})
LEAF, LABELED, FORK = 3, 2, 1  # hash tree node tags (IC interface spec, "Certificate")


class FakeReplica:
    """Simulated canisters behind one loopback HTTP server: replica API and metrics gateway."""

    def __init__(
        self,
        canisters: Iterable[SimCanister],
        clock: Clock,
        wallet_id: str = "",
        wallet_cycles: int = 0,
    ) -> None:
        self.canisters = {c.canister_id: c for c in canisters}
        self.clock = clock
        self.wallet_id = wallet_id
        self.wallet_cycles = wallet_cycles
        self.requests: list[tuple[str, str]] = []  # (endpoint, method) of every request, for tests
        self.lock = threading.Lock()

    def status_reply(self, canister: SimCanister) -> bytes:
        """The Candid reply of canister_status for `canister` now (the older shape if its fault is `old`)."""
        now = self.clock()
        state = canister.state_at(now)
        if canister.fault == "old":
            return bytes(encode([{"type": OLD_STATUS, "value": _old_status(canister, state)}]))
        return bytes(encode([{"type": STATUS, "value": _status(canister, state, now)}]))

    def metrics_page(self, canister: SimCanister) -> str:
        """The canister's Prometheus text, stamped with the IC time in milliseconds as ic-metrics-encoder does."""
        now = self.clock()
        return metrics_text(canister, canister.state_at(now), int(now.timestamp() * 1000))

    def wallet_send(self, target: str, amount: int) -> tuple[bool, str]:
        """Move cycles from the funding wallet to a canister; (ok, error)."""
        with self.lock:
            canister = self.canisters.get(target)
            if canister is None:
                return False, f"canister {target} not found"
            if amount > self.wallet_cycles:
                return False, f"insufficient cycles: wallet holds {self.wallet_cycles}"
            self.wallet_cycles -= amount
            canister.deposit(self.clock(), amount)
            return True, ""


def _status(canister: SimCanister, state: State, now: dt.datetime) -> dict[str, Any]:
    settings = {
        "controllers": [],
        "compute_allocation": 0,
        "memory_allocation": 0,
        "freezing_threshold": canister.freezing_threshold,
        "reserved_cycles_limit": 5_000_000_000_000,
        "log_visibility": {"controllers": None},
        "wasm_memory_limit": canister.wasm_memory_limit,
        "wasm_memory_threshold": 0,
    }
    metrics = {**dict.fromkeys(_MEMORY_METRICS_NAMES, 0), "wasm_memory_size": state.heap_bytes,
               "stable_memory_size": state.stable_bytes}  # fmt: skip
    stats = {**dict.fromkeys(_QUERY_STATS_NAMES, 0), "num_calls_total": state.query_calls,
             "num_instructions_total": state.query_instructions}  # fmt: skip
    return {
        "status": {"running": None},
        "ready_for_migration": False,
        "version": 1 + sum(1 for moment, _ in canister.deploys if moment <= now),
        "settings": settings,
        "module_hash": [list(state.module_hash)],
        "memory_size": state.memory_bytes,
        "memory_metrics": metrics,
        "cycles": state.cycles,
        "reserved_cycles": 0,
        "idle_cycles_burned_per_day": state.idle_burn_per_day,
        "query_stats": stats,
    }


def _old_status(canister: SimCanister, state: State) -> dict[str, Any]:
    settings = {
        "controllers": [],
        "compute_allocation": 0,
        "memory_allocation": 0,
        "freezing_threshold": canister.freezing_threshold,
    }
    return {
        "status": {"running": None},
        "settings": settings,
        "module_hash": [list(state.module_hash)],
        "memory_size": state.memory_bytes,
        "cycles": state.cycles,
    }


def metrics_text(canister: SimCanister, state: State, stamp_ms: int) -> str:
    """Prometheus text with the common DFINITY names and per-method counters."""
    lines = [
        "# HELP cycle_balance Cycle balance of this canister.",
        "# TYPE cycle_balance gauge",
        f'cycle_balance{{canister="{canister.name}"}} {state.cycles} {stamp_ms}',
        "# HELP heap_memory_bytes Size of the heap memory allocated by this canister measured in bytes.",
        "# TYPE heap_memory_bytes gauge",
        f"heap_memory_bytes {state.heap_bytes} {stamp_ms}",
        "# HELP stable_memory_bytes Size of the stable memory allocated by this canister measured in bytes.",
        "# TYPE stable_memory_bytes gauge",
        f"stable_memory_bytes {state.stable_bytes} {stamp_ms}",
        "# HELP canister_method_calls_total Calls per method.",
        "# TYPE canister_method_calls_total counter",
    ]
    lines += [f'canister_method_calls_total{{method="{m}"}} {n} {stamp_ms}' for m, n in sorted(state.calls.items())]
    lines += [
        "# HELP canister_method_instructions_total Instructions executed per method.",
        "# TYPE canister_method_instructions_total counter",
    ]
    lines += [
        f'canister_method_instructions_total{{method="{m}"}} {n} {stamp_ms}'
        for m, n in sorted(state.instructions.items())
    ]
    return "\n".join(lines) + "\n"


def certificate(request_id: bytes, reply: bytes, now_ns: int) -> bytes:
    """A CBOR certificate whose tree says the request replied with `reply` (signature: zeros, unverifiable)."""
    request = [
        FORK,
        [LABELED, b"reply", [LEAF, reply]],
        [LABELED, b"status", [LEAF, b"replied"]],
    ]
    tree = [
        FORK,
        [LABELED, b"request_status", [LABELED, request_id, request]],
        [LABELED, b"time", [LEAF, _leb128(now_ns)]],
    ]
    return bytes(cbor2.dumps({"tree": tree, "signature": bytes(48)}))


def _leb128(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


class _Handler(BaseHTTPRequestHandler):
    replica: FakeReplica
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall between

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/api/v2/status":
            self._send(200, bytes(cbor2.dumps({"ic_api_version": "0.18.0"})), "application/cbor")
            return
        canister_id = urllib.parse.parse_qs(url.query).get("canisterId", [""])[0]
        canister = self.replica.canisters.get(canister_id)
        if url.path != "/metrics" or canister is None:
            self._send(404, b"not found", "text/plain")
            return
        self.replica.requests.append(("metrics", canister_id))
        if self._faulted(canister):
            return
        body = b'cycle_balance{canister="x 12 \n' if canister.fault == "malformed" else None
        text = body or self.replica.metrics_page(canister).encode()
        self._send(200, text, "text/plain; version=0.0.4")

    def do_POST(self) -> None:
        parts = self.path.strip("/").split("/")
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if len(parts) != 5 or parts[:2] not in (["api", "v3"], ["api", "v4"]) or parts[2] != "canister":
            self._send(404, b"not found", "text/plain")
            return
        try:
            content = cbor2.loads(body)["content"]
        except (cbor2.CBORDecodeError, KeyError, TypeError):
            self._send(400, b"Could not parse body as CBOR envelope", "text/plain")
            return
        if parts[4] == "query":
            self._query(parts[3], content)
        elif parts[4] == "call":
            self._call(parts[3], content)
        else:
            self._send(404, b"not found", "text/plain")

    def _query(self, effective_id: str, content: Mapping[str, Any]) -> None:
        method = str(content.get("method_name"))
        self.replica.requests.append(("query", method))
        canister = self.replica.canisters.get(effective_id)
        target = Principal(bytes(content.get("canister_id", b""))).to_str()
        if canister is None or target != "aaaaa-aa" or method != "canister_status":
            self._reply_cbor(_rejected(3, f"Canister {effective_id} has no query method '{method}'", "IC0302"))
            return
        if self._faulted(canister):
            return
        if canister.fault == "malformed":
            self._send(200, b"\xa1\x66status\x66replie", "application/cbor")
            return
        if canister.fault == "reject":
            message = f"Only controllers of canister {effective_id} can call ic00 method canister_status"
            self._reply_cbor(_rejected(5, message, "IC0512"))
            return
        self._reply_cbor({"status": "replied", "reply": {"arg": self.replica.status_reply(canister)}})

    def _call(self, effective_id: str, content: Mapping[str, Any]) -> None:
        method = str(content.get("method_name"))
        self.replica.requests.append(("call", method))
        if effective_id != self.replica.wallet_id or method != "wallet_send128":
            self._reply_cbor(_non_replicated(3, f"Canister {effective_id} has no update method '{method}'"))
            return
        argument = decode(bytes(content["arg"]), WALLET_SEND)[0]["value"]
        canister = argument["canister"]
        target = canister.to_str() if hasattr(canister, "to_str") else str(canister)
        ok, error = self.replica.wallet_send(target, int(argument["amount"]))
        value = {"Ok": None} if ok else {"Err": error}
        reply = encode([{"type": WALLET_RESULT, "value": value}])
        request_id = to_request_id(dict(content))
        now_ns = int(self.replica.clock().timestamp() * 1e9)
        self._reply_cbor({"status": "replied", "certificate": certificate(request_id, reply, now_ns)})

    def _faulted(self, canister: SimCanister) -> bool:
        """Act out a dead or slow canister; True when nothing more is to be sent."""
        if canister.delay_seconds:
            time.sleep(canister.delay_seconds)
        if canister.fault == "dead":
            self._send(503, b"no healthy nodes for this canister's subnet", "text/plain")
            return True
        return False

    def _reply_cbor(self, value: Mapping[str, Any]) -> None:
        # The self-describe tag 55799, as the real replica sends it (ic-py 1.0.1 breaks on it with cbor2 6).
        self._send(200, b"\xd9\xd9\xf7" + bytes(cbor2.dumps(value)), "application/cbor")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting (a slow canister's poller timed out)


def _rejected(code: int, message: str, error_code: str) -> dict[str, Any]:
    return {"status": "rejected", "reject_code": code, "reject_message": message, "error_code": error_code}


def _non_replicated(code: int, message: str) -> dict[str, Any]:
    return {"status": "non_replicated_rejection", "reject_code": code, "reject_message": message}


@contextmanager
def serving(replica: FakeReplica) -> Iterator[str]:
    """Serve the replica on a free loopback port; yields its base URL."""
    handler = type("FakeReplicaHandler", (_Handler,), {"replica": replica})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
