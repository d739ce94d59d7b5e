"""Where the benchmarks live and write: ``bench/``, the repository root, and the ignored ``bench/results/``."""

from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
