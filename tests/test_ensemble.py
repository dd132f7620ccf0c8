"""Ensembles of the bundled synthetic checkpoints: the mean of the members, a folder that loads back,
clear errors for members that do not fit together."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import seqzoo
from seqzoo.catalog import pretrained_path
from seqzoo.data.synthetic import SyntheticDataModule, windows_of
from seqzoo.ensembles import MANIFEST, Ensemble
from seqzoo.errors import ArtifactError, InputError
from seqzoo.evaluation import evaluate
from seqzoo.tasks import ClassificationTask, ForecastingTask

SYNTHETIC = seqzoo.list_pretrained("*.synthetic")


@pytest.fixture(scope="module")
def test_windows() -> tuple[np.ndarray, np.ndarray]:
    """The 4,950 test windows every synthetic checkpoint was scored on, and their true next values."""
    data = SyntheticDataModule()
    data.setup()
    return windows_of(data.series["test"])


def test_ensemble_prediction_is_the_mean_of_its_members(test_windows):
    x, _ = test_windows
    ens = seqzoo.ensemble(SYNTHETIC)
    assert len(ens) == len(SYNTHETIC) == 4 and ens.names == SYNTHETIC
    members = np.stack([seqzoo.load(name).predict(x) for name in SYNTHETIC])
    np.testing.assert_allclose(ens.predict(x), members.mean(axis=0), rtol=1e-12, atol=1e-12)


def test_ensemble_against_its_members_on_the_synthetic_test_windows(test_windows):
    x, y = test_windows
    mae = {name: float(np.abs(seqzoo.load(name).predict(x) - y).mean()) for name in SYNTHETIC}
    ensemble_mae = float(np.abs(seqzoo.ensemble(SYNTHETIC).predict(x) - y).mean())
    best = min(mae, key=mae.get)
    print(f"test MAE: {json.dumps(mae)}; ensemble {ensemble_mae:.5f}; best member {best} {mae[best]:.5f}")
    # measured: gru 0.06397, lstm 0.06479, stacked_simplernn 0.06775, simplernn 0.06905; ensemble 0.06570.
    # The mean of forecasts is never worse than the members' mean error (triangle inequality); here the
    # members make the same mistakes (noise sigma 0.05 is the floor), so the ensemble does not beat gru.
    assert ensemble_mae <= np.mean(list(mae.values()))
    assert mae[best] < ensemble_mae < max(mae.values())


def test_members_can_be_loaded_models_and_names_mixed(test_windows):
    x, _ = test_windows
    gru = seqzoo.load("gru.synthetic")
    ens = seqzoo.ensemble([gru, "lstm.synthetic"])
    assert ens.names == ["gru.synthetic", "lstm.synthetic"]
    lstm = seqzoo.load("lstm.synthetic")
    expected = (gru.predict(x[:5], batch_size=2) + lstm.predict(x[:5], batch_size=2)) / 2  # options pass on
    np.testing.assert_allclose(ens.predict(x[:5], batch_size=2), expected, rtol=1e-12)


def test_members_are_named_as_their_artifacts_and_apart_from_each_other(tmp_path):
    """A member given as a folder is named as its artifact records (a local path would travel to the
    Hub in ensemble.json and the card), and two members of one name are told apart, or evaluate's
    per-member metrics would keep one of them."""
    folder = str(pretrained_path("gru.synthetic"))
    unnamed = ForecastingTask(arch="lstm", preprocessing=seqzoo.load("gru.synthetic").preprocessing)
    copy = unnamed.save_pretrained(tmp_path / "my-lstm")
    pair = seqzoo.ensemble([folder, "gru.synthetic", str(copy), unnamed])
    assert pair.names == ["gru.synthetic", "gru.synthetic-2", "my-lstm", "lstm"]
    saved = json.loads(pair.save_pretrained(tmp_path / "ens").joinpath("ensemble.json").read_text())
    assert [m["name"] for m in saved["members"]] == pair.names
    assert str(tmp_path) not in (tmp_path / "ens" / "README.md").read_text()
    metrics, _ = evaluate(seqzoo.ensemble([folder, "gru.synthetic"]))  # members with recipes: evaluable
    assert {"gru.synthetic:test_mae", "gru.synthetic-2:test_mae"} <= set(metrics)


def test_save_pretrained_then_load_gives_the_same_ensemble(tmp_path, test_windows):
    x, _ = test_windows
    ens = seqzoo.ensemble(["gru.synthetic", "lstm.synthetic", "simplernn.synthetic"])
    folder = ens.save_pretrained(tmp_path / "my-ensemble")
    manifest = json.loads((folder / MANIFEST).read_text())
    assert [m["name"] for m in manifest["members"]] == ens.names and manifest["combine"] == "mean"
    for member in manifest["members"]:
        config = json.loads((folder / member["folder"] / "config.json").read_text())
        assert config["name"] == member["name"] and config["metrics"]["test_mae"] > 0  # cards carried over
    assert not list(folder.rglob("*.pkl")) and not list(folder.rglob("*.ckpt"))
    back = seqzoo.load(folder)
    assert isinstance(back, Ensemble) and back.names == ens.names
    np.testing.assert_array_equal(back.predict(x), ens.predict(x))
    ens.save_pretrained(folder)  # replacing an ensemble folder in place is allowed
    assert seqzoo.load(folder).names == ens.names
    (folder / "notes.txt").write_text("mine")  # but not when that would delete something else
    with pytest.raises(ArtifactError, match="refusing to replace .* holds notes.txt, which no ensemble has"):
        ens.save_pretrained(folder)
    assert (folder / "notes.txt").read_text() == "mine"
    (folder / "notes.txt").unlink()
    member = next((folder / "members").iterdir())
    (member / ".notes").write_text("mine")  # member folders are written anew: nothing else in them
    with pytest.raises(ArtifactError, match=r"refusing to replace .*members.* holds \.notes"):
        ens.save_pretrained(folder)
    assert (member / ".notes").read_text() == "mine"


def test_a_changed_member_is_refused_on_load(tmp_path):
    folder = seqzoo.ensemble(["gru.synthetic", "lstm.synthetic"]).save_pretrained(tmp_path / "ens")
    manifest = json.loads((folder / MANIFEST).read_text())
    weights = folder / manifest["members"][1]["folder"] / "model.safetensors"
    weights.write_bytes((folder / manifest["members"][0]["folder"] / "model.safetensors").read_bytes())
    with pytest.raises(ArtifactError, match="does not match the manifest"):
        seqzoo.load(folder)
    manifest["members"][1]["folder"] = "../outside"
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="must lie inside the ensemble folder"):
        seqzoo.load(folder)


def test_members_of_another_task_or_protocol_are_refused():
    with pytest.raises(InputError, match="cannot ensemble 'gru.synthetic' with 'seq2seq.addition': task"):
        seqzoo.ensemble(["gru.synthetic", "seq2seq.addition"])
    longer = seqzoo.load("lstm.synthetic")
    longer.preprocessing = {**longer.preprocessing, "window": 20}
    with pytest.raises(InputError, match="with 'lstm.synthetic': window 10 vs 20"):
        seqzoo.ensemble(["gru.synthetic", longer])
    with pytest.raises(InputError, match="seq2seq model; ensembles average forecasts"):
        seqzoo.ensemble(["seq2seq.addition", "seq2seq_peeky.addition"])
    with pytest.raises(InputError, match="at least 2 members"):
        seqzoo.ensemble(["gru.synthetic"])


def test_classifiers_soft_vote():
    """Two 3-class classifiers: the ensemble's class probabilities are the mean of theirs."""
    from seqzoo.data.synthetic import SeriesScaler

    scaler = SeriesScaler(10, 0.0, 1.0).to_config()
    members = [
        ClassificationTask(arch=arch, arch_kwargs={"hidden_size": 8}, num_classes=3, preprocessing=scaler)
        for arch in ("gru", "lstm")
    ]
    x = np.random.default_rng(0).normal(size=(6, 10))
    ens = seqzoo.ensemble(members)
    probabilities = ens.predict(x)
    np.testing.assert_allclose(probabilities, (members[0].predict(x) + members[1].predict(x)) / 2, rtol=1e-12)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-6)
    binary = ClassificationTask(arch="gru", num_classes=2, preprocessing=scaler)
    with pytest.raises(InputError, match="num_classes 3 vs 2"):
        seqzoo.ensemble([members[0], binary])


def test_evaluate_measures_the_ensemble_and_each_member_on_the_same_test_windows(test_windows):
    """Member scores equal their cards (so every member saw the card's windows in the same order), and
    the ensemble's equals the mean forecast scored through the public predict path."""
    x, y = test_windows
    ens = seqzoo.ensemble(SYNTHETIC[:2])
    metrics, data = evaluate(ens)
    for name in SYNTHETIC[:2]:
        card = seqzoo.load(name).artifact_config["metrics"]
        assert metrics[f"{name}:test_mae"] == pytest.approx(card["test_mae"], rel=1e-5)
        assert metrics[f"{name}:test_mse"] == pytest.approx(card["test_mse"], rel=1e-5)
    assert metrics["test_mae"] == pytest.approx(float(np.abs(ens.predict(x) - y).mean()), rel=1e-5)
    assert metrics["test_naive_mae"] == pytest.approx(0.1210, abs=1e-4)
    assert data["name"].startswith("synthetic")
    with pytest.raises(InputError, match="test split only"):
        evaluate(ens, split="val")


def test_evaluate_runs_each_member_in_its_own_float_dtype_and_leaves_it_there():
    """A member moved to float64 reads float64 batches, as `evaluate` and `predict` give it one."""
    wide = seqzoo.load(SYNTHETIC[0]).to(torch.float64)
    metrics, _ = evaluate(seqzoo.ensemble([wide, SYNTHETIC[1]]))
    card = seqzoo.load(SYNTHETIC[0]).artifact_config["metrics"]
    assert metrics[f"{SYNTHETIC[0]}:test_mae"] == pytest.approx(card["test_mae"], rel=1e-4)
    assert next(wide.parameters()).dtype == torch.float64


def test_an_ensemble_is_evaluated_on_the_accelerator_asked_for_or_refuses_it():
    ens = seqzoo.ensemble(SYNTHETIC[:2])
    with pytest.raises(InputError, match="cannot evaluate on accelerator 'abacus'"):
        evaluate(ens, accelerator="abacus")
    on_cpu, _ = evaluate(ens, accelerator="cpu")
    assert on_cpu == evaluate(ens)[0]


def test_cli_evaluates_an_ensemble_folder(tmp_path):
    from .conftest import run_seqzoo

    folder = seqzoo.ensemble(SYNTHETIC[:2]).save_pretrained(tmp_path / "pair")
    printed = json.loads(run_seqzoo("evaluate", str(folder), "--json").stdout)
    assert set(printed) == {
        "test_mae",
        "test_mse",
        "test_naive_mae",
        "test_naive_mse",
        *(f"{n}:{k}" for n in SYNTHETIC[:2] for k in ("test_mae", "test_mse")),
    }
    in_process, _ = evaluate(seqzoo.load(folder))
    assert printed == pytest.approx(in_process, rel=1e-6)


def test_members_that_read_other_test_data_are_refused(tmp_path):
    """A member whose recipe draws other series (another seed) would be averaged with the wrong truth."""
    folder = seqzoo.load("lstm.synthetic").save_pretrained(tmp_path / "lstm-other-data")
    recipe = folder / "recipe.yaml"
    text = recipe.read_text()
    assert "    seed: 0\n" in text
    recipe.write_text(text.replace("    seed: 0\n", "    seed: 7\n"))
    with pytest.raises(InputError, match="reads other test examples than 'gru.synthetic'"):
        evaluate(seqzoo.ensemble(["gru.synthetic", folder]))
