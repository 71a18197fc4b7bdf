"""Benchmarks and probes (`improv bench`, `improv embrace-bench`): nothing in improv.live imports them."""
