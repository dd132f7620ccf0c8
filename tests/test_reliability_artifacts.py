"""Loading never unpickles, and a corrupt artifact or checkpoint is a clear `ArtifactError`.

The malicious files are real: a pickle whose `__reduce__` writes a marker file when unpickled, saved as
a `.ckpt` (alone, and inside a real Lightning checkpoint) and in place of `model.safetensors`. A control
shows each payload does write the marker when unpickled the unsafe way, so the checks can fail.
Corruptions already covered by tests/test_artifact.py (missing files, truncation, bad JSON, missing or
extra config keys, format_version, mis-sized weights) are not repeated here.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import seqzoo
from seqzoo.checkpoint import load_checkpoint
from seqzoo.data.addition import AdditionCodec
from seqzoo.data.jena import JenaScaler
from seqzoo.data.jena_files import CLASSIC_FEATURES
from seqzoo.data.synthetic import SeriesScaler
from seqzoo.errors import ArtifactError
from seqzoo.preprocessing import preprocessor_from_config
from seqzoo.tasks import ForecastingTask

from .conftest import ROOT, SEQZOO

WINDOWS = np.random.default_rng(0).normal(size=(4, 10))


class Payload:
    """Unpickling this runs `exec`, which writes `marker`: the shape of every pickle exploit."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('code ran')",))


@pytest.fixture
def marker(tmp_path) -> Path:
    path = tmp_path / "PWNED"
    pickle.loads(pickle.dumps(Payload(path)))  # control: the payload is live
    assert path.read_text() == "code ran"
    path.unlink()
    return path


@pytest.fixture
def artifact(tmp_path) -> Path:
    torch.manual_seed(0)
    task = ForecastingTask(
        arch="gru", arch_kwargs={"hidden_size": 8}, preprocessing=SeriesScaler(10, 1.5, 3.0).to_config()
    )
    return task.save_pretrained(tmp_path / "art")


def evil_lightning_checkpoint(real: Path, marker: Path, out: Path) -> Path:
    """A real `seqzoo fit` checkpoint with the payload tucked into its hyperparameters."""
    ckpt = torch.load(real, map_location="cpu", weights_only=True)
    ckpt["hyper_parameters"]["note"] = Payload(marker)
    torch.save(ckpt, out)
    return out


# -- loading never unpickles -------------------------------------------------------------------------
def test_the_lightning_payload_is_live_when_loaded_unsafely(trained_checkpoint, marker, tmp_path):
    """Control for the tests below: the doctored checkpoint does run code under weights_only=False."""
    path = evil_lightning_checkpoint(trained_checkpoint, marker, tmp_path / "evil.ckpt")
    torch.load(path, map_location="cpu", weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_load_checkpoint_refuses_pickled_objects(trained_checkpoint, marker, tmp_path, protocol):
    files = {
        "torch.save of the object": tmp_path / "object.ckpt",
        "inside a Lightning checkpoint": tmp_path / "lightning.ckpt",
        "a bare pickle": tmp_path / "bare.ckpt",
    }
    torch.save(Payload(marker), files["torch.save of the object"], pickle_protocol=protocol)
    evil_lightning_checkpoint(trained_checkpoint, marker, files["inside a Lightning checkpoint"])
    files["a bare pickle"].write_bytes(pickle.dumps(Payload(marker), protocol=protocol))
    for what, path in files.items():
        with pytest.raises(ArtifactError, match="refused to load") as caught:
            load_checkpoint(path)
        assert str(path) in str(caught.value), what
        assert "weights_only" not in str(caught.value), "never advise the unsafe way out"
        assert not marker.exists(), f"{what}: the payload ran"


def test_export_cli_refuses_malicious_checkpoints(trained_checkpoint, marker, tmp_path):
    """Both kinds of file through the real `seqzoo export`, as two processes side by side."""
    torch.save(Payload(marker), tmp_path / "object.ckpt")
    evil_lightning_checkpoint(trained_checkpoint, marker, tmp_path / "lightning.ckpt")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = {
        kind: subprocess.Popen(
            [*SEQZOO, "export", str(tmp_path / f"{kind}.ckpt"), str(tmp_path / f"out-{kind}")],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for kind in ("object", "lightning")
    }
    for kind, proc in procs.items():
        _, stderr = proc.communicate(timeout=180)
        assert proc.returncode == 2, stderr
        assert "refused to load" in stderr and "Traceback" not in stderr, stderr
        assert not (tmp_path / f"out-{kind}").exists()
    assert not marker.exists()


def test_training_commands_and_evaluate_refuse_a_malicious_checkpoint(trained_checkpoint, marker, tmp_path):
    """`seqzoo fit/validate --ckpt_path` (which Lightning loads) and `seqzoo evaluate FILE`, as real
    processes side by side. torch is told to unpickle anything (`TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`,
    which wins over its default): seqzoo asks for weights_only itself, so the payload still never runs."""
    evil = evil_lightning_checkpoint(trained_checkpoint, marker, tmp_path / "lightning.ckpt")
    recipe = ["--config", "recipes/synthetic/gru.yaml", "--trainer.logger.init_args.save_dir", str(tmp_path)]
    planted = tmp_path / "gru.synthetic" / "v" / "checkpoints" / "last.ckpt"  # what `--ckpt_path last` finds
    planted.parent.mkdir(parents=True)
    shutil.copy(evil, planted)
    commands = {
        "fit": ["fit", *recipe, "--ckpt_path", str(evil)],
        "validate": ["validate", *recipe, "--ckpt_path", str(evil)],
        "fit --ckpt_path last": [
            "fit",
            *recipe,
            "--trainer.logger.init_args.version",
            "v",
            "--ckpt_path",
            "last",
        ],
        "evaluate": ["evaluate", str(evil)],
    }
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    procs = {
        name: subprocess.Popen(
            [*SEQZOO, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for name, args in commands.items()
    }
    for name, proc in procs.items():
        _, stderr = proc.communicate(timeout=180)
        assert proc.returncode == 2 and "Traceback" not in stderr, stderr[-3000:]
        if name == "evaluate":  # an artifact is a folder: a file is refused before it is read
            assert f"seqzoo evaluate: error: {evil}: not a folder" in stderr, stderr
        else:
            path = "last" if name.endswith("last") else evil
            assert f"seqzoo {commands[name][0]}: error: --ckpt_path {path}: refused to load" in stderr, stderr
            assert "weights_only" not in stderr.split("error:", 1)[1], "never advise the unsafe way out"
    assert not marker.exists()


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_load_refuses_a_pickle_in_place_of_the_safetensors(artifact, marker, how):
    weights = artifact / "model.safetensors"
    if how == "torch.save":
        torch.save(Payload(marker), weights)
    else:
        weights.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(ArtifactError, match=r"model\.safetensors: corrupt or truncated"):
        seqzoo.load(artifact)
    assert not marker.exists()


def test_pickles_next_to_an_artifact_are_never_read(artifact, marker):
    expected = seqzoo.load(artifact).predict(WINDOWS)
    for name in ("pytorch_model.bin", "last.ckpt", "optimizer.pt", "training_args.bin"):
        torch.save(Payload(marker), artifact / name)
    assert np.array_equal(seqzoo.load(artifact).predict(WINDOWS), expected)
    assert not marker.exists()
    with pytest.raises(ArtifactError, match="not a folder"):
        seqzoo.load(artifact / "last.ckpt")  # a checkpoint is not an artifact: export it first
    assert not marker.exists()


# -- corrupt weights files ---------------------------------------------------------------------------
def rewrite_header(weights: Path, edit, prefix: int | None = None, tail: bytes = b"") -> None:
    """Edit a safetensors header (JSON after an 8-byte length) and keep or break its framing."""
    raw = weights.read_bytes()
    size = struct.unpack("<Q", raw[:8])[0]
    header, body = json.loads(raw[8 : 8 + size]), raw[8 + size :]
    edit(header)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    weights.write_bytes(
        struct.pack("<Q", len(text) if prefix is None else prefix(len(text))) + text + body + tail
    )


def last_tensor(header: dict[str, Any]) -> str:
    return max((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][1])


HEADER_LIES = {
    "length prefix past the end of the file": dict(edit=lambda h: None, prefix=lambda n: n + 4096),
    "length prefix of 2**40 bytes": dict(edit=lambda h: None, prefix=lambda n: 2**40),
    "length prefix of 2**64 - 1 bytes": dict(edit=lambda h: None, prefix=lambda n: 2**64 - 1),
    "a tensor ending past the file": dict(
        edit=lambda h: h[last_tensor(h)]["data_offsets"].__setitem__(1, 10**6)
    ),
    "a shape larger than its bytes": dict(edit=lambda h: h[last_tensor(h)].__setitem__("shape", [10**6])),
    "two tensors on the same bytes": dict(
        edit=lambda h: h[sorted(k for k in h if k != "__metadata__")[0]].__setitem__(
            "data_offsets", h[sorted(k for k in h if k != "__metadata__")[1]]["data_offsets"]
        )
    ),
    "bytes after the last tensor": dict(edit=lambda h: None, tail=b"\0" * 64),
}


@pytest.mark.parametrize("lie", HEADER_LIES)
def test_a_header_that_lies_about_the_bytes_is_an_error(artifact, lie):
    rewrite_header(artifact / "model.safetensors", **HEADER_LIES[lie])
    with pytest.raises(ArtifactError, match=r"model\.safetensors: corrupt or truncated"):
        seqzoo.load(artifact)


def test_weights_from_another_architecture_with_equal_shapes_names_the_keys(artifact, tmp_path):
    lstm = ForecastingTask(
        arch="lstm", arch_kwargs={"hidden_size": 8}, preprocessing=SeriesScaler(10, 0.0, 1.0).to_config()
    )
    other = lstm.save_pretrained(tmp_path / "lstm")
    shutil.copy(other / "model.safetensors", artifact / "model.safetensors")
    with pytest.raises(ArtifactError, match=r"weights do not match config\.json's architecture") as caught:
        seqzoo.load(artifact)
    assert "mis-sized ['net.encoder" in str(caught.value)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.int64, torch.bool])
def test_weights_of_another_dtype_are_rejected(artifact, dtype):
    weights = artifact / "model.safetensors"
    save_file({k: v.to(dtype) for k, v in load_file(weights).items()}, str(weights))
    try:
        seqzoo.load(artifact)
    except ArtifactError as err:
        assert "dtype" in str(err)
    else:
        raise AssertionError(f"{dtype} weights for a float32 model were accepted")


def test_float_bits_relabelled_as_integers_are_rejected(artifact):
    def relabel(header: dict[str, Any]) -> None:
        for key in header:
            if key != "__metadata__":
                header[key]["dtype"] = "I32"  # same size: the framing stays valid, the numbers do not

    rewrite_header(artifact / "model.safetensors", relabel)
    with pytest.raises(
        ArtifactError, match=r"weights of the wrong dtype: .*expected torch.float32, found torch.int32"
    ):
        seqzoo.load(artifact)  # accepting them would cast the float bits to garbage


def test_non_finite_weights_are_rejected_when_loading(artifact):
    weights = artifact / "model.safetensors"
    tensors = load_file(weights)
    tensors["net.head.bias"] = torch.full_like(tensors["net.head.bias"], float("nan"))
    save_file(tensors, str(weights))
    with pytest.raises(ArtifactError, match=r"non-finite \(NaN or infinite\) weights in \['net.head.bias'\]"):
        seqzoo.load(artifact)  # loaded, its predictions would all be NaN


# -- corrupt config.json values (keys present, values wrong) -----------------------------------------
def set_in(path: str, value: Any):
    def edit(config: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = config
        for key in parents:
            node = node[key]
        node[last] = value

    return edit


BAD_VALUES = {
    "preprocessing.window": [float("inf"), 0, -3, "ten", True],
    "preprocessing.std": [0, -1.0, float("inf"), float("nan")],
    "preprocessing.mean": [float("inf"), "x"],
    "preprocessing.sequence_targets": ["yes", 1],
    "architecture": [None, "gru", []],
    "task": [None, "forecasting"],
}
CONFIG_CASES = [
    (f"{path}={value!r}", set_in(path, value)) for path, values in BAD_VALUES.items() for value in values
]
SECTIONS_NOT_OBJECTS = {
    "provenance=None": set_in("provenance", None),
    "provenance=[]": set_in("provenance", []),
    "preprocessing=1": set_in("preprocessing", 1),
    "preprocessing='series_window'": set_in("preprocessing", "series_window"),
}


def load_with_config(artifact: Path, edit, loader=seqzoo.load) -> None:
    path = artifact / "config.json"
    config = json.loads(path.read_text())
    edit(config)
    path.write_text(json.dumps(config))
    loader(artifact).predict(WINDOWS)


# The serving path (no Lightning) builds the model its own way; it must refuse the same configs.
LOADERS = pytest.mark.parametrize("loader", [seqzoo.load, seqzoo.predictor], ids=["load", "predictor"])


@LOADERS
@pytest.mark.parametrize("label,edit", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_config_values_of_the_wrong_kind_are_artifact_errors(artifact, label, edit, loader):
    expected = r"config\.json: (cannot build the model|\[.*\] must be JSON objects)"
    with pytest.raises(ArtifactError, match=expected):
        load_with_config(artifact, edit, loader)


@pytest.mark.parametrize("label", SECTIONS_NOT_OBJECTS)
def test_config_sections_that_are_not_objects_are_artifact_errors(artifact, label):
    with pytest.raises(ArtifactError, match="must be JSON objects"):
        load_with_config(artifact, SECTIONS_NOT_OBJECTS[label])


def test_config_that_is_not_text_is_an_error(artifact):
    (artifact / "config.json").write_bytes(b"\xff\xfe\x00garbage\x80")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        seqzoo.load(artifact)


@pytest.mark.parametrize(
    "codec_edit",
    [
        {"vocabulary": "0123456789+ "},  # no start symbol "_"
        {"question_length": 3},  # too short for 3-digit operands
        {"max_digits": 0},
        {"reverse_question": "no"},
    ],
)
def test_corrupt_addition_preprocessing_is_an_error_at_load(codec_edit):
    with pytest.raises(ArtifactError, match="invalid preprocessing config"):
        preprocessor_from_config({**AdditionCodec().to_config(), **codec_edit})


@pytest.mark.parametrize(
    "scaler_edit",
    [{"target": "T (K)"}, {"std": [0.0] * 14}, {"mean": [1.0] * 13}, {"lookback": 0}, {"inputs": []}],
)
def test_corrupt_jena_preprocessing_is_an_error_at_load(scaler_edit):
    base = JenaScaler(inputs=list(CLASSIC_FEATURES), mean=[0.0] * 14, std=[1.0] * 14).to_config()
    with pytest.raises(ArtifactError, match="invalid preprocessing config"):
        preprocessor_from_config({**base, **scaler_edit})


# -- checkpoints that unpickle safely but are not what they claim ------------------------------------
CKPT_EDITS = {
    "no state_dict": lambda c: c.pop("state_dict"),
    "hyper_parameters is a list": lambda c: c.__setitem__("hyper_parameters", [1, 2]),
    "seqzoo section is a list": lambda c: c.__setitem__("seqzoo", ["forecasting"]),
    "unknown task": lambda c: c["seqzoo"].__setitem__("task", "astrology"),
    "a weight of the wrong shape": lambda c: c["state_dict"].__setitem__("net.head.bias", torch.zeros(7)),
    "a corrupt preprocessing": lambda c: c["seqzoo"]["preprocessing"].__setitem__("window", "ten"),
    "a tensor, not a dict": lambda c: (c.clear(), c.update(weights=torch.zeros(3))),
}


@pytest.mark.parametrize("what", CKPT_EDITS)
def test_malformed_checkpoints_are_artifact_errors(trained_checkpoint, tmp_path, what):
    ckpt = torch.load(trained_checkpoint, map_location="cpu", weights_only=True)
    CKPT_EDITS[what](ckpt)
    torch.save(ckpt, tmp_path / "bad.ckpt")
    with pytest.raises(
        ArtifactError, match=r"bad\.ckpt: (not a seqzoo training checkpoint|checkpoint does not)"
    ):
        load_checkpoint(tmp_path / "bad.ckpt")


@pytest.mark.parametrize("keep", [0.0, 0.3, 0.9])
def test_truncated_checkpoints_are_artifact_errors(trained_checkpoint, tmp_path, keep):
    data = trained_checkpoint.read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ArtifactError, match=r"cut\.ckpt: not a readable Lightning checkpoint"):
        load_checkpoint(tmp_path / "cut.ckpt")


# What torch's weights-only unpickler raises on each, unless seqzoo says what the file is not
NOT_CHECKPOINTS = {
    "text": (b"hello", "KeyError: 101"),
    "a lone pickle STOP": (b".", "IndexError: pop from empty list"),
    "an empty file": (b"", "EOFError"),
    "a zip header, then junk": (b"PK\x03\x04junk", "RuntimeError: PytorchStreamReader failed reading zip"),
    "random bytes": (np.random.default_rng(0).bytes(64), "Unsupported operand 95"),
    "a plain pickle of a dict": (pickle.dumps({"a": 1}, protocol=2), "RuntimeError: Invalid magic number"),
}


@pytest.mark.parametrize("what", NOT_CHECKPOINTS)
def test_files_that_are_no_checkpoint_are_artifact_errors(tmp_path, what):
    content, reason = NOT_CHECKPOINTS[what]
    (tmp_path / "junk.ckpt").write_bytes(content)
    with pytest.raises(ArtifactError) as caught:
        load_checkpoint(tmp_path / "junk.ckpt")
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'junk.ckpt'}: not a readable Lightning checkpoint ({reason}")
    assert message.endswith("expected a .ckpt file that `seqzoo fit` writes") and "\n" not in message


def test_the_real_checkpoint_itself_loads(trained_checkpoint):
    """Guards the tests above: their starting point is a checkpoint that loads and predicts."""
    assert load_checkpoint(trained_checkpoint).predict(WINDOWS).shape == (4,)
