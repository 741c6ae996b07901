"""Benchmarks of smlib; run them all with ``python -m benchmarks`` (results in benchmarks/results/)."""
