"""What the three training scripts of benchmarks/peers.py share (numpy only: the Keras and Darts ones run in
the peers' environment): the command line, the series the main process saved, the epoch clock, the result.

python benchmarks/peers_TOOL.py SERIES.npz OUT.json --epochs E --clock wall|cpu --threads T --seed S

The main process runs one epoch at a time across the scripts: a script says WAIT on stdout and blocks until
it reads a line on stdin, before each epoch and before its (untimed) validation predictions, and says EPOCH
when an epoch ends. So only one tool trains at any moment and drifting background load hits all alike.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("series", help="the .npz the main process wrote (benchmarks/peers.py)")
    parser.add_argument("out", help="where to write the result JSON")
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--clock", choices=sorted(CLOCKS), required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True, help="the tool's own seed: weights and shuffling")
    return parser.parse_args()


def load_series(path: str) -> dict[str, Any]:
    """Normalised hourly segments (`train`, `val`: lists of (time, features) float32 arrays), the window
    geometry (`lookback` input steps, the target `delay` steps after the last one, in column `target_index`)
    and seqzoo's `preprocessing` config of the data."""
    data = np.load(path)
    series: dict[str, Any] = {split: [] for split in ("train", "val")}
    for split in ("train", "val"):
        while f"{split}_{len(series[split])}" in data.files:  # written as train_0, train_1, ... by peers.py
            series[split].append(data[f"{split}_{len(series[split])}"])
    series.update({k: int(data[k]) for k in ("lookback", "delay", "target_index")})
    series["preprocessing"] = json.loads(str(data["preprocessing"]))
    return series


def windows(segments: list[np.ndarray], lookback: int, delay: int, target_index: int):
    """Every window of each segment, as seqzoo's SlidingWindows(lookback, step=1, delay) makes them: inputs
    (n, lookback, features) and targets (n,), as contiguous arrays."""
    xs, ys = [], []
    for seg in segments:
        view = np.lib.stride_tricks.sliding_window_view(seg[: len(seg) - delay], lookback, axis=0)
        xs.append(view.transpose(0, 2, 1))
        ys.append(seg[lookback - 1 + delay :, target_index])
    return np.ascontiguousarray(np.concatenate(xs)), np.concatenate(ys)


def wait_for_turn() -> None:
    print("WAIT", flush=True)
    if not sys.stdin.readline():
        raise SystemExit("the main process went away")


class EpochClock:
    """Seconds of each training epoch on the requested clock, and on the wall clock for the report; each
    epoch starts on the main process's word."""

    def __init__(self, clock: str) -> None:
        self.clock = CLOCKS[clock]
        self.seconds: list[float] = []
        self.wall: list[float] = []

    def begin(self) -> None:
        wait_for_turn()
        self._start, self._wall = self.clock(), time.perf_counter()

    def end(self) -> None:
        self.seconds.append(self.clock() - self._start)
        self.wall.append(time.perf_counter() - self._wall)
        print("EPOCH", flush=True)


def write_result(
    path: str, clock: EpochClock, samples: int, predictions: np.ndarray, **about: object
) -> None:
    result = {
        "epoch_seconds": clock.seconds,
        "epoch_wall_seconds": clock.wall,
        "samples_per_epoch": samples,
        "val_predictions": np.asarray(predictions, dtype=np.float64).reshape(-1).tolist(),
        **about,
    }
    Path(path).write_text(json.dumps(result))
