"""The same forecaster trained in seqzoo and in the tools users would pick instead: Keras 3 (TensorFlow CPU
backend) and Darts (`BlockRNNModel`, on Lightning). Training samples per second over whole epochs, and
validation MAE after the same number of epochs. Every side trains the same windows per epoch, so the ratio
(seqzoo's samples/s over the peer's) is the peer's seconds per epoch over seqzoo's.

Every side trains GRU(32) -> Linear(1) (5,121 parameters in each tool) on windows of 240 hourly steps x 19
inputs, the air temperature 24 hours after the last step as the target (the Jena GRU recipe's geometry), with
Adam 1e-3, MAE loss, batch 128, shuffled, no gradient clipping and no weight decay (neither peer has them by
default), on the CPU with the same number of threads (torch's here; 1 under `run.py --threads 1`).

The same windows everywhere: the main process takes every 6th reading of each contiguous segment of the
recipe's train and validation splits (the hourly rows that seqzoo's windows with step 6 feed the model:
hourly window k is the 10-minute window starting at row 6k), normalised with the train statistics, and saves
these series to an .npz that each side's training script reads, in a process of its own:
- seqzoo (benchmarks/peers_seqzoo.py): SlidingWindows(lookback 240, step 1, delay 24) through
  `window_loader`, `ForecastingTask(arch="gru")` under a Lightning Trainer as `seqzoo fit` builds it;
- Keras (peers_keras.py): the same windows as numpy arrays, built before the clock starts (its fastest input);
- Darts (peers_darts.py): target series = the temperature column, past covariates = the other 18 columns,
  input_chunk_length 240, output_chunk_length 1, output_chunk_shift 23 (the output starts 24 steps after
  the input ends), so a Darts sample is one window start. Darts draws as many samples from every series as
  the longest one has (repeating the shorter ones' windows), so the train segments are first cut into
  series of exactly CHUNK windows each (consecutive series overlap by one window's span, so each window is
  in one series): Darts then draws each window once per epoch, the same windows and count as the others.
The three processes take their epochs in turns, in alternating order (peers_common.py): one trains at a time,
so drifting background load on shared cores hits all of them alike. Validation MAE is computed here, in the
target's units, from each side's predictions on the same validation windows. All of it runs once per seed
in SEEDS (each tool seeds its own weights and shuffling): seconds per epoch are the median over every seed's
timed epochs, the MAE the mean over the seeds, since one seed's MAE moves by more than the tools differ.
Without the Jena data: seeded synthetic series of the same shapes.

The peers run in their own environment (benchmarks/peers_env.py installs it on first use: minutes), so this
benchmark skips itself under `--quick`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.harness import Result, clock_name, device_name
from benchmarks.peers_env import peer_python
from seqzoo.data.jena_scaler import JenaScaler
from seqzoo.data.windows import SlidingWindows

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data"
EPOCHS = 4  # the first is the warm-up: seconds per epoch are the median of the other three
SEEDS = (0, 1, 2)
LOOKBACK, DELAY, FEATURES = 240, 24, 19  # hourly steps: the recipe's 1440 rows, step 6, delay 144
CHUNK = 500  # windows per training series; the Jena train split gives 20 of them: 10,000 windows
PEERS = {"keras": "Keras 3 GRU(32) + Dense(1), TensorFlow CPU", "darts": "Darts BlockRNNModel GRU(32)"}


def jena_series() -> tuple[dict[str, list[np.ndarray]], dict[str, Any], str]:
    """The recipe's splits (wind as a vector, time encodings: 19 inputs), every 6th row of each segment."""
    from seqzoo.data import JenaDataModule

    dm = JenaDataModule(str(DATA), wind_vector=True, time_encoding=True)
    dm.setup("fit")
    scaler = JenaScaler.from_config(dm.preprocessing)
    hourly = {
        split: [scaler.normalize(frame)[scaler.step - 1 :: scaler.step].numpy() for frame in dm.frames[split]]
        for split in ("train", "val")
    }
    return hourly, dm.preprocessing, "Jena station data, the recipe's train and validation splits"


def synthetic_series(train: int = 10_000, val: int = 3_000) -> tuple[dict, dict[str, Any], str]:
    """A daily cycle, a slow drift and noise mixed into 19 channels; about `train` and `val` windows."""
    gen = np.random.default_rng(0)
    mix = gen.normal(size=(3, FEATURES))
    hourly = {}
    for split, windows in (("train", train), ("val", val)):
        t = np.arange(windows + LOOKBACK + DELAY - 1)
        drift = np.cumsum(gen.normal(scale=0.05, size=len(t)))
        latent = np.stack([np.sin(2 * np.pi * t / 24), drift, gen.normal(size=len(t))], axis=1)
        rows = latent @ mix + 0.1 * gen.normal(size=(len(t), FEATURES))
        hourly[split] = [((rows - rows.mean(0)) / rows.std(0)).astype(np.float32)]
    names = [f"x{i}" for i in range(FEATURES)]
    scaler = JenaScaler(inputs=names, mean=[0.0] * FEATURES, std=[1.0] * FEATURES, target="x1")
    return hourly, scaler.to_config(), "seeded synthetic series (no Jena data here)"


def chunked(segments: list[np.ndarray], windows: int) -> list[np.ndarray]:
    """Each segment cut into as many series of exactly `windows` windows as fit (the rest is left out)."""
    span = LOOKBACK + DELAY - 1 + windows
    return [seg[start : start + span] for seg in segments for start in range(0, len(seg) - span + 1, windows)]


class Side:
    """One tool's training process (benchmarks/peers_TOOL.py), run one step at a time: see peers_common.py."""

    def __init__(self, tool: str, python: str, series: Path, threads: int, seed: int) -> None:
        self.tool = tool
        self.out, self.log = series.with_name(f"{tool}.json"), series.with_name(f"{tool}.log")
        env = {
            **os.environ,
            "OMP_NUM_THREADS": str(threads),
            "TF_NUM_INTRAOP_THREADS": str(threads),
            "TF_NUM_INTEROP_THREADS": str(threads),
            "CUDA_VISIBLE_DEVICES": "",  # a CPU comparison: Keras runs on TensorFlow's CPU build anyway
        }
        command = [python, str(HERE / f"peers_{tool}.py"), str(series), str(self.out)]
        command += ["--epochs", str(EPOCHS), "--clock", clock_name(), "--threads", str(threads)]
        command += ["--seed", str(seed)]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=env
            )

    def expect(self, word: str) -> None:
        """Read its output up to the line `word` (libraries may print other lines)."""
        for line in self.process.stdout:
            if line.strip() == word:
                return
        self.fail(f"ended before saying {word}")

    def go(self) -> None:
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def result(self) -> dict[str, Any]:
        """Let it predict the validation windows and write its result; that result."""
        self.go()
        self.process.stdout.read()
        if self.process.wait() != 0:
            self.fail("failed")
        return json.loads(self.out.read_text())

    def fail(self, what: str) -> None:
        self.process.kill()
        code = self.process.wait()
        raise RuntimeError(f"the {self.tool} side {what} (exit {code}):\n{self.log.read_text()[-3000:]}")


def train_all(series: Path, threads: int, seed: int) -> dict[str, dict[str, Any]]:
    """Every tool's result, the epochs taken in turns: one tool trains at a time, in alternating order."""
    pythons = {"seqzoo": sys.executable, **{tool: str(peer_python()) for tool in PEERS}}
    sides = [Side(tool, python, series, threads, seed) for tool, python in pythons.items()]
    try:
        for side in sides:
            side.expect("WAIT")  # all set up before any epoch starts
        for epoch in range(EPOCHS):
            for side in sides if epoch % 2 == 0 else sides[::-1]:
                side.go()
                side.expect("EPOCH")
                side.expect("WAIT")  # its end-of-epoch work is done too
        return {side.tool: side.result() for side in sides}
    finally:
        for side in sides:
            if side.process.poll() is None:
                side.process.kill()
                side.process.wait()


def val_mae(side: dict[str, Any], truth: np.ndarray, target_std: float) -> float:
    """MAE of the validation predictions in the target's own units (degrees C for Jena)."""
    predictions = np.asarray(side["val_predictions"])
    if predictions.shape != truth.shape:
        raise RuntimeError(f"expected {truth.shape[0]} validation predictions, got {predictions.shape[0]}")
    return float(np.abs(predictions - truth).mean() * target_std)


def summary(runs: list[dict[str, Any]], truth: np.ndarray, target_std: float) -> dict[str, Any]:
    """One tool over every seed: the median of the timed epochs (the warm-up one of each seed left out),
    the validation MAE of each seed and their mean."""
    maes = [val_mae(run, truth, target_std) for run in runs]
    return {
        "seconds": statistics.median(s for run in runs for s in run["epoch_seconds"][1:]),
        "wall": statistics.median(s for run in runs for s in run["epoch_wall_seconds"][1:]),
        "epoch_seconds": [run["epoch_seconds"] for run in runs],
        "maes": maes,
        "mae": statistics.fmean(maes),
        "samples": runs[0]["samples_per_epoch"],
        "parameters": runs[0]["parameters"],
        "version": runs[0]["version"],
    }


def run(quick: bool) -> list[Result]:
    if quick:
        print("peers: skipped under --quick (it installs TensorFlow and Darts in their own environment)")
        return []
    peer_python()  # installs the peers' environment on first use, before anything is timed
    hourly, preprocessing, source = jena_series() if DATA.is_dir() else synthetic_series()
    hourly["train"] = chunked(hourly["train"], CHUNK)
    scaler = JenaScaler.from_config(preprocessing)
    target_index, target_std = scaler.target_index, scaler.std[scaler.target_index]
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="seqzoo-peers-") as tmp:
        series = Path(tmp) / "series.npz"
        arrays = {f"{split}_{i}": s for split, segments in hourly.items() for i, s in enumerate(segments)}
        geometry = {"lookback": LOOKBACK, "delay": DELAY, "target_index": target_index}
        np.savez(series, **arrays, **geometry, preprocessing=json.dumps(preprocessing))
        by_seed = [train_all(series, threads, seed) for seed in SEEDS]
    val = SlidingWindows([torch.from_numpy(s) for s in hourly["val"]], LOOKBACK, 1, DELAY, target_index)
    truth = val.targets(torch.arange(len(val))).numpy().astype(np.float64)
    tools = {
        tool: summary([sides[tool] for sides in by_seed], truth, target_std) for tool in ("seqzoo", *PEERS)
    }
    ours = tools["seqzoo"]
    results = []
    for tool, what in PEERS.items():
        peer = tools[tool]
        maes = ", ".join(f"{a:.3f}/{b:.3f}" for a, b in zip(ours["maes"], peer["maes"], strict=True))
        results.append(
            Result(
                name=f"peers_{tool}_gru_jena",
                metric="training samples per second (whole epochs)",
                value=ours["samples"] / ours["seconds"],
                reference=peer["samples"] / peer["seconds"],
                reference_name=what,
                ratio=(ours["samples"] / ours["seconds"]) / (peer["samples"] / peer["seconds"]),
                target="ratio >= 1.5 at equal or better MAE",
                device=device_name(),
                details=f"GRU(32) -> Linear(1) on {LOOKBACK} steps x {FEATURES} inputs, target {DELAY} h "
                f"ahead, Adam 1e-3, MAE, batch 128, {threads} thread(s) each; {source}; samples per epoch "
                f"seqzoo {ours['samples']}, {tool} {peer['samples']}; seeds {list(SEEDS)}; seconds per epoch "
                f"(median of {EPOCHS - 1} per seed after 1 warm-up, epochs taken in turns) seqzoo "
                f"{ours['seconds']:.1f}, {tool} {peer['seconds']:.1f} (wall clock {ours['wall']:.1f} and "
                f"{peer['wall']:.1f}); validation MAE after {EPOCHS} epochs on {len(truth)} windows, mean "
                f"over the seeds, seqzoo {ours['mae']:.3f}, {tool} {peer['mae']:.3f} (per seed, "
                f"seqzoo/{tool}: {maes}); {ours['version']}; {peer['version']}",
                params={
                    "epochs": EPOCHS,
                    "seeds": list(SEEDS),
                    "threads": threads,
                    "val_windows": len(truth),
                    "seqzoo_samples_per_epoch": ours["samples"],
                    "peer_samples_per_epoch": peer["samples"],
                    "seqzoo_seconds_per_epoch": ours["seconds"],
                    "peer_seconds_per_epoch": peer["seconds"],
                    "seqzoo_epoch_seconds": ours["epoch_seconds"],
                    "peer_epoch_seconds": peer["epoch_seconds"],
                    "seqzoo_val_mae": ours["mae"],
                    "peer_val_mae": peer["mae"],
                    "seqzoo_val_mae_by_seed": ours["maes"],
                    "peer_val_mae_by_seed": peer["maes"],
                    "seqzoo_parameters": ours["parameters"],
                    "peer_parameters": peer["parameters"],
                    "peer_version": peer["version"],
                },
            )
        )
    return results
