"""GIL Lab's benchmarks: run by hand (``python -m bench.NAME``), never by pytest; see ``bench/README.md``."""
