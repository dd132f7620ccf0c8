"""Recurrent dropout's own cell loop versus the fused nn.GRU kernel without dropout (training step), with
subnormal floats flushed on both sides as `seqzoo fit` trains."""

from __future__ import annotations

import torch

from benchmarks.harness import Result, alternating_medians, device_name, subnormals_flushed
from seqzoo.nn.recurrent import RecurrentEncoder


def run(quick: bool) -> list[Result]:
    with subnormals_flushed():
        return _measure(quick)


def _measure(quick: bool) -> list[Result]:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    batch, steps, features = (128, 240, 14)  # a Jena batch: 10 days of hourly rows
    repeats, warmup = (1, 1) if quick else (10, 2)
    x = torch.randn(batch, steps, features, device=device)
    results = []
    for cell in ("gru", "lstm"):
        torch.manual_seed(0)
        dropped = RecurrentEncoder(features, 32, cell, dropout=0.2, recurrent_dropout=0.2).to(device).train()
        fused = dropped.layers[0]  # the module itself: its kernel, without seqzoo's dropout or GRU path
        seconds = alternating_medians(
            {
                "dropped": lambda model=dropped: model(x).sum().backward(),
                "fused": lambda layer=fused: layer(x)[0][:, -1].sum().backward(),
            },
            repeats,
            warmup,
        )
        ours, ref = seconds["dropped"], seconds["fused"]
        results.append(
            Result(
                name=f"recurrent_dropout_{cell}",
                metric="seconds per training step (forward+backward)",
                value=ours,
                reference=ref,
                reference_name=f"fused nn.{cell.upper()} without dropout",
                ratio=ours / ref,
                target="ratio <= 3 on CPU",
                device=device_name(),
                details=f"batch {batch}, {steps} steps, {features} features, hidden 32, p=0.2",
            )
        )
    return results
