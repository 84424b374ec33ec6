"""Tests of terraform/ and cloudbuild.yaml against the code they deploy."""
