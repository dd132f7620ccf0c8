"""Run seqzoo's benchmarks: medians after warm-up, each a ratio against a reference in the same run.

python benchmarks/run.py [--quick] [--only NAME] --json OUT.json [--markdown OUT.md]
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import markdown_table  # noqa: E402

BENCHMARKS = ["recurrent_dropout", "jena_pipeline"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a smoke run under two minutes")
    parser.add_argument("--only", choices=BENCHMARKS, action="append", help="run only these benchmarks")
    parser.add_argument("--json", required=True, help="where to write the results as JSON")
    parser.add_argument("--markdown", help="where to write the markdown table (default: next to the JSON)")
    args = parser.parse_args(argv)
    results = []
    for name in args.only or BENCHMARKS:
        print(f"running {name} ...", flush=True)
        results += importlib.import_module(f"benchmarks.{name}").run(args.quick)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmarks": [r.as_dict() for r in results]}, indent=2) + "\n")
    table = markdown_table(results)
    Path(args.markdown or out.with_suffix(".md")).write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
