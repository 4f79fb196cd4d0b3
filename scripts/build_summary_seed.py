#!/usr/bin/env python3
"""Rebuild ``src/sizeup/data/summary_seed.json``: the weight summaries of every built-in catalog
shape at every quant type the ranking tries (see :mod:`sizeup.estimate.summary_seed`).

Run it after editing a rule module the summary cache is versioned by (quant_mix, weight_summary,
layout, the memory model...) or the catalog; ``tests/test_ranking_memo.py`` fails while the
shipped seed is stale. Usage: python scripts/build_summary_seed.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def main() -> int:
    with tempfile.TemporaryDirectory() as d:
        os.environ["SIZEUP_SUMMARY_CACHE"] = str(Path(d) / "empty.json")  # predict everything afresh
        from sizeup.estimate import summary_cache, summary_seed

        out = summary_cache.SEED_PATH
        summary_cache.SEED_PATH = Path(d) / "no-seed.json"  # not from the seed being replaced
        n = summary_seed.write(out)
    print(f"wrote {n} entries (summaries and vocabulary row costs) to src/sizeup/data/summary_seed.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
