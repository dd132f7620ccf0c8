"""Timing helpers: warm up, repeat, report medians; every result is a ratio against a reference
measured in the same run on the same machine."""

from __future__ import annotations

import contextlib
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

# "wall": elapsed seconds. "cpu": this process's CPU seconds (all its threads), which other work on
# shared cores inflates far less; with one torch thread it stands for the wall time of an idle machine.
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = {"name": "wall"}


def use_clock(name: str) -> None:
    if name not in CLOCKS:
        raise ValueError(f"clock must be one of {sorted(CLOCKS)}, got {name!r}")
    _clock["name"] = name


def clock_name() -> str:
    return _clock["name"]


@contextlib.contextmanager
def subnormals_flushed() -> Iterator[None]:
    """CPU arithmetic with subnormal floats flushed to zero, as `seqzoo fit` trains on a CPU (it made
    GRU training here about 3x faster); torch's default, keeping them, afterwards."""
    flushing = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if flushing:
            torch.set_flush_denormal(False)


def now() -> float:
    """The current reading of the clock in use (differences are seconds)."""
    return CLOCKS[_clock["name"]]()


def device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    where = f"{platform.processor() or platform.machine()} CPU x{torch.get_num_threads()} threads"
    return where if clock_name() == "wall" else f"{where}, {clock_name()} clock"


def timings(fn: Callable[[], object], repeats: int, warmup: int = 2) -> list[float]:
    """Seconds of each of `repeats` calls after `warmup` untimed ones (CUDA work included)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = now()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(now() - start)
    return times


def median_seconds(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    return statistics.median(timings(fn, repeats, warmup))


def alternating_medians(
    fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 2
) -> dict[str, float]:
    """Median seconds of each function, timed in turns so that drifting background load hits all alike."""
    for fn in fns.values():
        timings(fn, 0, warmup)
    seconds: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            seconds[name] += timings(fn, 1, warmup=0)
    return {name: statistics.median(s) for name, s in seconds.items()}


@dataclass
class Result:
    name: str
    metric: str
    value: float
    reference: float
    reference_name: str
    ratio: float  # value / reference; what "better" means is in `target`
    target: str
    device: str
    details: str = ""
    params: dict[str, Any] = field(default_factory=dict)  # the point measured, for plots (cost_growth)

    def as_dict(self) -> dict:
        return asdict(self)


def markdown_table(results: list[Result]) -> str:
    rows = [
        "| benchmark | metric | seqzoo | reference | ratio | target |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        rows.append(
            f"| {r.name} | {r.metric} | {r.value:.4g} | {r.reference:.4g} ({r.reference_name}) | "
            f"{r.ratio:.2f} | {r.target} |"
        )
    return "\n".join(rows)
