"""Developer tooling: the embedded defaults behind `make run` and the test suite."""
