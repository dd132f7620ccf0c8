"""An ONNX copy of a forecasting network, answered by ONNX Runtime: the fast CPU serving path.

PyTorch runs a GRU on CPU one time step at a time through its dispatcher (about 26 us a step, 6 ms for
a 240-step Jena window); ONNX Runtime's recurrent kernels run the same window in about 0.2 ms.
`export_onnx(folder)` writes `model.onnx` beside an artifact's weights, after checking that ONNX Runtime
answers as PyTorch does; `seqzoo.predictor(name, runtime="onnxruntime")` then serves with it.

model.onnx records the sha256 of the model.safetensors it was exported from, so a copy left beside
retrained weights is refused instead of answering for the old ones.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from seqzoo.download import sha256_file
from seqzoo.errors import ArtifactError, SeqzooError
from seqzoo.fsutil import write_file_atomically

ONNX_FILE = "model.onnx"
WEIGHTS_SHA_KEY = "seqzoo_weights_sha256"
PARAMETERS_KEY = "seqzoo_num_parameters"
OPSET = 17
CHECK_BATCH = 8  # random windows compared between PyTorch and ONNX Runtime before the file is written
TOLERANCE = 1e-4  # largest accepted difference, in normalised units (float32 kernels differ by ~1e-7)
INSTALL_HINT = "install it with: pip install 'seqzoo[onnx]'"


def _require(module: str) -> Any:
    """Import an optional dependency, or say how to get it."""
    try:
        return __import__(module)
    except ImportError as err:
        raise SeqzooError(f"the ONNX path needs the `{module}` package; {INSTALL_HINT}") from err


def check_onnx_export(task_name: str) -> None:
    """Refuse a model that ONNX export does not cover, or a missing package, before anything is written."""
    if task_name != "forecasting":
        raise SeqzooError(
            f"ONNX export covers forecasting models (Jena, synthetic); this is a {task_name} "
            "model: serve it with the PyTorch runtime"
        )
    _require("onnx")
    _require("onnxruntime")


def _example_windows(predictor, batch: int) -> Tensor:
    """Random normalised windows of the shape the model's preprocessing produces."""
    steps, features = predictor.preprocessor.window_shape
    return torch.randn(batch, steps, features, generator=torch.Generator().manual_seed(0))


def _to_onnx_bytes(net: nn.Module, example: Tensor) -> bytes:
    """The network as an ONNX graph with a free batch axis.

    The TorchScript-based exporter maps `nn.GRU`/`nn.LSTM`/`nn.RNN` onto ONNX's recurrent operators in
    under a second; torch.export's exporter took 95 s for a 240-step GRU (it traces the steps one by one).
    """
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its deprecation notice and a batch-size note that the check covers
        torch.onnx.export(
            net,
            (example,),
            buffer,
            dynamo=False,
            opset_version=OPSET,
            input_names=["windows"],
            output_names=["output"],
            dynamic_axes={"windows": {0: "batch"}, "output": {0: "batch"}},
        )
    return buffer.getvalue()


def _session(model: bytes | str) -> Any:
    ort = _require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()  # `torch.set_num_threads` governs both paths
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def export_onnx(folder: str | Path) -> Path:
    """Write `folder/model.onnx` for the artifact in `folder` and return its path.

    Refuses (and writes nothing) unless ONNX Runtime's answers on random windows match PyTorch's within
    `TOLERANCE`. The file is written beside the weights under a temporary name and renamed into place.
    """
    from seqzoo.artifact import WEIGHTS, load_predictor

    folder = Path(folder)
    predictor = load_predictor(folder)
    check_onnx_export(predictor.task_name)
    onnx = _require("onnx")
    example = _example_windows(predictor, CHECK_BATCH)
    model = onnx.load_from_string(_to_onnx_bytes(predictor.net, example[:1]))
    metadata = {WEIGHTS_SHA_KEY: sha256_file(folder / WEIGHTS), PARAMETERS_KEY: str(predictor.num_parameters)}
    onnx.helper.set_model_props(model, metadata)
    data = model.SerializeToString()
    with torch.inference_mode():
        expected = predictor.net(example).numpy()
    got = _session(data).run(None, {"windows": example.numpy()})[0]
    worst = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else float("inf")
    if not worst <= TOLERANCE:
        raise ArtifactError(
            f"{folder}: ONNX Runtime's output differs from PyTorch's by {worst:.3g} (shape {got.shape} vs "
            f"{expected.shape}; tolerance {TOLERANCE}); model.onnx not written"
        )
    write_file_atomically(folder / ONNX_FILE, data)
    return folder / ONNX_FILE


class OnnxNetwork(nn.Module):
    """Stands in for the PyTorch network inside a `Predictor`: windows in, outputs out, via ONNX Runtime.

    It holds no parameters (the weights live in the ONNX graph) and runs on the CPU only.
    """

    def __init__(self, model: bytes) -> None:
        super().__init__()
        self.model, self.session = model, _session(model)
        self.metadata: dict[str, str] = self.session.get_modelmeta().custom_metadata_map
        self.num_parameters = int(self.metadata.get(PARAMETERS_KEY, 0))  # of the network it came from

    def __getstate__(self) -> dict[str, Any]:
        """Pickled and copied as the model's bytes: an ONNX Runtime session cannot be pickled."""
        return {k: v for k, v in super().__getstate__().items() if k != "session"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self.session = _session(self.model)

    def forward(self, windows: Tensor) -> Tensor:
        array = np.ascontiguousarray(windows.detach().cpu().numpy(), dtype=np.float32)
        if len(array) == 0:  # ONNX Runtime's recurrent kernels abort the process on an empty batch
            one = np.zeros((1, *array.shape[1:]), dtype=np.float32)
            return torch.from_numpy(self.session.run(None, {"windows": one})[0][:0])
        return torch.from_numpy(self.session.run(None, {"windows": array})[0])


def load_onnx_network(folder: Path) -> OnnxNetwork:
    """The artifact's model.onnx in an ONNX Runtime session, refused unless it was exported from the
    model.safetensors beside it."""
    from seqzoo.artifact import WEIGHTS

    path = folder / ONNX_FILE
    if not path.is_file():
        raise ArtifactError(
            f"{folder} has no {ONNX_FILE}; write it with `seqzoo export-onnx {folder}` "
            "(or seqzoo.export_onnx), then load with runtime='onnxruntime'"
        )
    network = OnnxNetwork(path.read_bytes())
    if network.metadata.get(WEIGHTS_SHA_KEY) != sha256_file(folder / WEIGHTS):
        raise ArtifactError(
            f"{path} was not exported from the {WEIGHTS} beside it (its recorded sha256 differs); "
            f"export it again with `seqzoo export-onnx {folder}`"
        )
    return network
