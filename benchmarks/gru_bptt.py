"""A GRU training step through seqzoo's hand-written backward pass versus nn.GRU's kernel under autograd.

The same layer (the same weights) runs both ways on the same batch: seqzoo's `RecurrentEncoder`, which
on CPU with autograd recording goes through `seqzoo/nn/gru_bptt.py`, and the `nn.GRU` module called
directly. Forward and backward of the sum of every step's output, one step per timing, taken in turns.
"""

from __future__ import annotations

import torch

from benchmarks.harness import Result, alternating_medians, device_name
from seqzoo.nn.recurrent import RecurrentEncoder

# name: (what, batch, steps, features, hidden, bidirectional)
CASES = {
    "gru_bptt_jena": ("gru.jena's GRU(32) on a Jena batch", 128, 240, 19, 32, False),
    "gru_bptt_bigru_jena": ("bigru.jena's bidirectional GRU(32) on a Jena batch", 128, 240, 19, 32, True),
    "gru_bptt_width64_jena": (
        "a GRU(64), stacked_gru.jena's top width, on a Jena batch",
        128,
        240,
        19,
        64,
        False,
    ),
    "gru_bptt_imdb": ("gru.imdb's GRU(32) over 500 embedded tokens", 128, 500, 32, 32, False),
}


def run(quick: bool) -> list[Result]:
    repeats, warmup = (1, 1) if quick else (15, 2)
    results = []
    for name, (what, batch, steps, features, hidden, bidirectional) in CASES.items():
        if quick:
            steps = min(steps, 60)
        torch.manual_seed(0)
        encoder = RecurrentEncoder(
            features, hidden, bidirectional=bidirectional, return_sequences=True
        ).train()
        x = torch.randn(batch, steps, features)
        steps_of = {"seqzoo": encoder, "kernel": lambda x, layer=encoder.layers[0]: layer(x)[0]}
        seconds = alternating_medians(
            {who: lambda net=net, x=x: net(x).sum().backward() for who, net in steps_of.items()},
            repeats,
            warmup,
        )
        results.append(
            Result(
                name=name,
                metric="training steps per second (forward+backward)",
                value=1 / seconds["seqzoo"],
                reference=1 / seconds["kernel"],
                reference_name="the same nn.GRU module under autograd",
                ratio=seconds["kernel"] / seconds["seqzoo"],
                target="ratio > 1 (CPU)",
                device=device_name(),
                details=f"{what}: batch {batch}, {steps} steps, {features} inputs, hidden {hidden}; "
                f"median of {repeats} in turns after {warmup} warm-up",
            )
        )
    return results
