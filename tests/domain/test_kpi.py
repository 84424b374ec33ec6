"""KPI status against targets in both directions, and the dashboard's worst status."""

from __future__ import annotations

import pytest

from perfguard.domain.kpi import AT_RISK, BREACH, NO_DATA, OK, Kpi, Reading, dashboard, default_kpis, status_of, worst
from tests.seed import KPI_KEYS

LATENCY = Kpi("lat", "P95 latency", target=2000.0, higher_is_better=False, warn_at=1600.0, unit="ms", source="x")
CRASH_FREE = Kpi("cf", "Crash-free", target=99.5, higher_is_better=True, warn_at=99.7, unit="%", source="y")


@pytest.mark.parametrize(
    ("value", "status"),
    [(2500.0, BREACH), (2000.01, BREACH), (2000.0, AT_RISK), (1600.01, AT_RISK), (1600.0, OK), (10.0, OK)],
)
def test_lower_is_better(value: float, status: str) -> None:
    assert status_of(LATENCY, Reading(value, 100)) == status


@pytest.mark.parametrize(
    ("value", "status"),
    [(98.0, BREACH), (99.49, BREACH), (99.5, AT_RISK), (99.69, AT_RISK), (99.7, OK), (100.0, OK)],
)
def test_higher_is_better(value: float, status: str) -> None:
    assert status_of(CRASH_FREE, Reading(value, 100)) == status


def test_no_value_is_no_data() -> None:
    assert status_of(LATENCY, Reading(None, 100)) == NO_DATA


def test_too_few_samples_is_no_data_even_when_breaching() -> None:
    kpi = Kpi("lat", "P95", 2000.0, False, 1600.0, "ms", "x", min_samples=20)
    assert status_of(kpi, Reading(9999.0, 19)) == NO_DATA
    assert status_of(kpi, Reading(9999.0, 20)) == BREACH


def test_default_kpis_are_those_of_the_design() -> None:
    kpis = {k.key: k for k in default_kpis()}
    assert tuple(kpis) == KPI_KEYS
    expected = {
        "api_latency_p95": (2000.0, False),
        "crash_free_sessions": (99.5, True),
        "swap_success_rate": (90.0, True),
        "swap_completion_median": (30.0, False),
        "d1_retention": (25.0, True),
        "retention_4w": (15.0, True),
        "canister_cycles_runway": (30.0, True),
        "canister_memory_headroom": (25.0, True),
    }
    assert {key: (k.target, k.higher_is_better) for key, k in kpis.items()} == expected


def test_warning_levels_sit_on_the_safe_side_of_each_target() -> None:
    for kpi in default_kpis():
        assert (kpi.warn_at > kpi.target) if kpi.higher_is_better else (kpi.warn_at < kpi.target), kpi.key


def test_latency_kpi_follows_the_configured_threshold() -> None:
    latency = default_kpis(1500.0)[0]
    assert (latency.target, latency.warn_at, latency.min_samples) == (1500.0, 1200.0, 20)


def test_dashboard_lists_every_default_kpi_with_its_fields() -> None:
    kpis = default_kpis()
    result = dashboard(kpis, {"api_latency_p95": Reading(1200.0, 500, "last 60 min")})
    assert [entry["key"] for entry in result["kpis"]] == [k.key for k in kpis]
    latency = result["kpis"][0]
    assert latency == {
        "key": "api_latency_p95",
        "name": "P95 API latency",
        "target": 2000.0,
        "comparator": "<=",
        "at_risk_level": 1600.0,
        "value": 1200.0,
        "unit": "ms",
        "status": OK,
        "sample_size": 500,
        "source": "performance_metrics (api_latency)",
        "note": "last 60 min",
        "parts": [],
    }
    crash = result["kpis"][1]
    assert (crash["comparator"], crash["status"], crash["value"], crash["sample_size"]) == (">=", NO_DATA, None, 0)
    assert crash["note"] == "no source yet: Firebase Crashlytics + sessions export"


@pytest.mark.parametrize(
    ("readings", "overall"),
    [
        ({}, NO_DATA),
        ({"lat": Reading(100.0, 5), "cf": Reading(99.9, 5)}, OK),
        ({"lat": Reading(100.0, 5)}, NO_DATA),
        ({"lat": Reading(1700.0, 5)}, AT_RISK),
        ({"lat": Reading(1700.0, 5), "cf": Reading(99.0, 5)}, BREACH),
        ({"lat": Reading(100.0, 5), "cf": Reading(99.6, 5)}, AT_RISK),
    ],
)
def test_overall_status_is_the_worst(readings: dict[str, Reading], overall: str) -> None:
    assert dashboard([LATENCY, CRASH_FREE], readings)["overall_status"] == overall


def test_dashboard_of_no_kpis_has_no_data() -> None:
    assert dashboard([], {}) == {"overall_status": NO_DATA, "kpis": []}


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], NO_DATA),
        ([OK], OK),
        ([OK, NO_DATA], NO_DATA),
        ([NO_DATA, AT_RISK, OK], AT_RISK),
        ([AT_RISK, BREACH], BREACH),
    ],
)
def test_worst_orders_breach_at_risk_no_data_ok(statuses: list[str], expected: str) -> None:
    assert worst(statuses) == expected


def test_parts_are_listed_by_name_with_their_own_status() -> None:
    reading = Reading(1500.0, 100, parts={"/swap": Reading(2500.0, 40), "/auth": Reading(100.0, 60)})
    (entry,) = dashboard([LATENCY], {"lat": reading})["kpis"]
    assert entry["parts"] == [
        {"name": "/auth", "value": 100.0, "sample_size": 60, "status": OK},
        {"name": "/swap", "value": 2500.0, "sample_size": 40, "status": BREACH},
    ]


@pytest.mark.parametrize(
    ("parts", "status"),
    [
        ({"/a": Reading(100.0, 5), "/b": Reading(100.0, 5)}, OK),
        ({"/a": Reading(100.0, 5), "/b": Reading(1700.0, 5)}, AT_RISK),
        ({"/a": Reading(1700.0, 5), "/b": Reading(2100.0, 5)}, BREACH),
        ({"/a": Reading(100.0, 5), "/b": Reading(None, 0)}, OK),  # a part without data does not fail the KPI
    ],
)
def test_a_kpi_holds_only_if_every_part_holds(parts: dict[str, Reading], status: str) -> None:
    (entry,) = dashboard([LATENCY], {"lat": Reading(100.0, 10, parts=parts)})["kpis"]
    assert entry["status"] == status


def test_failing_part_raises_the_overall_status() -> None:
    reading = Reading(100.0, 10, parts={"/swap": Reading(2100.0, 5)})
    assert dashboard([LATENCY], {"lat": reading})["overall_status"] == BREACH


def test_kpi_without_enough_data_stays_no_data_whatever_its_parts() -> None:
    kpi = Kpi("lat", "P95", 2000.0, False, 1600.0, "ms", "x", min_samples=20)
    reading = Reading(2500.0, 5, parts={"/swap": Reading(2500.0, 25)})
    (entry,) = dashboard([kpi], {"lat": reading})["kpis"]
    assert (entry["status"], entry["parts"][0]["status"]) == (NO_DATA, BREACH)
