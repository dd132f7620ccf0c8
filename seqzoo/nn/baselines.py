"""Baselines every forecasting result is read against: the dense window MLP (DLwP 6.3.4)."""

from __future__ import annotations

from torch import Tensor, nn

from seqzoo.registry import register_model


class DenseWindow(nn.Module):
    """Flatten the whole window and apply an MLP: the "basic machine learning approach"."""

    def __init__(self, input_size: int, steps: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        self.steps = steps
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(steps * input_size, hidden_size),
            nn.ReLU(),
            nn.Linear(hidden_size, output_size),
        )

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.net(x)


@register_model("dense", family="baseline")
def dense(input_size: int = 1, output_size: int = 1, steps: int = 10, hidden_size: int = 32) -> DenseWindow:
    """Dense MLP over the flattened window of `steps` x `input_size` values."""
    return DenseWindow(input_size, steps, hidden_size, output_size)
