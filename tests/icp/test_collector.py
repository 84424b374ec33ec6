"""The collector with a source that hangs: the others are read, the hung one is a timeout at the deadline;
a page alone gives a status when canister_status is refused; a bad status reply is an error, not a crash."""

from __future__ import annotations

import threading
from typing import Any

from perfguard.domain.canister_config import CanisterConfig
from perfguard.icp.agent import REJECT, CanisterCallError
from perfguard.icp.collector import collect

PAGE = 'cycle_balance{canister="x"} 25731649271052 1735689600000\nheap_memory_bytes 1000\nstable_memory_bytes 24\n'


class Source:
    """A canister source whose canisters answer, hang, refuse or reply nonsense, by name."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def status(self, canister_id: str, timeout: float) -> dict[str, Any]:
        if canister_id.startswith("hang"):
            self.release.wait(30)
        if canister_id.startswith("refused"):
            raise CanisterCallError(REJECT, "rejected (code 4): not a controller", 4)
        if canister_id.startswith("odd"):
            return {"cycles": "lots"}
        return {"cycles": 7}

    def metrics(self, url: str, timeout: float) -> str:
        if "nopage" in url:
            raise CanisterCallError("error", "metrics page: HTTP 404")
        return PAGE


def config(canister_id: str) -> CanisterConfig:
    return CanisterConfig(canister_id, canister_id.split("-")[0])


def test_a_hung_canister_is_a_timeout_and_holds_up_no_other() -> None:
    source = Source()
    configs = [config(f"{kind}-aaaaa-aaaaa-aaaaa-cai") for kind in ("ok", "hang", "refused", "odd", "nopage")]
    try:
        readings = collect(configs, source, "http://gateway/{canister_id}/metrics", timeout=0.05, concurrency=4)
    finally:
        source.release.set()
    by_name = {r.config.name: r for r in readings}
    assert [r.config.name for r in readings] == ["ok", "hang", "refused", "odd", "nopage"]
    assert (by_name["ok"].outcome, by_name["ok"].status and by_name["ok"].status.cycles) == ("ok", 7)
    assert by_name["hang"].outcome == "timeout" and "deadline" in (by_name["hang"].error or "")
    refused = by_name["refused"]  # canister_status refused, the page gives cycles and memory
    assert refused.outcome == "ok" and refused.status is not None
    assert (refused.status.cycles, refused.status.wasm_memory_size, refused.status.memory_size) == (
        25731649271052, 1000, 1024,
    )  # fmt: skip
    assert "not a controller" in (refused.error or "")
    odd = by_name["odd"]  # a reply without usable cycles, but a page with them
    assert odd.outcome == "ok" and "no `cycles`" in (odd.error or "")
    assert by_name["nopage"].outcome == "ok" and "HTTP 404" in (by_name["nopage"].error or "")


def test_nothing_to_read_reads_nothing() -> None:
    assert collect([], Source(), "http://x/{canister_id}", 1.0, 4) == []
