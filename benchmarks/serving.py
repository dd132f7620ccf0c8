"""Serving: how long a fresh process takes to load a bundled model and answer once with `seqzoo.predictor`
(against one that only imports torch, and one using `seqzoo.load`), and the latency of a single-window
`predict` in a warm process (against the network alone)."""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.harness import Result, clock_name, device_name, timings

ROOT = Path(__file__).resolve().parents[1]
# What each fresh process runs; the seqzoo ones are what a user's script does, plus building one raw window:
# `seqzoo.predictor` (the serving path, no Lightning) and `seqzoo.load` (the LightningModule, for training).
PROCESSES = {
    "torch": "import torch",
    "seqzoo": "import seqzoo; from benchmarks.serving import raw_window; m = seqzoo.predictor({name!r}); "
    "m.predict(raw_window(m))",
    "seqzoo_onnx": "import seqzoo; from benchmarks.serving import raw_window; "
    "m = seqzoo.predictor({name!r}, runtime='onnxruntime'); m.predict(raw_window(m))",
    "seqzoo_load": "import seqzoo; from benchmarks.serving import raw_window; m = seqzoo.load({name!r}); "
    "m.predict(raw_window(m))",
}
RUNTIMES = {"torch": "", "onnxruntime": "_onnxruntime"}  # runtime -> suffix of its latency rows


def model_name() -> str:
    """gru.jena once it is bundled (the target is set for it), else the synthetic GRU."""
    import seqzoo

    return "gru.jena" if "gru.jena" in seqzoo.list_pretrained() else "gru.synthetic"


def raw_window(model) -> Any:
    """One window of raw input, in the form the model's card shows (a station export for Jena)."""
    pre = model.preprocessing
    if pre["kind"] == "series_window":
        return np.sin(np.arange(pre["window"]) / 3).reshape(1, -1)
    if pre["kind"] == "jena_weather":
        import pandas as pd

        rows = pre["lookback"]
        times = pd.date_range("2024-06-01", periods=rows, freq=f"{pre['interval_minutes']}min")
        values = np.random.default_rng(0).uniform(1, 100, size=(rows, len(pre["columns"])))
        frame = pd.DataFrame(values, columns=pre["columns"])
        frame.insert(0, "Date Time", times.strftime("%d.%m.%Y %H:%M:%S"))  # as read from a raw export
        return frame
    raise ValueError(f"no raw window for preprocessing kind {pre['kind']!r}")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cold_starts(name: str, repeats: int, who: list[str]) -> dict[str, float]:
    """Median seconds of fresh processes (wall, or their own CPU time under the cpu clock); the kinds
    alternate so that drifting load hits them alike."""
    clock = children_cpu_seconds if clock_name() == "cpu" else time.perf_counter
    seconds: dict[str, list[float]] = {w: [] for w in who}
    for _ in range(repeats):
        for w in who:
            start = clock()
            code = PROCESSES[w].format(name=name)
            subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True)
            seconds[w].append(clock() - start)
    return {w: statistics.median(s) for w, s in seconds.items()}


def latencies_ms(name: str, calls: int, runtime: str) -> tuple[list[float], list[float]]:
    """Per-call milliseconds of `predict` on one raw window, and of the network on the encoded window."""
    import seqzoo

    model = seqzoo.predictor(name, runtime=runtime)
    raw = raw_window(model)
    predict = timings(lambda: model.predict(raw), calls, warmup=10)
    encoded = model.preprocessor.encode(raw)
    with torch.inference_mode():
        network = timings(lambda: model.net(encoded), calls, warmup=10)
    return [t * 1e3 for t in predict], [t * 1e3 for t in network]


def latency_results(name: str, calls: int, runtime: str) -> list[Result]:
    predict, network = latencies_ms(name, calls, runtime)
    p99 = {
        k: statistics.quantiles(v, n=100, method="inclusive")[98] for k, v in (("p", predict), ("n", network))
    }
    common = {"device": device_name(), "params": {"model": name, "runtime": runtime}}
    latency = f"{name}: predict(one raw window) in a warm process, runtime={runtime!r}"
    suffix = RUNTIMES[runtime]
    return [
        Result(
            name=f"serving_latency_p50{suffix}",
            metric="ms per single-window predict, median",
            value=statistics.median(predict),
            reference=statistics.median(network),
            reference_name="the network alone on the encoded window",
            ratio=statistics.median(predict) / statistics.median(network),
            target="p50 < 2 ms (gru.jena on CPU)",
            details=latency,
            **common,
        ),
        Result(
            name=f"serving_latency_p99{suffix}",
            metric="ms per single-window predict, 99th percentile",
            value=p99["p"],
            reference=p99["n"],
            reference_name="the network alone on the encoded window",
            ratio=p99["p"] / p99["n"],
            target="as low and as close to p50 as possible",
            details=latency,
            **common,
        ),
    ]


def run(quick: bool) -> list[Result]:
    name = model_name()
    who = ["torch", "seqzoo"] if quick else list(PROCESSES)
    if not quick:
        cold_starts(name, 1, who)  # warm the page cache: every measured process reads the same files
    cold = cold_starts(name, 1 if quick else 3, who)
    bounds = "".join(
        f"; the same with {label}: {cold[w]:.2f} s ({cold[w] / cold['torch']:.2f}x)"
        for w, label in (("seqzoo_onnx", "runtime='onnxruntime'"), ("seqzoo_load", "seqzoo.load (Lightning)"))
        if w in cold
    )
    cold_start = Result(
        name="serving_cold_start",
        metric=f"seconds: a fresh `python -c` running seqzoo.predictor({name!r}).predict(one window)",
        value=cold["seqzoo"],
        reference=cold["torch"],
        reference_name="a fresh `python -c 'import torch'`",
        ratio=cold["seqzoo"] / cold["torch"],
        target="ratio < 1.5",
        details=f"median of alternating runs{bounds}",
        device=device_name(),
        params={"model": name},
    )
    calls = 30 if quick else 300
    return [cold_start, *(r for runtime in RUNTIMES for r in latency_results(name, calls, runtime))]
