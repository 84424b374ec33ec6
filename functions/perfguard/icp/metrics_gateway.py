"""The HTTP gateway adapter: a canister's Prometheus `/metrics` page, fetched with a timeout and a size cap."""

from __future__ import annotations

import urllib3

from perfguard.icp.agent import ERROR, TIMEOUT, CanisterCallError

MAX_BYTES = 8 * 1024 * 1024  # a metrics page beyond this is a misconfiguration, not something to parse


def metrics_url(template: str, canister_id: str) -> str:
    """The page's URL: `template` with {canister_id} filled in (mainnet: https://{canister_id}.raw.icp0.io/metrics)."""
    return template.replace("{canister_id}", canister_id)


def fetch_metrics(pool: urllib3.PoolManager, url: str, timeout: float) -> str:
    """The page's text; CanisterCallError on a timeout, a non-200 answer or a page that is not UTF-8."""
    try:
        response = pool.request(
            "GET", url, timeout=urllib3.Timeout(total=timeout), retries=False, redirect=False, preload_content=False
        )
        body = response.read(MAX_BYTES + 1)
        response.release_conn()
    except urllib3.exceptions.TimeoutError as exc:
        raise CanisterCallError(TIMEOUT, "metrics page: no answer within the timeout") from exc
    except urllib3.exceptions.HTTPError as exc:
        raise CanisterCallError(ERROR, f"metrics page: {type(exc).__name__}") from exc
    if response.status != 200:
        raise CanisterCallError(ERROR, f"metrics page: HTTP {response.status}")
    if len(body) > MAX_BYTES:
        raise CanisterCallError(ERROR, f"metrics page larger than {MAX_BYTES} bytes")
    try:
        return bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CanisterCallError(ERROR, "metrics page is not UTF-8") from exc
