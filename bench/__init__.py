"""Benchmarks against the limits (issue 8): run with `make bench` or `make bench-quick`."""
