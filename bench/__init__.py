"""Benchmarks of the receiver and the pipeline; see bench/README.md."""
