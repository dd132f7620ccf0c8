"""Jena data pipeline: windows per second and peak memory of the DataModule's batched gather versus a
per-sample Python generator like DLwP's (which copies every window with fancy indexing)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.harness import Result, clock_name, device_name

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

# Each approach runs in its own process. Memory is what malloc holds allocated (glibc's mallinfo2; NaN
# elsewhere), read after each block of batches while the last batch is still held. Neither resident-set
# figure works here: the lifetime peak (ru_maxrss) was already ~18 MB above the live set after setup,
# and the live set hardly grows either way, because malloc reuses what setup freed.
PROGRAM = r"""
import ctypes, json, statistics, sys, time
import numpy as np
from seqzoo.data.jena import JenaDataModule, JenaScaler
from seqzoo.data.windows import window_loader

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                 "fordblks", "keepcost")]

def allocated_mb():
    try:
        mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return float("nan")
    mallinfo2.restype = MallInfo2
    info = mallinfo2()
    return (info.uordblks + info.hblkhd) / 2**20  # heap chunks in use + mmapped chunks

approach, blocks, data_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
clock = time.process_time if sys.argv[4] == "cpu" else time.perf_counter
dm = JenaDataModule(data_dir)
dm.setup()
dataset = dm.dataset("train")
allocated_before = peak = allocated_mb()
lookback, step, delay, batch, block = 1440, 6, 144, 128, 20
if approach == "seqzoo":
    batches = iter(window_loader(dataset, batch, shuffle=True))  # 532 batches: more than are drawn
else:  # the book's generator over one float array of all rows, rows drawn at random
    scaler = JenaScaler.from_config(dm.preprocessing)
    data = np.concatenate([scaler.normalize(f).numpy() for f in dm.frames["train"]])  # gaps ignored (DLwP)
    def generator(data, min_index, max_index):
        while True:
            rows = np.random.randint(min_index + lookback, max_index, size=batch)
            samples = np.zeros((len(rows), lookback // step, data.shape[-1]))
            targets = np.zeros((len(rows),))
            for j, row in enumerate(rows):
                indices = range(rows[j] - lookback, rows[j], step)
                samples[j] = data[indices]
                targets[j] = data[rows[j] + delay][1]
            yield samples, targets
    batches = generator(data, 0, len(data) - delay - 1)
for _ in range(5):
    next(batches)  # warm-up
rates = []  # windows per second of each block of batches: the median shrugs off a burst of other load
for _ in range(blocks):
    start = clock()
    for _ in range(block):
        x, y = next(batches)
    rates.append(block * batch / (clock() - start))
    peak = max(peak, allocated_mb())
data_bytes = dataset.data.untyped_storage().nbytes()
print(json.dumps({"windows_per_s": statistics.median(rates), "extra_peak_mb": peak - allocated_before,
                  "data_mb": data_bytes / 2**20, "batch_mb": x.nbytes / 2**20}))
"""


def _measure(approach: str, blocks: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM, approach, str(blocks), str(DATA), clock_name()],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _medians(results: list[dict]) -> dict:
    """Each field's median over the processes (`data_mb` is the same in all of them)."""
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def run(quick: bool) -> list[Result]:
    if not DATA.is_dir():
        print(f"jena_pipeline: skipped, {DATA} is absent")
        return []
    blocks, processes = (2, 1) if quick else (10, 3)
    runs: dict[str, list[dict]] = {"seqzoo": [], "book": []}
    for _ in range(processes):  # in turns, so that drifting background load hits both alike
        for approach, results in runs.items():
            results.append(_measure(approach, blocks))
    ours, book = _medians(runs["seqzoo"]), _medians(runs["book"])
    common = {"device": device_name(), "reference_name": "per-sample Python generator (DLwP)"}
    return [
        Result(
            name="jena_pipeline_speed",
            metric="windows per second (batch 128, 240 steps x 14)",
            value=ours["windows_per_s"],
            reference=book["windows_per_s"],
            ratio=ours["windows_per_s"] / book["windows_per_s"],
            target="ratio >= 20",
            **common,
        ),
        Result(
            name="jena_pipeline_memory",
            metric="peak memory allocated while iterating, beyond the data module's (MB)",
            value=ours["extra_peak_mb"],
            reference=book["extra_peak_mb"],
            ratio=ours["extra_peak_mb"] / max(book["extra_peak_mb"], 1e-9),
            target=f"about one batch ({ours['batch_mb']:.1f} MB; the book's {book['batch_mb']:.1f} MB): "
            f"batches are gathered from {ours['data_mb']:.1f} MB of rows kept once",
            **common,
        ),
    ]
