"""The global random state that checkpoints carry, so a resumed run continues as the uninterrupted one.

Lightning restores weights, optimizers, schedulers and loop counters, but not torch's global random
generators: the train DataLoader draws each epoch's shuffling seed from the CPU generator, and dropout
and scheduled sampling draw from the generator of the model's device. Only tensors are stored, so the
checkpoint still loads with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import torch
from torch import Tensor


def capture(device: torch.device) -> dict[str, Tensor]:
    """The CPU generator's state and, for a model on a GPU, that GPU's."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore(state: dict[str, Tensor], device: torch.device) -> None:
    """Put back what `capture` saved (a GPU state only when the model is on a GPU again)."""
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)
