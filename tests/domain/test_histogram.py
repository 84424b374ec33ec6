"""Exponential histograms: bucket boundaries, quantiles against numpy and the ddsketch package, merging."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

import numpy as np
import pytest
from ddsketch import DDSketch

from perfguard.domain.histogram import (
    GAMMA,
    MIN_POSITIVE,
    RELATIVE_ACCURACY,
    SCALE,
    ZERO_BUCKET,
    bucket_of,
    bucket_value,
    histogram_quantile,
)

QUANTILES = (0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0)
# A value within an ulp of a bucket boundary may land in the neighbouring bucket (log2 rounds): that costs
# ~1e-16 of relative error on top of the guarantee, so the checks allow that and no more.
SLACK = 1e-12


def histogram(values: Iterable[float]) -> dict[int, int]:
    return dict(Counter(bucket_of(float(v)) for v in values))


def within(estimate: float, exact: float, accuracy: float = RELATIVE_ACCURACY) -> bool:
    return abs(estimate - exact) <= accuracy * abs(exact) + SLACK * max(1.0, abs(exact))


def exactly_in_bucket(value: float, bucket: int) -> bool:
    """value in (2^((bucket-1)/64), 2^(bucket/64)], decided in exact integer arithmetic."""

    def at_most_boundary(k: int) -> bool:  # value^64 <= 2^k
        num, den = value.as_integer_ratio()
        return num**64 << max(-k, 0) <= den**64 << max(k, 0)

    return at_most_boundary(bucket) and not at_most_boundary(bucket - 1)


def distributions() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "lognormal": rng.lognormal(mean=5.0, sigma=1.2, size=5000),
        "uniform": rng.uniform(10.0, 3000.0, size=3000),
        "bimodal": np.concatenate([rng.normal(80.0, 5.0, 3000), rng.normal(2500.0, 200.0, 400)]).clip(min=1.0),
        "constant": np.full(500, 250.0),
        "heavy tail": rng.pareto(1.5, size=4000) * 50.0 + 1.0,
        "with zeros": np.concatenate([np.zeros(50), rng.uniform(1.0, 100.0, 450)]),
        "one value": np.array([42.0]),
        "two values": np.array([10.0, 1000.0]),
        "three values": np.array([3.0, 7.0, 7000.0]),
    }


DISTRIBUTIONS = distributions()


# --- layout -----------------------------------------------------------------------------------------------------


def test_constants_describe_scale_6() -> None:
    assert SCALE == 6
    assert pytest.approx(2 ** (1 / 64), rel=1e-15) == GAMMA
    assert pytest.approx(0.005415, abs=1e-6) == RELATIVE_ACCURACY


def test_doctest_examples() -> None:
    assert (bucket_of(1.0), bucket_of(2.0), bucket_of(0.0)) == (0, 64, ZERO_BUCKET)


@pytest.mark.parametrize("n", range(-29, 41))
def test_powers_of_two_sit_in_their_own_bucket_as_upper_bound(n: int) -> None:
    # 2^n = 2^(64n/64) is the inclusive upper bound of bucket 64n: exactly representable, exactly placed.
    value = 2.0**n
    assert bucket_of(value) == 64 * n
    assert bucket_of(math.nextafter(value, 0.0)) == 64 * n
    assert bucket_of(value * 1.005) == 64 * n + 1  # 1.005 < GAMMA


@pytest.mark.parametrize("k", [-1000, -64, -1, 0, 1, 2, 63, 64, 65, 640, 1000, 1500])
def test_values_inside_bucket_k_map_to_k(k: int) -> None:
    low, high = GAMMA ** (k - 1), GAMMA**k
    for fraction in (0.001, 0.25, 0.5, 0.75, 0.999):
        assert bucket_of(low + fraction * (high - low)) == k


def test_float_boundaries_land_in_k_or_k_plus_one_as_exact_arithmetic_says() -> None:
    # 2.0 ** (k / 64) is rounded; exact integer arithmetic decides which side of the true boundary it is on.
    for k in range(-600, 1300):
        value = 2.0 ** (k / 64)
        assert bucket_of(value) in (k, k + 1)
        assert bucket_of(value) == k or exactly_in_bucket(value, k + 1)


def test_bucket_of_agrees_with_exact_arithmetic_on_random_values() -> None:
    rng = np.random.default_rng(3)
    for value in rng.lognormal(4.0, 3.0, size=2000):
        assert exactly_in_bucket(float(value), bucket_of(float(value)))


@pytest.mark.parametrize("value", [0.0, 1e-12, MIN_POSITIVE / 2, math.nextafter(MIN_POSITIVE, 0.0)])
def test_zero_and_tiny_values_go_to_the_zero_bucket(value: float) -> None:
    assert bucket_of(value) == ZERO_BUCKET
    assert bucket_value(ZERO_BUCKET) == 0.0


def test_smallest_positive_value_has_a_real_bucket() -> None:
    assert bucket_of(MIN_POSITIVE) != ZERO_BUCKET
    assert within(bucket_value(bucket_of(MIN_POSITIVE)), MIN_POSITIVE)


def test_bucket_value_is_within_accuracy_of_both_ends() -> None:
    for k in range(-500, 1500, 7):
        low, high, middle = GAMMA ** (k - 1), GAMMA**k, bucket_value(k)
        assert low < middle < high
        assert (middle - low) / low == pytest.approx(RELATIVE_ACCURACY, rel=1e-9)
        assert (high - middle) / high == pytest.approx(RELATIVE_ACCURACY, rel=1e-9)


def test_every_value_is_within_accuracy_of_its_bucket_value() -> None:
    rng = np.random.default_rng(11)
    for value in rng.lognormal(3.0, 4.0, size=5000):
        if value >= MIN_POSITIVE:
            assert within(bucket_value(bucket_of(float(value))), float(value))


def test_buckets_are_monotonic() -> None:
    values = np.sort(np.random.default_rng(5).lognormal(2.0, 3.0, size=3000))
    buckets = [bucket_of(float(v)) for v in values]
    assert buckets == sorted(buckets)


# --- quantiles --------------------------------------------------------------------------------------------------


def test_empty_histogram_has_no_quantile() -> None:
    assert histogram_quantile({}, 0.5) is None
    assert histogram_quantile({bucket_of(5.0): 0}, 0.5) is None


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_quantiles_match_numpy_linear_within_accuracy(name: str) -> None:
    values = DISTRIBUTIONS[name]
    counts = histogram(values)
    for q in QUANTILES:
        estimate = histogram_quantile(counts, q)
        exact = float(np.percentile(values, 100 * q))
        assert estimate is not None
        assert within(estimate, exact), (name, q, estimate, exact)


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_clamping_to_true_min_and_max_stays_within_accuracy(name: str) -> None:
    values = DISTRIBUTIONS[name]
    counts = histogram(values)
    low, high = float(values.min()), float(values.max())
    for q in QUANTILES:
        estimate = histogram_quantile(counts, q, low, high)
        assert estimate is not None
        assert low <= estimate <= high
        assert within(estimate, float(np.percentile(values, 100 * q)))


def test_clamping_makes_constant_data_exact() -> None:
    counts = histogram([250.0] * 100)
    assert histogram_quantile(counts, 0.95) != 250.0
    assert histogram_quantile(counts, 0.95, 250.0, 250.0) == 250.0


def test_single_value_is_every_quantile() -> None:
    counts = histogram([42.0])
    estimates = {histogram_quantile(counts, q) for q in QUANTILES}
    assert estimates == {bucket_value(bucket_of(42.0))}


def test_two_values_interpolate_like_numpy() -> None:
    counts = histogram([10.0, 1000.0])
    median = histogram_quantile(counts, 0.5)
    assert median == pytest.approx((bucket_value(bucket_of(10.0)) + bucket_value(bucket_of(1000.0))) / 2)
    assert median is not None and within(median, 505.0)


def test_zero_bucket_counts_as_zero() -> None:
    counts = histogram([0.0, 0.0, 0.0, 8.0])
    assert histogram_quantile(counts, 0.0) == 0.0
    assert histogram_quantile(counts, 0.5) == 0.0
    assert histogram_quantile(counts, 1.0) == bucket_value(bucket_of(8.0))


def test_zero_count_buckets_are_ignored() -> None:
    counts = histogram([5.0, 6.0, 7.0])
    with_empty = {**counts, bucket_of(5000.0): 0}
    assert histogram_quantile(with_empty, 1.0) == histogram_quantile(counts, 1.0)


# --- merging ----------------------------------------------------------------------------------------------------


def test_quantile_of_summed_counts_equals_quantile_of_the_union() -> None:
    rng = np.random.default_rng(13)
    first, second = rng.lognormal(5.0, 1.0, 2000), rng.lognormal(6.5, 0.5, 700)
    both = np.concatenate([first, second])
    merged = Counter(histogram(first)) + Counter(histogram(second))
    union = histogram(both)
    assert dict(merged) == union
    for q in QUANTILES:
        estimate = histogram_quantile(merged, q)
        assert estimate is not None and estimate == histogram_quantile(union, q)
        assert within(estimate, float(np.percentile(both, 100 * q)))


def test_merging_minutes_into_an_hour() -> None:
    rng = np.random.default_rng(17)
    minutes = [rng.lognormal(5.0 + i / 30, 0.8, 200) for i in range(60)]
    hour: Counter[int] = Counter()
    for minute in minutes:
        hour.update(histogram(minute))
    assert histogram_quantile(hour, 0.95) == histogram_quantile(histogram(np.concatenate(minutes)), 0.95)


# --- ddsketch as an independent oracle --------------------------------------------------------------------------


def sketch(values: Iterable[float]) -> DDSketch:
    result = DDSketch(relative_accuracy=RELATIVE_ACCURACY)
    for value in values:
        result.add(float(value))
    return result


@pytest.mark.parametrize("name", ["lognormal", "uniform", "bimodal", "heavy tail", "one value", "two values"])
def test_both_sketches_are_within_their_guarantees_of_the_exact_value(name: str) -> None:
    values = DISTRIBUTIONS[name]
    oracle = sketch(values)
    counts = histogram(values)
    for q in QUANTILES:
        # ddsketch reports the value at rank floor(q*(n-1)) (numpy "lower"); ours interpolates (numpy "linear").
        theirs = oracle.get_quantile_value(q)
        ours = histogram_quantile(counts, q)
        assert theirs is not None and ours is not None
        assert within(theirs, float(np.percentile(values, 100 * q, method="lower")))
        assert within(ours, float(np.percentile(values, 100 * q)))


def test_ours_equals_ddsketch_where_the_rank_is_an_integer() -> None:
    # Same gamma, same bucket representative: at integer ranks the two sketches report the same value.
    values = np.random.default_rng(23).lognormal(6.0, 1.5, 1025)
    oracle, counts = sketch(values), histogram(values)
    for numerator in (0, 1, 256, 512, 973, 1014, 1023, 1024):
        q = numerator / 1024  # q * (n - 1) is the integer `numerator`
        assert histogram_quantile(counts, q) == pytest.approx(oracle.get_quantile_value(q), rel=1e-9)
