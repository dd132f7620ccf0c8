"""Run seqzoo's benchmarks: medians after warm-up, each a ratio against a reference in the same run.

python benchmarks/run.py [--quick] [--only NAME] [--threads N] [--clock cpu] --json OUT.json
                         [--markdown OUT.md]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import markdown_table, use_clock  # noqa: E402

BENCHMARKS = [
    "gru_bptt",
    "recurrent_dropout",
    "jena_pipeline",
    "serving",
    "fit_overhead",
    "cost_growth",
    "peers",
    "gpu",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a smoke run under two minutes")
    parser.add_argument("--only", choices=BENCHMARKS, action="append", help="run only these benchmarks")
    parser.add_argument("--json", required=True, help="where to write the results as JSON")
    parser.add_argument("--markdown", help="where to write the markdown table (default: next to the JSON)")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch threads here and in the processes started (default: torch's); on cores shared with other "
        "work, 1 avoids threads waiting on each other",
    )
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall: elapsed time; cpu: the benchmark processes' own CPU time, steadier on shared cores "
        "(use with --threads 1, where it stands for the wall time of an idle machine)",
    )
    args = parser.parse_args(argv)
    use_clock(args.clock)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the benchmarks' own subprocesses
    results = []
    for name in args.only or BENCHMARKS:
        print(f"running {name} ...", flush=True)
        start = time.perf_counter()
        results += importlib.import_module(f"benchmarks.{name}").run(args.quick)
        print(f"{name} took {time.perf_counter() - start:.0f} s", flush=True)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmarks": [r.as_dict() for r in results]}, indent=2) + "\n")
    table = markdown_table(results)
    markdown = Path(args.markdown or out.with_suffix(".md"))
    markdown.parent.mkdir(parents=True, exist_ok=True)
    markdown.write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
