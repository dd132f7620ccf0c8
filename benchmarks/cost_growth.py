"""How training cost grows with the lookback and with the width, for the Jena recipes' gru, conv1d and
conv1d_gru (built through the registry with the recipes' own arguments, so conv1d_gru keeps its dropouts)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import yaml
from torch import nn

from benchmarks.harness import Result, alternating_medians, device_name, median_seconds
from seqzoo.data.windows import sampled_steps
from seqzoo.registry import create_model

ROOT = Path(__file__).resolve().parents[1]
ARCHS = ("gru", "conv1d", "conv1d_gru")
STEP, BATCH, EPOCH_BATCHES = 6, 128, 200  # the Jena recipes: hourly rows, batch 128, 200 batches an epoch
BASE_WIDTH = 32  # the recipes' own width: the lookback sweep's


def arch_kwargs(arch: str, width: int) -> dict:
    """The recipe's arguments; `width` sets every hidden size and every conv's channels."""
    recipe = yaml.safe_load((ROOT / "recipes" / "jena" / f"{arch}.yaml").read_text())
    kwargs = dict(recipe["model"]["init_args"]["arch_kwargs"])
    if "hidden_size" in kwargs:
        kwargs["hidden_size"] = width
    if "channels" in kwargs:
        kwargs["channels"] = [width] * len(kwargs["channels"])
    return kwargs


def training_step(arch: str, lookback: int, width: int) -> Callable[[], None]:
    """One training step (forward, backward, AdamW) of the recipe's network on random windows."""
    torch.manual_seed(0)
    kwargs = arch_kwargs(arch, width)
    net = create_model(arch, **kwargs).train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.01)
    x = torch.randn(BATCH, sampled_steps(lookback, STEP), kwargs["input_size"])
    y = torch.randn(BATCH)

    def step() -> None:
        opt.zero_grad()
        nn.functional.l1_loss(net(x).squeeze(-1), y).backward()
        opt.step()

    return step


def epoch_seconds(arch: str, lookback: int, width: int, repeats: int, flush_denormal: bool = False) -> float:
    """A recipe epoch's training time (forward, backward, AdamW), from the median step on random windows.

    `flush_denormal` rounds floats below 1.2e-38 to zero meanwhile: gradients fading over hundreds of
    recurrent steps reach that range, where the CPU computes many times slower.
    """
    step = training_step(arch, lookback, width)
    torch.set_flush_denormal(flush_denormal)
    try:
        return EPOCH_BATCHES * median_seconds(step, repeats, warmup=1)
    finally:
        torch.set_flush_denormal(False)  # torch's default


def expectation(sweep: str, grown: float) -> str:
    """What the cost should do: linear in the steps a window has, at most quadratic in the width."""
    if sweep == "lookback":
        return f"about x{grown:g} (x{grown:g} steps)"
    return f"at most x{grown**2:g} (quadratic in width x{grown:g})"


def run(quick: bool) -> list[Result]:
    lookbacks = (60, 240) if quick else (60, 240, 720, 1440)
    widths = (16, 32) if quick else (16, 32, 64, 128, 256)
    repeats = 1 if quick else 3
    longest = lookbacks[-1]  # the width sweep's lookback: the recipes' 1440 in a full run
    sweeps = {
        "lookback": [(lb, BASE_WIDTH) for lb in lookbacks],
        "width": [(longest, w) for w in widths],
    }
    results = []
    for arch in ARCHS:
        measured: dict[tuple[int, int], float] = {}
        for sweep, points in sweeps.items():
            for lookback, width in points:
                if (lookback, width) not in measured:
                    measured[lookback, width] = epoch_seconds(arch, lookback, width, repeats)
                first_lookback, first_width = points[0]
                steps = sampled_steps(lookback, STEP)
                size, first = (width, first_width) if sweep == "width" else (lookback, first_lookback)
                grown = (
                    width / first_width if sweep == "width" else steps / sampled_steps(first_lookback, STEP)
                )
                value, reference = measured[lookback, width], measured[points[0]]
                results.append(
                    Result(
                        name=f"cost_growth_{arch}_{sweep}_{size}",
                        metric=f"seconds per recipe epoch ({EPOCH_BATCHES} batches of {BATCH})",
                        value=value,
                        reference=reference,
                        reference_name=f"{sweep} {first}",
                        ratio=value / reference,
                        target=expectation(sweep, grown),
                        device=device_name(),
                        details=f"lookback {lookback} rows = {steps} steps, width {width}",
                        params={
                            "arch": arch,
                            "sweep": sweep,
                            "lookback": lookback,
                            "steps": steps,
                            "width": width,
                        },
                    )
                )
        results.append(flush_denormal_result(arch, longest, measured[longest, BASE_WIDTH], repeats))
    results.append(hybrid_versus_gru(longest, 5 * repeats))
    return results


def hybrid_versus_gru(lookback: int, repeats: int) -> Result:
    """DLwP's claim head to head, as `seqzoo fit` trains (subnormals flushed): the two networks' steps
    taken in turns, so that drifting load hits both alike; one step's time varies by +-30 % here."""
    steps = {arch: training_step(arch, lookback, BASE_WIDTH) for arch in ("conv1d_gru", "gru")}
    torch.set_flush_denormal(True)
    try:
        seconds = alternating_medians(steps, repeats, warmup=1)
    finally:
        torch.set_flush_denormal(False)
    hybrid, gru = (EPOCH_BATCHES * seconds[arch] for arch in ("conv1d_gru", "gru"))
    return Result(
        name="cost_growth_hybrid_vs_gru",
        metric=f"seconds per recipe epoch ({EPOCH_BATCHES} batches of {BATCH}), conv1d_gru",
        value=hybrid,
        reference=gru,
        reference_name="gru",
        ratio=hybrid / gru,
        target="ratio < 1 if the hybrid wins at long lookbacks (DLwP)",
        device=device_name(),
        details=(
            f"set_flush_denormal(True); lookback {lookback} = {sampled_steps(lookback, STEP)} steps, "
            f"width {BASE_WIDTH}; median of {repeats} steps each, in turns"
        ),
        params={"lookback": lookback, "width": BASE_WIDTH, "repeats": repeats},
    )


def flush_denormal_result(arch: str, lookback: int, kept: float, repeats: int) -> Result:
    flushed = epoch_seconds(arch, lookback, BASE_WIDTH, repeats, flush_denormal=True)
    steps = sampled_steps(lookback, STEP)
    return Result(
        name=f"cost_growth_{arch}_flush_denormal",
        metric=f"seconds per recipe epoch ({EPOCH_BATCHES} batches of {BATCH})",
        value=flushed,
        reference=kept,
        reference_name="denormal floats kept (torch's default)",
        ratio=flushed / kept,
        target="ratio about 1 if denormals cost nothing",
        device=device_name(),
        details=f"set_flush_denormal(True); lookback {lookback} = {steps} steps, width {BASE_WIDTH}",
        params={
            "arch": arch,
            "sweep": "flush_denormal",
            "lookback": lookback,
            "steps": steps,
            "width": BASE_WIDTH,
        },
    )
