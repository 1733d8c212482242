"""The harness's own tests; pytester runs generated suites on throwaway project copies."""

pytest_plugins = ["pytester"]
