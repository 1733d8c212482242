"""Loads the harness plugin: every suites/<model>/model.yaml becomes a generated test suite."""

pytest_plugins = ["harness.plugin"]
