"""Send performance metrics from a backend service to perfguard, in the background.

`PerfguardClient.record()` only builds a small record (its id and timestamp are fixed there) and puts it on
a bounded queue; a daemon thread batches the queue and POSTs it as JSON to the `record_performance_metric`
function. Monitoring must never hurt the host, so the client is lossy by design: a full queue drops (and
counts) instead of blocking, a batch that still fails after its retries is dropped (and counted), and no
internal error ever reaches the caller. Retries resend the same record ids, and the server stores each id
once, so a retried batch is never counted twice.

Example::

    from perfguard.client import PerfguardClient

    client = PerfguardClient("https://REGION-PROJECT.cloudfunctions.net", api_key=key, release="1.4.2")
    client.record("canister_cycles", "swap_canister", 3.2e12, "cycles", tags={"canister": "swap"})
    with client.time("POST /swap"):  # api_latency in ms, tagged status=ok or status=error
        handle_swap()
    client.stats()  # {'sent': 2, 'dropped': 0, 'rejected': 0, 'failed': 0}

Modules: `sdk` (PerfguardClient: record, flush, close, fork and exit), `timer` (`time()`), `buffer` (the
bounded queue), `delivery` (encoding, retries, splitting, counts), `transport` (HTTP), `records` (the
record format and the server's limits). Guide and HTTP contract: docs/client.md.

Standalone on purpose: it imports only the standard library and urllib3, none of the server's modules,
so a backend can vendor or install it alone. Modelled on sentry-python's `BackgroundWorker` and transport.
"""

from perfguard.client.delivery import Stats
from perfguard.client.delivery import _parse_retry_after as _parse_retry_after  # for the tests
from perfguard.client.records import MAX_BATCH as MAX_BATCH  # the server's limits, importable as before the split
from perfguard.client.records import MAX_BODY_BYTES as MAX_BODY_BYTES
from perfguard.client.records import METRIC_TYPES, UNITS
from perfguard.client.sdk import PerfguardClient
from perfguard.client.transport import Reply, Transport, Urllib3Transport

__all__ = ["METRIC_TYPES", "UNITS", "PerfguardClient", "Reply", "Stats", "Transport", "Urllib3Transport"]
