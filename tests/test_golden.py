"""Golden artifacts: a checkpoint saved by every released format_version still loads and predicts the same.

tests/golden/v<N>/<name>/ is an artifact folder exactly as seqzoo wrote it in format version N, and
<name>.expected.json beside it holds fixed raw inputs and the outputs it gave when it was frozen. These
files are never regenerated: when a change to seqzoo breaks one, the change is what must be fixed (or
the format version raised, with the old one still read). A new FORMAT_VERSION adds a tests/golden/v<N+1>/.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import seqzoo
from seqzoo.artifact import FORMAT_VERSION, SUPPORTED_FORMAT_VERSIONS

GOLDEN = Path(__file__).parent / "golden"
ARTIFACTS = sorted(p for p in GOLDEN.glob("v*/*") if p.is_dir())


def test_every_supported_format_version_has_a_golden_artifact():
    assert FORMAT_VERSION in SUPPORTED_FORMAT_VERSIONS
    for version in SUPPORTED_FORMAT_VERSIONS:
        folders = [p for p in ARTIFACTS if p.parent.name == f"v{version}"]
        assert folders, f"no golden artifact for format_version {version} under {GOLDEN}/v{version}"


@pytest.mark.parametrize("folder", ARTIFACTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_golden_artifact_loads_and_predicts_what_it_did(folder):
    config = json.loads((folder / "config.json").read_text())
    assert f"v{config['format_version']}" == folder.parent.name
    expected = json.loads(folder.with_name(f"{folder.name}.expected.json").read_text())
    model = seqzoo.load(folder)
    text = isinstance(expected["inputs"][0], str)  # reviews and questions go in as lists of strings
    outputs = model.predict(expected["inputs"] if text else np.asarray(expected["inputs"]))
    if isinstance(expected["outputs"][0], str):  # greedy answers; the frozen ones won by >= 0.29 logits
        assert outputs == expected["outputs"]
    else:  # float32 networks: other CPUs and BLAS builds round differently in the last bits, never by 1e-5
        np.testing.assert_allclose(outputs, expected["outputs"], rtol=1e-5, atol=1e-5)
    assert model.num_parameters == config["num_parameters"]


def test_the_golden_artifacts_cover_what_format_version_1_can_hold():
    """Weights stored as float16, a tokenizer.json, a seq2seq preprocessing, a bidirectional encoder."""
    configs = {p.name: json.loads((p / "config.json").read_text()) for p in ARTIFACTS}
    kinds = {c["preprocessing"]["kind"] for c in configs.values()}
    assert {"series_window", "word_tokenizer", "addition_chars"} <= kinds
    assert (GOLDEN / "v1" / "lstm.tiny_text" / "tokenizer.json").is_file()
    weights = (GOLDEN / "v1" / "lstm.tiny_text" / "model.safetensors").read_bytes()
    assert b'"seqzoo_weights_dtype":"float16"' in weights[:2000]
    assert configs["seq2seq_attention.tiny_addition"]["architecture"]["kwargs"]["bidirectional_encoder"]
