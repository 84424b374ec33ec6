"""The /metrics parser on the reference's fixtures and the format's edge cases."""

from __future__ import annotations

import math

from perfguard.domain.prometheus import histogram_quantile, histograms, parse, parse_value

FIXTURE_A = (
    "# HELP governance_stable_memory_size_bytes"
    " Size of the stable memory allocated by this canister measured in bytes.\n"
    "# TYPE governance_stable_memory_size_bytes gauge\n"
    "governance_stable_memory_size_bytes 503906304 1674031880551\n"
)

FIXTURE_C = """# HELP ckbtc_minter_cycle_balance Cycle balance on this canister.
# TYPE ckbtc_minter_cycle_balance gauge
ckbtc_minter_cycle_balance 38950142857212 1735689600000
# HELP ckbtc_minter_retrieve_btc_request_count Total count of incomplete retrieve btc requests, by status.
# TYPE ckbtc_minter_retrieve_btc_request_count gauge
ckbtc_minter_retrieve_btc_request_count{status="pending"} 3 1735689600000
ckbtc_minter_retrieve_btc_request_count{status="signing"} 0 1735689600000
ckbtc_minter_retrieve_btc_request_count{status="sending"} 1 1735689600000
ckbtc_minter_retrieve_btc_request_count{status="submitted"} 7 1735689600000
# HELP ckbtc_minter_finalized_requests Total number of finalized retrieve_btc requests.
# TYPE ckbtc_minter_finalized_requests counter
ckbtc_minter_finalized_requests 48213 1735689600000
"""

HISTOGRAM = """# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054 1395066363000
http_request_duration_seconds_bucket{le="0.1"} 33444 1395066363000
http_request_duration_seconds_bucket{le="0.2"} 100392 1395066363000
http_request_duration_seconds_bucket{le="0.5"} 129389 1395066363000
http_request_duration_seconds_bucket{le="1"} 133988 1395066363000
http_request_duration_seconds_bucket{le="+Inf"} 144320 1395066363000
http_request_duration_seconds_sum 53423 1395066363000
http_request_duration_seconds_count 144320 1395066363000
"""


def test_fixture_a_gives_the_gauge_with_its_ic_timestamp() -> None:
    page = parse(FIXTURE_A)
    [sample] = page.samples
    assert (sample.name, sample.value, sample.timestamp_ms) == (
        "governance_stable_memory_size_bytes",
        503906304,
        1674031880551,
    )
    assert page.types == {"governance_stable_memory_size_bytes": "gauge"}
    assert page.helps["governance_stable_memory_size_bytes"].startswith("Size of the stable memory")


def test_labeled_gauges_and_counters_of_fixture_c() -> None:
    page = parse(FIXTURE_C)
    assert page.by_label("ckbtc_minter_retrieve_btc_request_count", "status") == {
        "pending": 3,
        "signing": 0,
        "sending": 1,
        "submitted": 7,
    }
    assert page.first("ckbtc_minter_finalized_requests") == 48213
    assert page.types["ckbtc_minter_finalized_requests"] == "counter"
    assert page.errors == []


def test_integers_beyond_float_precision_keep_every_digit() -> None:
    big = 2**53 + 1  # 9007199254740993: a float would print ...992
    page = parse(f'cycle_balance{{canister="x"}} {big}\nhuge 123456789012345678901234567890\n')
    assert page.samples[0].value == big and isinstance(page.samples[0].value, int)
    assert page.samples[1].value == 123456789012345678901234567890


def test_special_floats_and_exponents() -> None:
    assert math.isnan(float(parse_value("NaN") or 0))
    assert parse_value("+Inf") == math.inf and parse_value("-Inf") == -math.inf
    assert parse_value("1.5e3") == 1500.0 and parse_value("-7") == -7
    assert parse_value("1_000") is None and parse_value("abc") is None and parse_value("²") is None


def test_escaped_label_values() -> None:
    page = parse('m{path="C:\\\\dir",quote="say \\"hi\\"",nl="a\\nb",} 1\n')
    assert dict(page.samples[0].labels) == {"path": "C:\\dir", "quote": 'say "hi"', "nl": "a\nb"}


def test_a_label_value_may_hold_braces_and_spaces() -> None:
    page = parse('m{route="/x/{id} y"} 2 17\n')
    assert page.samples[0].label("route") == "/x/{id} y" and page.samples[0].timestamp_ms == 17


def test_bad_lines_are_skipped_and_reported_the_rest_kept() -> None:
    page = parse('good 1\ncycle_balance{canister="x 12\nbad value\nalso_good 2 3\n')
    assert [s.name for s in page.samples] == ["good", "also_good"]
    assert [e.split(":")[0] for e in page.errors] == ["line 2", "line 3"]


def test_histogram_read_back_and_its_quantile() -> None:
    [(key, histogram)] = histograms(parse(HISTOGRAM)).items()
    assert key == ("http_request_duration_seconds", ())
    assert histogram.count == 144320 and histogram.sum == 53423
    assert histogram.buckets[-1] == (math.inf, 144320)
    # p50: rank 72160 lies in (0.1, 0.2]: 0.1 + 0.1 x (72160 - 33444) / (100392 - 33444)
    expected = 0.1 + 0.1 * (72160 - 33444) / (100392 - 33444)
    assert histogram_quantile(histogram, 0.5) == expected
    # p99 (rank 142876.8) falls in the +Inf bucket: the last finite bound, as Prometheus answers
    assert histogram_quantile(histogram, 0.99) == 1.0
