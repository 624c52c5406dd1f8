"""Shared fixtures. Package-specific fixtures live in the tests that need them or in tests/fixtures/."""

pytest_plugins = ["tests.fixtures.org", "tests.fixtures.pg", "tests.fixtures.reads"]
