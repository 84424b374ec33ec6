"""The domain: pure functions and values. No warehouse, HTTP, clock, environment or cloud SDK here.

`tests/domain/test_purity.py` walks these modules' imports and fails on a forbidden one.
"""
