"""Timing helpers: warm up, repeat, report medians; every result is a ratio against a reference
measured in the same run on the same machine."""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch


def device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return f"{platform.processor() or platform.machine()} CPU x{torch.get_num_threads()} threads"


def median_seconds(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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
