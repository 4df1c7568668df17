"""Run one benchmark: ``python -m bench NAME [options]``; ``python -m bench`` lists them."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench


def main() -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))
    names = [n for n in names if n != "harness"]
    if len(sys.argv) < 2 or sys.argv[1] not in names:
        print("usage: python -m bench NAME [--quick] [options]\nbenchmarks: " + ", ".join(names))
        return 2
    module = importlib.import_module(f"bench.{sys.argv[1]}")
    return module.main(sys.argv[2:]) or 0


if __name__ == "__main__":
    sys.exit(main())
