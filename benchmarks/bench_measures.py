"""Benchmark the focus measures (the same code as ``focuscam bench``).

Usage: python benchmarks/bench_measures.py [--json] [--quick]
"""

from __future__ import annotations

import sys

from focuscam.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
