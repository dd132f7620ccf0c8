"""A GRU training step through seqzoo's hand-written backward pass versus nn.GRU's kernel under autograd.

The same layer (the same weights) runs both ways on the same batch: seqzoo's `RecurrentEncoder`, which
on CPU with autograd recording goes through `seqzoo/nn/gru_bptt.py`, and the `nn.GRU` module called
directly. Forward and backward of what the recipes read (the last state for Jena, the max over every
step for IMDB), one step per timing, taken in turns, with subnormal floats flushed as `seqzoo fit` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from benchmarks.harness import Result, alternating_medians, device_name, subnormals_flushed
from seqzoo.nn.recurrent import RecurrentEncoder


@dataclass(frozen=True)
class Case:
    what: str
    batch: int
    steps: int
    features: int
    hidden: int
    bidirectional: bool = False
    pool: str = "last"


CASES = {
    "gru_bptt_jena": Case("gru.jena's GRU(32) on a Jena batch", 128, 240, 19, 32),
    "gru_bptt_bigru_jena": Case("bigru.jena's bidirectional GRU(32) on a Jena batch", 128, 240, 19, 32, True),
    "gru_bptt_width64_jena": Case(
        "a GRU(64), stacked_gru.jena's top width, on a Jena batch", 128, 240, 19, 64
    ),
    "gru_bptt_imdb": Case(
        "gru.imdb's GRU(32) over 500 embedded tokens, max-pooled", 128, 500, 32, 32, pool="max"
    ),
    "gru_bptt_small_batch_imdb": Case(
        "gru.imdb's GRU(32) over 500 embedded tokens, max-pooled, 32 reviews a batch",
        32,
        500,
        32,
        32,
        pool="max",
    ),
}


def kernel_reading(layer: torch.nn.GRU, pool: str):
    """The module called directly, read as the encoder reads it."""
    if pool == "max":
        return lambda x: layer(x)[0].amax(dim=1)
    return lambda x: layer(x)[1].transpose(0, 1).flatten(1)


def measure(name: str, case: Case, quick: bool) -> Result:
    repeats, warmup = (1, 1) if quick else (15, 2)
    steps = min(case.steps, 60) if quick else case.steps
    torch.manual_seed(0)
    encoder = RecurrentEncoder(case.features, case.hidden, bidirectional=case.bidirectional, pool=case.pool)
    encoder.train()
    x = torch.randn(case.batch, steps, case.features)
    nets = {"seqzoo": encoder, "kernel": kernel_reading(encoder.layers[0], case.pool)}
    seconds = alternating_medians(
        {who: lambda net=net: net(x).sum().backward() for who, net in nets.items()}, repeats, warmup
    )
    return Result(
        name=name,
        metric="training steps per second (forward+backward)",
        value=1 / seconds["seqzoo"],
        reference=1 / seconds["kernel"],
        reference_name="the same nn.GRU module under autograd",
        ratio=seconds["kernel"] / seconds["seqzoo"],
        target="ratio > 1 (CPU)",
        device=device_name(),
        details=f"{case.what}: batch {case.batch}, {steps} steps, {case.features} inputs, hidden "
        f"{case.hidden}; median of {repeats} in turns after {warmup} warm-up",
    )


def run(quick: bool) -> list[Result]:
    with subnormals_flushed():
        return [measure(name, case, quick) for name, case in CASES.items()]
