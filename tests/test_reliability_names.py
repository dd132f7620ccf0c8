"""A mistyped model name is a short error that suggests the closest catalogue or registry names."""

from __future__ import annotations

import pytest

import seqzoo

from .conftest import run_seqzoo


def typos(name: str) -> list[str]:
    """Two typical slips: a dropped character and two neighbours swapped (both in the middle)."""
    mid = len(name) // 2
    return [name[:mid] + name[mid + 1 :], name[: mid - 1] + name[mid] + name[mid - 1] + name[mid + 1 :]]


@pytest.mark.parametrize("name", seqzoo.list_pretrained())
def test_load_suggests_the_checkpoint_meant(name):
    for typo in typos(name):
        with pytest.raises(seqzoo.UnknownNameError) as caught:
            seqzoo.load(typo)
        message = str(caught.value)
        assert f"Did you mean {name!r}" in message or f", {name!r}" in message.split("Known:")[0], message
        assert isinstance(caught.value, seqzoo.SeqzooError) and isinstance(caught.value, KeyError)


@pytest.mark.parametrize("name", seqzoo.list_models())
def test_create_model_suggests_the_architecture_meant(name):
    for typo in typos(name):
        if typo in seqzoo.list_models():
            continue  # the slip happens to spell another architecture
        with pytest.raises(seqzoo.UnknownNameError, match="Did you mean") as caught:
            seqzoo.create_model(typo)
        assert repr(name) in str(caught.value).split("Known:")[0], str(caught.value)


def test_a_name_far_from_everything_lists_what_exists_instead():
    with pytest.raises(seqzoo.UnknownNameError) as caught:
        seqzoo.create_model("transformer-xl")
    assert "Did you mean" not in str(caught.value)
    assert all(name in str(caught.value) for name in seqzoo.list_models())


def test_cli_evaluate_suggests_the_name_without_a_traceback():
    proc = run_seqzoo("evaluate", "lstm.synthtic", check=False, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Did you mean 'lstm.synthetic'" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "typed,meant",
    [
        ("se2qseq", "seq2seq"),  # swapped neighbours: difflib's ratio alone (0.43) finds nothing
        ("GRU", "gru"),  # capitals
        ("stacked-gru", "stacked_gru"),
    ],
)
def test_common_slips_in_architecture_names(typed, meant):
    with pytest.raises(seqzoo.UnknownNameError, match=f"Did you mean {meant!r}"):
        seqzoo.create_model(typed)


@pytest.mark.parametrize("typed,meant", [("Gru.Synthetic", "gru.synthetic"), ("lstm", "lstm.synthetic")])
def test_common_slips_in_checkpoint_names(typed, meant):
    with pytest.raises(seqzoo.UnknownNameError, match=f"Did you mean [^?]*{meant!r}"):
        seqzoo.load(typed)
