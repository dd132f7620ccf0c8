"""Fine-tuning through recipes: `model.init_args.pretrained` starts a real `seqzoo fit` from a checkpoint,
`freeze` keeps parts bit-identical, `new_head` replaces the head, and the window geometry follows the data."""

from __future__ import annotations

import json
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

import seqzoo
from seqzoo.card import read_card_metadata, render_card
from seqzoo.catalog import pretrained_path
from seqzoo.cli import _lightning_cli
from seqzoo.data.synthetic import SeriesScaler, SyntheticDataModule
from seqzoo.download import sha256_file
from seqzoo.errors import ArtifactError, SeqzooError
from seqzoo.preprocessing import adopt_geometry
from seqzoo.tasks import ClassificationTask, ForecastingTask

from .conftest import ROOT, quiet_trainer, require_shared_data, run_seqzoo

RECIPE = "recipes/synthetic/gru.yaml"
# Other series than gru.synthetic was trained on (another seed, twice the noise): a new dataset.
NEW_DATA = ["--data.init_args.seed", "7", "--data.init_args.noise", "0.1"]
BUDGET = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "10"]


def zoo_weights(name: str) -> dict[str, torch.Tensor]:
    return load_file(str(pretrained_path(name) / "model.safetensors"))


def build_cli(tmp_path: Path, *extra: str, recipe: str = RECIPE):
    """The recipe's model, data and trainer, instantiated by the real LightningCLI but not run yet."""
    args = ["--config", recipe, "--trainer.logger.init_args.save_dir", str(tmp_path), *extra]
    return _lightning_cli(args, run=False)


def fit_and_validate(cli) -> float:
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    (metrics,) = cli.trainer.validate(cli.model, datamodule=cli.datamodule, verbose=False)
    return metrics["val_mae"]


def test_fit_starts_from_the_checkpoint_and_frozen_parts_stay_bit_identical(tmp_path):
    cli = build_cli(
        tmp_path,
        *NEW_DATA,
        *BUDGET,
        "--model.init_args.pretrained=gru.synthetic",
        "--model.init_args.freeze=encoder",
        "--model.init_args.lr=0.01",
    )
    artifact = zoo_weights("gru.synthetic")
    start = {k: v.clone() for k, v in cli.model.state_dict().items()}
    assert start.keys() == artifact.keys()
    assert all(torch.equal(start[k], artifact[k]) for k in artifact)
    assert [n for n, p in cli.model.named_parameters() if p.requires_grad] == [
        "net.head.weight",
        "net.head.bias",
    ]

    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    after = cli.model.state_dict()
    encoder = [k for k in artifact if k.startswith("net.encoder.")]
    head = [k for k in artifact if k.startswith("net.head.")]
    assert encoder and all(torch.equal(after[k], artifact[k]) for k in encoder)
    assert head and all(not torch.equal(after[k], artifact[k]) for k in head)
    assert cli.model.pretrained_from == {
        "name": "gru.synthetic",
        "revision": None,
        "weights_sha256": sha256_file(pretrained_path("gru.synthetic") / "model.safetensors"),
        "freeze": ["encoder"],
        "new_head": False,
    }


def test_seqzoo_fit_with_a_new_head_then_export_records_where_it_started(tmp_path):
    run_seqzoo(
        "fit",
        "--config",
        RECIPE,
        *NEW_DATA,
        *BUDGET,
        "--model.init_args.pretrained",
        "gru.synthetic",
        "--model.init_args.new_head",
        "true",
        "--trainer.limit_val_batches",
        "5",
        "--trainer.logger.init_args.save_dir",
        str(tmp_path),
        "--trainer.logger.init_args.version",
        "ft",
    )
    ckpt = tmp_path / "gru.synthetic" / "ft" / "checkpoints" / "best.ckpt"
    logged = yaml.safe_load((tmp_path / "gru.synthetic" / "ft" / "hparams.yaml").read_text())
    assert logged["arch"] == "gru" and "pretrained" not in logged  # the result's hyperparameters
    out = tmp_path / "gru-finetuned"
    run_seqzoo("export", str(ckpt), str(out), "--no-evaluate")
    config = json.loads((out / "config.json").read_text())
    assert config["architecture"] == {"name": "gru", "kwargs": {"input_size": 1, "hidden_size": 32}}
    assert "pretrained" not in config["task"]["kwargs"] and "freeze" not in config["task"]["kwargs"]
    started = config["provenance"]["pretrained"]
    assert started["name"] == "gru.synthetic" and started["new_head"] is True and started["freeze"] == []
    assert started["weights_sha256"] == sha256_file(pretrained_path("gru.synthetic") / "model.safetensors")
    assert "pretrained: gru.synthetic" in (out / "recipe.yaml").read_text()
    card = (out / "README.md").read_text()
    assert f"Fine-tuned from `gru.synthetic` (model.safetensors sha256 `{started['weights_sha256']}`)" in card
    assert "keeping a new, freshly initialised head; frozen: nothing." in card
    assert "base_model" not in read_card_metadata(card)  # a bundled name is no Hub model id
    hub_source = {**started, "name": "acme/gru"}
    from_hub = {**config, "provenance": {**config["provenance"], "pretrained": hub_source}}
    assert read_card_metadata(render_card(from_hub))["base_model"] == "acme/gru"

    model = seqzoo.load(out)
    assert model.pretrained_from == started
    base = seqzoo.load("gru.synthetic")
    assert model.net.head.weight.shape == base.net.head.weight.shape == (1, 32)
    assert not torch.equal(model.net.head.weight, base.net.head.weight)
    assert model.predict(np.sin(np.arange(20.0) / 3).reshape(2, 10)).shape == (2,)


def test_finetuning_beats_training_from_scratch_on_the_same_budget(tmp_path):
    """10 batches of 64 windows of new series, the recipe's optimizer for both runs."""
    scratch = fit_and_validate(build_cli(tmp_path, *NEW_DATA, *BUDGET))
    finetuned = fit_and_validate(
        build_cli(tmp_path, *NEW_DATA, *BUDGET, "--model.init_args.pretrained=gru.synthetic")
    )
    print(
        f"validation MAE after 10 batches: from scratch {scratch:.4f}, "
        f"fine-tuned from gru.synthetic {finetuned:.4f}"
    )
    # measured: from scratch 0.463, fine-tuned 0.130 (the naive forecast scores 0.175 on these windows)
    assert finetuned < 0.5 * scratch


def test_the_data_decides_the_window_geometry_and_the_checkpoint_the_statistics(tmp_path):
    cli = build_cli(
        tmp_path,
        *NEW_DATA,
        "--data.init_args.window=20",
        "--model.init_args.pretrained=gru.synthetic",
        "--trainer.max_epochs=1",
        "--trainer.limit_train_batches=1",
        "--trainer.limit_val_batches=1",
    )
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    pretrained = seqzoo.load("gru.synthetic").preprocessing
    assert cli.model.preprocessing == {**pretrained, "window": 20}
    assert cli.datamodule.preprocessing == cli.model.preprocessing
    x, _ = next(iter(cli.datamodule.train_dataloader()))
    assert x.shape[1:] == (20, 1)
    alone = SyntheticDataModule(window=20, seed=7, noise=0.1)
    alone.setup()
    assert alone.preprocessing["mean"] != pretrained["mean"]  # the data alone would fit other statistics


def test_adopt_geometry_merges_only_the_geometry_fields():
    model_config = seqzoo.load("gru.synthetic").preprocessing
    data = SeriesScaler(window=30, mean=5.0, std=9.0).to_config()
    assert adopt_geometry(model_config, data) == {**model_config, "window": 30}
    with pytest.raises(SeqzooError, match="'series_window' but the data's is 'jena_weather'"):
        adopt_geometry(model_config, {"kind": "jena_weather", "delay": 72})


def test_a_different_number_of_classes_gets_a_new_head_of_that_size(tmp_path):
    """A local artifact folder as the starting point: a 2-class GRU classifier becomes a 3-class one."""
    binary = ClassificationTask(
        arch="gru",
        arch_kwargs={"input_size": 1, "hidden_size": 8},
        num_classes=2,
        preprocessing=SeriesScaler(10, 0.0, 1.0).to_config(),
    )
    folder = binary.save_pretrained(tmp_path / "binary")
    three = ClassificationTask(pretrained=str(folder), num_classes=3, freeze="encoder")
    assert binary.net.head.weight.shape == (1, 8) and three.net.head.weight.shape == (3, 8)
    assert three.pretrained_from["new_head"] is True
    assert three.hparams.arch_kwargs == {"input_size": 1, "hidden_size": 8, "output_size": 3}
    for name, value in binary.net.encoder.state_dict().items():
        assert torch.equal(three.net.encoder.state_dict()[name], value)
    probabilities = three.predict(np.zeros((4, 10)))
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"arch": "lstm"}, "is a 'gru' network, but the recipe says arch 'lstm'"),
        ({"arch_kwargs": {"hidden_size": 64}}, "hidden_size: checkpoint 32, recipe 64"),
        ({"predict_delta": True}, "predict_delta: checkpoint False, recipe True"),
        ({"freeze": "embedding"}, r"its modules are \['encoder', 'head'\]"),
        ({"freeze": ["encoder", "head"]}, "freezes every parameter"),
        ({"preprocessing": SeriesScaler(10, 0.0, 1.0).to_config()}, "pretrained or preprocessing, not both"),
        ({"arch_kwargs": {"output_size": 3}}, "a forecaster outputs one value per window .* got 3"),
    ],
)
def test_recipes_that_contradict_the_checkpoint_are_refused(kwargs, message):
    with pytest.raises(SeqzooError, match=message):
        ForecastingTask(pretrained="gru.synthetic", **kwargs)


def test_an_ensemble_cannot_start_a_fine_tune(tmp_path):
    folder = seqzoo.ensemble(["gru.synthetic", "lstm.synthetic"]).save_pretrained(tmp_path / "pair")
    with pytest.raises(
        SeqzooError, match=r"is an ensemble; a fine-tune starts from one model: .*pair/members"
    ):
        ForecastingTask(pretrained=str(folder))


def tiny_trainer() -> pl.Trainer:
    return quiet_trainer(1, limit_train_batches=2, limit_val_batches=1)


def test_a_dense_network_refuses_a_window_of_another_length_before_training(tmp_path):
    """The dense baseline flattens exactly `steps` steps; a fine-tune onto longer windows would end in a
    matrix-shape error from torch in the first batch."""
    dense = ForecastingTask(
        arch="dense", arch_kwargs={"steps": 10}, preprocessing=SeriesScaler(10, 0.0, 1.0).to_config()
    )
    tuned = ForecastingTask(pretrained=str(dense.save_pretrained(tmp_path / "dense")))
    data = SyntheticDataModule(window=20, train_series=2, val_series=1, test_series=1)
    with pytest.raises(
        SeqzooError, match=r"reads windows of exactly 10 steps .* gives 20 \(\{'window': 20\}\)"
    ):
        tiny_trainer().fit(tuned, datamodule=data)
    assert torch.equal(tuned.net.net[1].weight, dense.net.net[1].weight)  # nothing was trained


class TrainingModes(pl.Callback):
    """Records, for every training batch, whether each module of the model was in train mode."""

    def __init__(self) -> None:
        self.seen: list[bool] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.seen.extend(module.training for module in pl_module.modules())


def test_fitting_a_loaded_model_trains_it_in_train_mode_and_says_it_keeps_its_geometry(recwarn):
    """`seqzoo.load` gives an eval-mode model for predict; Lightning would train it so, dropout off."""
    model = seqzoo.load("gru.synthetic")
    data = SyntheticDataModule(window=20, train_series=2, val_series=1, test_series=1)
    modes = TrainingModes()
    trainer = tiny_trainer()
    trainer.callbacks.append(modes)
    with pytest.warns(
        UserWarning, match=r"keeps its own window geometry \(window 10 instead of the data's 20\)"
    ):
        trainer.fit(model, datamodule=data)
    assert modes.seen and all(modes.seen)
    assert not [w for w in recwarn if "eval mode" in str(w.message)]
    x, _ = next(iter(data.train_dataloader()))
    assert x.shape[1] == 10


def test_redundant_arch_settings_that_agree_with_the_checkpoint_are_fine():
    task = ForecastingTask(
        pretrained="gru.synthetic", arch="gru", arch_kwargs={"input_size": 1, "hidden_size": 32}
    )
    assert task.hparams.arch_kwargs == {"input_size": 1, "hidden_size": 32}


def test_finetune_options_need_a_checkpoint_and_a_matching_task():
    with pytest.raises(SeqzooError, match="need pretrained"):
        ForecastingTask(arch="gru", freeze="encoder")
    with pytest.raises(SeqzooError, match="is a forecasting model; it cannot start a classification task"):
        ClassificationTask(pretrained="gru.synthetic")
    with pytest.raises(ArtifactError, match="bundled checkpoint: it has no revisions"):
        ForecastingTask(pretrained="gru.synthetic", pretrained_revision="v1")


def test_seqzoo_fit_prints_a_conflict_as_one_line(tmp_path):
    proc = run_seqzoo(
        "fit",
        "--config",
        RECIPE,
        "--model.init_args.pretrained",
        "gru.synthetic",
        "--model.init_args.arch_kwargs.hidden_size",
        "64",
        "--trainer.logger.init_args.save_dir",
        str(tmp_path),
        check=False,
    )
    assert proc.returncode == 2
    assert "seqzoo fit: error: arch_kwargs conflict with pretrained 'gru.synthetic'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_recipe_is_checked_against_the_checkpoint_under_lightningcli_too(tmp_path):
    """LightningCLI hands its configuration to every `save_hyperparameters` while it builds the model:
    the checkpoint loaded inside took the recipe's predict_delta, and the check compared it with itself."""
    with pytest.raises((SeqzooError, ValueError), match="predict_delta: checkpoint False, recipe True"):
        build_cli(
            tmp_path, "--model.init_args.pretrained=gru.synthetic", "--model.init_args.predict_delta=true"
        )
    cli = build_cli(tmp_path, "--model.init_args.pretrained=gru.synthetic", "--model.init_args.lr=0.01")
    assert cli.model.hparams.lr == 0.01 and cli.model.pretrained_from["name"] == "gru.synthetic"


def test_jena_12h_recipe_keeps_the_24h_statistics_and_forecasts_12h_ahead(tmp_path):
    if "gru.jena" not in seqzoo.list_pretrained():
        pytest.skip("gru.jena is not in the catalogue yet; recipes/finetune/gru_jena_12h.yaml starts from it")
    require_shared_data()
    recipe = "recipes/finetune/gru_jena_12h.yaml"
    cli = build_cli(
        tmp_path,
        "--trainer.max_epochs=1",
        "--trainer.limit_train_batches=2",
        "--trainer.limit_val_batches=2",
        recipe=recipe,
    )
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    base = seqzoo.load("gru.jena").preprocessing
    assert cli.model.preprocessing == {**base, "delay": 72}
    assert cli.datamodule.dataset("val").target_positions.tolist() == [1440 - 1 + 72]  # 12 h after
    cli.model.recipe = (ROOT / recipe).read_text()
    out = cli.model.save_pretrained(tmp_path / "gru-jena-12h", name="gru_jena_12h")
    config = json.loads((out / "config.json").read_text())
    assert config["provenance"]["pretrained"]["name"] == "gru.jena"
    assert "12 h after the last row" in config["usage"]


def test_imdb_small_recipe_trains_with_the_embedding_frozen(tmp_path):
    if "lstm.imdb" not in seqzoo.list_pretrained():
        pytest.skip(
            "lstm.imdb is not in the catalogue yet; recipes/finetune/lstm_imdb_small.yaml starts from it"
        )
    require_shared_data()
    cli = build_cli(
        tmp_path,
        "--trainer.max_epochs=1",
        "--trainer.limit_train_batches=3",
        "--trainer.limit_val_batches=2",
        recipe="recipes/finetune/lstm_imdb_small.yaml",
    )
    artifact = seqzoo.load(
        "lstm.imdb"
    ).state_dict()  # float32, as the fine-tune starts (the file may be float16)
    assert all(torch.equal(cli.model.state_dict()[k], v) for k, v in artifact.items())
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    after = cli.model.state_dict()
    embedding = [k for k in artifact if k.startswith("net.embedding.")]
    encoder = [k for k in artifact if k.startswith("net.encoder.")]
    assert embedding and all(torch.equal(after[k], artifact[k]) for k in embedding)
    assert any(not torch.equal(after[k], artifact[k]) for k in encoder)
    assert cli.model.preprocessing == seqzoo.load("lstm.imdb").preprocessing
