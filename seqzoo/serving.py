"""A pretrained network and its preprocessing, without Lightning: what serving code needs.

`seqzoo.load` returns the task LightningModule, for training, fine-tuning and evaluation; importing
Lightning and torchmetrics for it more than doubles a fresh process's start (docs/benchmarks.md).
`seqzoo.predictor` builds this class from the same artifact instead, and its `predict` runs the very
steps the LightningModule's does (`seqzoo.inference`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from seqzoo.errors import SeqzooError
from seqzoo.inference import (
    OUTPUT_STEPS,
    check_task_arguments,
    input_placement,
    output_step,
    run_predict,
)
from seqzoo.preprocessing import Preprocessor, preprocessor_from_config

RUNTIMES = ("torch", "onnxruntime")  # what runs the network: PyTorch, or model.onnx (seqzoo.onnx_serving)


class Predictor(nn.Module):
    """`net` (its weights keyed `net.*`, as in model.safetensors) plus the fitted preprocessing.

    `predict(raw, **options)` takes and returns what the task module's `predict` does; `.to(device)`
    moves the network. `artifact_config` is the config.json it was loaded from (metrics, provenance).
    """

    def __init__(
        self,
        task: str,
        net: nn.Module,
        preprocessing: dict[str, Any],
        task_kwargs: dict[str, Any],
        artifact_config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if task not in OUTPUT_STEPS:
            raise SeqzooError(f"task must be one of {sorted(OUTPUT_STEPS)}, got {task!r}")
        check_task_arguments(task, task_kwargs)
        self.task_name, self.net = task, net
        self.preprocessing = preprocessing
        self.preprocessor: Preprocessor = preprocessor_from_config(preprocessing)
        self.task_kwargs = dict(task_kwargs)
        self.artifact_config = artifact_config
        output_step(task, net, self.preprocessor, self.task_kwargs)  # refuses bad task arguments now
        self.eval()

    @property
    def device(self) -> torch.device:
        return input_placement(self.net)[0]  # an ONNX graph has no parameters: the CPU

    @property
    def num_parameters(self) -> int:
        counted = getattr(self.net, "num_parameters", None)  # an ONNX graph's weights are no parameters
        return counted if isinstance(counted, int) else sum(p.numel() for p in self.net.parameters())

    def predict(self, raw: Any, batch_size: int = 4096, **options: Any) -> Any:
        """Raw task-native inputs -> task-native outputs, with the stored preprocessing.

        The step is built around `self.net` on every call, never kept: a copy, a quantized or an
        unpickled predictor then runs its own network, and the predictor holds no lambda to pickle.
        A predictor only answers, so it answers in eval mode (dropout off) whatever `.train()` set.
        """
        if self.training or any(module.training for module in self.net.modules()):
            self.eval()  # and stays so: restoring the mode per call would race between threads
        step = output_step(self.task_name, self.net, self.preprocessor, self.task_kwargs)
        return run_predict(step, self.preprocessor, raw, batch_size, self.net, options)
