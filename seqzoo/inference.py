"""Answering with a network and its preprocessing: the steps every `predict` runs, free of Lightning.

`SeqzooTask.predict` (a LightningModule, for training and fine-tuning) and `Predictor` (what
`seqzoo.predictor` gives serving code, which never imports Lightning) both run these functions, so the
two cannot drift apart.
"""

from __future__ import annotations

import contextlib
import numbers
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from seqzoo.errors import InputError, SeqzooError
from seqzoo.preprocessing import Preprocessor, preprocessor_from_config


def run_network(net: nn.Module, x: Tensor, lengths: Tensor | None = None) -> Tensor:
    """The network on a batch; `lengths` only for networks that read padded token sequences."""
    return net(x) if lengths is None else net(x, lengths=lengths)


def persistence(x: Tensor, target_index: int, per_step: bool) -> Tensor:
    """The naive forecast: the last observed target, or each step's target for many-to-many outputs."""
    target = x[..., target_index]
    return target if per_step else target[:, -1]


def forecast(net: nn.Module, x: Tensor, delta_of: int | None = None) -> Tensor:
    """The forecast in normalised units, `(batch,)` or `(batch, time)`. With `delta_of`, the index of the
    target among the inputs, the network predicts the change from the last observed target (per step for
    many-to-many networks); without, its output is the forecast itself."""
    out = run_network(net, x).squeeze(-1)
    return out if delta_of is None else out + persistence(x, delta_of, out.ndim == 2)


def class_logits(net: nn.Module, x: Tensor, lengths: Tensor | None, binary: bool) -> Tensor:
    """One logit per example for two classes (sigmoid), one per class otherwise (softmax)."""
    logits = run_network(net, x, lengths)
    return logits.squeeze(-1) if binary else logits


def binary_classes(num_classes: Any) -> bool:
    """Whether a classifier with `num_classes` outputs one logit (two classes) rather than one per class."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise SeqzooError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    return num_classes == 2


def class_probabilities(logits: Tensor, binary: bool) -> Tensor:
    return torch.sigmoid(logits) if binary else torch.softmax(logits, dim=-1)


def _forecasting_step(net: nn.Module, pre: Any, kwargs: Mapping[str, Any]) -> Callable[..., Tensor]:
    delta_of = pre.target_index if kwargs.get("predict_delta", False) else None
    return lambda x: forecast(net, x, delta_of).unsqueeze(-1)  # the network's output shape


def _classification_step(net: nn.Module, pre: Any, kwargs: Mapping[str, Any]) -> Callable[..., Tensor]:
    binary = binary_classes(kwargs.get("num_classes", 2))
    return lambda x, lengths=None: class_probabilities(class_logits(net, x, lengths, binary), binary)


def _seq2seq_step(net: nn.Module, pre: Any, kwargs: Mapping[str, Any]) -> Callable[..., Tensor]:
    return lambda src: net.generate(src, start_id=pre.start_id, steps=pre.answer_length)[0]


# The task arguments an artifact's config.json may hold (`task.kwargs`): each task class's own and the
# training settings every task shares. Kept here, free of Lightning, so that serving checks them too.
TRAINING_ARGUMENTS = ("optimizer", "lr", "weight_decay", "momentum", "scheduler", "scheduler_kwargs")
TASK_ARGUMENTS = {
    "forecasting": ("loss", "predict_delta", "tbptt_steps", "tbptt_clip"),
    "classification": ("num_classes",),
    "seq2seq": ("teacher_forcing", "teacher_forcing_final"),
}


def check_task_arguments(task: str, kwargs: Mapping[str, Any]) -> None:
    """Refuse arguments `task` does not take, and a `predict_delta` that is not a bool: a string such as
    "no" would read as true and shift every forecast."""
    allowed = (*TASK_ARGUMENTS.get(task, ()), *TRAINING_ARGUMENTS)
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise SeqzooError(f"unknown arguments {unknown} for a {task} task; it takes {sorted(allowed)}")
    if not isinstance(kwargs.get("predict_delta", False), bool):
        raise SeqzooError(f"predict_delta must be true or false, got {kwargs['predict_delta']!r}")


OUTPUT_STEPS = {
    "forecasting": _forecasting_step,
    "classification": _classification_step,
    "seq2seq": _seq2seq_step,
}


def output_step(task: str, net: nn.Module, pre: Any, kwargs: Mapping[str, Any]) -> Callable[..., Tensor]:
    """What `predict` runs on a batch of encoded inputs for `task`: forecasts, probabilities, answers."""
    return OUTPUT_STEPS[task](net, pre, kwargs)


def check_predict_options(pre: Preprocessor, batch_size: Any, options: Mapping[str, Any]) -> None:
    """Refuse a bad batch size, options the preprocessor does not take, and option values of other types
    than it declares (`predict_options`: name -> types): a truthy string must not switch a mode on."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise InputError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    allowed = getattr(pre, "predict_options", {})
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InputError(f"unknown predict options {unknown}; this model accepts {list(allowed) or 'none'}")
    for name, value in options.items():
        if not isinstance(value, allowed[name]):
            expected = " or ".join(sorted({t.__name__ for t in allowed[name]}))
            got = f"{type(value).__name__} {value!r}"
            raise InputError(f"predict option {name} must be a {expected}, got {got}")


# module -> [predict calls under way, the mode to restore after the last (None: nothing was switched)]
_PREDICTING: weakref.WeakKeyDictionary[nn.Module, list] = weakref.WeakKeyDictionary()
_PREDICTING_LOCK = threading.Lock()


@contextlib.contextmanager
def evaluating(module: nn.Module, net: nn.Module) -> Iterator[None]:
    """Eval mode for the duration (dropout off), then the mode the caller had.

    Switching modes walks every submodule, metrics included: costly per call, and a loaded model is in
    eval mode already. Only the network's mode can change what predict computes, so only then switch.
    Calls from several threads share one switch, and the last to finish restores the mode: a call
    that restored it alone would turn dropout back on under another's forward pass.
    """
    with _PREDICTING_LOCK:
        calls = _PREDICTING.setdefault(module, [0, None])
        if calls[0] == 0 and (module.training or any(m.training for m in net.modules())):
            calls[1] = module.training
            module.eval()
        calls[0] += 1
    try:
        yield
    finally:
        with _PREDICTING_LOCK:
            calls[0] -= 1
            if calls[0] == 0 and calls[1] is not None:
                module.train(calls[1])
                calls[1] = None


def input_placement(net: nn.Module) -> tuple[torch.device, torch.dtype | None]:
    """Where encoded inputs go: the device of the network's parameters, and their floating dtype for
    floating inputs, so that a model moved to float64 or half precision still answers. A network
    without parameters (an ONNX graph) takes them on the CPU as encoded."""
    weight = next(net.parameters(), None)
    if weight is None:
        return torch.device("cpu"), None
    return weight.device, weight.dtype if weight.is_floating_point() else None


def run_predict(
    step: Callable[..., Tensor],
    pre: Preprocessor,
    raw: Any,
    batch_size: int,
    net: nn.Module,
    options: Mapping[str, Any],
) -> Any:
    """Raw task-native inputs -> task-native outputs: encode, run `step` (over `net`) in batches, decode.

    `options` are the preprocessor's own (e.g. `rolling=True` for Jena forecasts).
    """
    check_predict_options(pre, batch_size, options)
    encoded = pre.encode(raw, **options)
    inputs = encoded if isinstance(encoded, tuple) else (encoded,)
    device, dtype = input_placement(net)

    def placed(t: Tensor) -> Tensor:  # token ids and lengths keep their integer type
        return t.to(device, dtype) if dtype is not None and t.is_floating_point() else t.to(device)

    with torch.inference_mode():
        outputs = [
            step(*(placed(t[i : i + batch_size]) for t in inputs))
            for i in range(0, max(len(inputs[0]), 1), batch_size)
        ]
    output = torch.cat(outputs).cpu()
    if output.dtype in (torch.float16, torch.bfloat16):
        output = output.float()  # decode half precision as float32 (numpy has no bfloat16)
    return pre.decode(output, raw, **options) if options else pre.decode(output)


def vocabulary_mismatch(net: nn.Module, config: dict[str, Any] | None) -> tuple[int, int] | None:
    """(tokens in the vocabulary of `config`, rows of the network's embedding) when they differ.

    A token id past the embedding would crash mid-training; a larger embedding means the recipe and the
    data disagree about the vocabulary. Every embedding counts: a classifier's (`embedding`) and an
    encoder-decoder's source and target ones. Networks without an embedding have nothing to check.
    """
    names = ("embedding", "src_embedding", "tgt_embedding")
    rows = [e.num_embeddings for e in (getattr(net, n, None) for n in names) if isinstance(e, nn.Embedding)]
    if config is None or not rows:
        return None
    size = getattr(preprocessor_from_config(config), "vocab_size", None)
    wrong = [n for n in rows if n != size]
    return None if size is None or not wrong else (size, wrong[0])
