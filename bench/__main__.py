"""`python -m bench`: run every benchmark module in this folder (each writes its RESULTS.md section)."""

import importlib
import pkgutil
import sys
from pathlib import Path

names = sorted(
    m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_")
)
only = sys.argv[1:]
for name in names:
    if only and name not in only:
        continue
    print(f"== {name}", flush=True)
    importlib.import_module(f"bench.{name}").main()
