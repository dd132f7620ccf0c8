"""Task heads trained for real on tiny in-memory problems: losses, metrics, optimizers, schedules."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from seqzoo.errors import SeqzooError
from seqzoo.tasks import ClassificationTask, ForecastingTask, Seq2SeqTask

from .conftest import quiet_trainer


def sign_of_sum_tokens(n: int, seed: int):
    """Token reviews: ids 1..4 are 'negative' words, 5..8 'positive'; label = more positive words."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(3, 20, (n,), generator=gen)
    tokens = torch.randint(1, 9, (n, 20), generator=gen)
    tokens[torch.arange(20)[None, :] >= lengths[:, None]] = 0
    score = (tokens >= 5).sum(1) - ((tokens >= 1) & (tokens <= 4)).sum(1)
    return tokens, lengths, (score > 0).long()


@pytest.mark.parametrize("arch", ["lstm", "conv1d"])
def test_binary_classification_learns_and_reports_accuracy_f1_auroc(arch):
    torch.manual_seed(0)
    task = ClassificationTask(arch=arch, arch_kwargs={"vocab_size": 9, "embedding_dim": 8}, lr=0.01)
    train = DataLoader(TensorDataset(*sign_of_sum_tokens(1024, 0)), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(*sign_of_sum_tokens(256, 1)), batch_size=64)
    t = quiet_trainer(4)
    t.fit(task, train, val)
    metrics = t.callback_metrics
    assert {"val_accuracy", "val_f1", "val_auroc", "val_loss"} <= set(metrics)
    assert metrics["val_accuracy"] > 0.85 and metrics["val_auroc"] > 0.9


def test_multiclass_uses_softmax_probabilities():
    task = ClassificationTask(arch="gru", num_classes=3)
    assert task.net.head.out_features == 3
    probs = task.forward_for_predict(torch.randn(4, 6, 1))
    torch.testing.assert_close(probs.sum(-1), torch.ones(4))


def copy_task(n: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(2, 6, (n, 3), generator=gen)
    return src, torch.cat([torch.ones(n, 1, dtype=torch.long), src], dim=1)


def test_seq2seq_task_reports_exact_match_and_token_accuracy():
    torch.manual_seed(0)
    task = Seq2SeqTask(arch="seq2seq_attention", arch_kwargs={"vocab_size": 6, "hidden_size": 32}, lr=0.01)
    t = quiet_trainer(3)
    t.fit(
        task,
        DataLoader(TensorDataset(*copy_task(1024, 0)), batch_size=32),
        DataLoader(TensorDataset(*copy_task(200, 1)), batch_size=100),
    )
    assert t.callback_metrics["val_exact_match"] > 0.95
    assert t.callback_metrics["val_token_accuracy"] >= t.callback_metrics["val_exact_match"]


def test_teacher_forcing_schedule_moves_linearly_over_the_epochs():
    task = Seq2SeqTask(arch="seq2seq", teacher_forcing=1.0, teacher_forcing_final=0.5)
    t = quiet_trainer(5)
    seen = []

    class Record(pl.Callback):
        def on_train_epoch_start(self, trainer, module):
            seen.append(round(module.teacher_forcing_ratio, 4))

    t.callbacks.append(Record())
    t.fit(task, DataLoader(TensorDataset(*copy_task(32, 0)), batch_size=32))
    assert seen == [1.0, 0.875, 0.75, 0.625, 0.5]


SCHEDULE_CLASSES = {"step": "StepLR", "cosine": "CosineAnnealingLR", "plateau": "ReduceLROnPlateau"}


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "rmsprop", "sgd"])
@pytest.mark.parametrize(
    "scheduler,kwargs",
    [(None, None), ("step", {"step_size": 1}), ("cosine", {"T_max": 3}), ("plateau", {"patience": 1})],
)
def test_every_optimizer_and_schedule_is_configuration(optimizer, scheduler, kwargs):
    task = ForecastingTask(
        arch="gru", optimizer=optimizer, lr=0.05, scheduler=scheduler, scheduler_kwargs=kwargs
    )
    config = task.configure_optimizers()
    opt = config if scheduler is None else config["optimizer"]
    assert type(opt).__name__.lower() == optimizer
    assert opt.defaults["lr"] == 0.05
    if optimizer == "sgd":
        assert opt.defaults["momentum"] == 0.9
    if scheduler:
        schedule = config["lr_scheduler"]["scheduler"]
        assert type(schedule).__name__ == SCHEDULE_CLASSES[scheduler] and schedule.optimizer is opt
        assert all(getattr(schedule, key) == value for key, value in kwargs.items())
        assert config["lr_scheduler"]["monitor"] == "val_mae"
        if scheduler == "plateau":
            assert schedule.mode == "min"  # the monitored MAE improves downwards


def test_unknown_optimizer_is_a_clear_error():
    with pytest.raises(SeqzooError, match="optimizer must be one of"):
        ForecastingTask(optimizer="lion")


def test_predict_with_predict_delta_adds_the_last_value_back():
    from seqzoo.data.synthetic import SeriesScaler

    torch.manual_seed(0)
    scaler = SeriesScaler(10, 1.0, 2.0)
    task = ForecastingTask(arch="gru", predict_delta=True, preprocessing=scaler.to_config()).eval()
    windows = torch.randn(6, 10).numpy() * 2 + 1
    x = scaler.encode(windows)
    with torch.no_grad():
        expected = scaler.denormalize(task.net(x).squeeze(-1) + x[:, -1, 0]).double().numpy()
    assert abs(task.predict(windows) - expected).max() < 1e-5


def test_plateau_schedule_follows_the_monitored_metric_direction():
    seq = Seq2SeqTask(arch="seq2seq", scheduler="plateau")
    assert seq.configure_optimizers()["lr_scheduler"]["scheduler"].mode == "max"
    assert (
        ForecastingTask(scheduler="plateau").configure_optimizers()["lr_scheduler"]["scheduler"].mode == "min"
    )


def _subnormal_survives() -> bool:
    return bool((torch.tensor([1e-40]) * 1.0).item() != 0.0)


def test_cpu_training_flushes_subnormals_and_switches_it_back_off():
    """Subnormal gradients slowed CPU GRU training about 3x; fitting flushes them, and only while fitting."""
    seen = []

    class Probe(pl.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            seen.append(_subnormal_survives())

    assert _subnormal_survives()
    window = {"kind": "series_window", "window": 5, "mean": 0.0, "std": 1.0}
    task = ForecastingTask(arch="gru", arch_kwargs={"hidden_size": 4}, preprocessing=window)
    x, y = torch.randn(16, 5, 1), torch.randn(16)
    trainer = quiet_trainer(1)
    trainer.callbacks.append(Probe())
    trainer.fit(task, DataLoader(TensorDataset(x, y), batch_size=8))
    assert seen == [False, False]
    assert _subnormal_survives()


@pytest.mark.parametrize("accumulate", [1, 2])
def test_the_training_loss_reaches_the_logger_on_exactly_its_steps(accumulate, tmp_path):
    """`train_loss` is logged only on the optimizer steps the logger writes: every one of those rows
    still has it, with the loss of that very batch (recomputed here from the weights before the step)."""
    torch.manual_seed(0)
    task = ClassificationTask(arch="conv1d", arch_kwargs={"vocab_size": 9, "embedding_dim": 8}, lr=0.01)
    data = sign_of_sum_tokens(32 * 12, 0)
    seen = {}

    class LossBeforeStep(pl.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            with torch.no_grad():
                seen[batch_idx] = module._loss(module._logits(batch[0], batch[1]), batch[2]).item()

    trainer = quiet_trainer(
        1,
        log_every_n_steps=2,
        accumulate_grad_batches=accumulate,
        logger=pl.loggers.CSVLogger(tmp_path, name="log"),
        callbacks=[LossBeforeStep()],
    )
    trainer.fit(task, DataLoader(TensorDataset(*data), batch_size=32))
    header, *lines = (tmp_path / "log" / "version_0" / "metrics.csv").read_text().splitlines()
    rows = [dict(zip(header.split(","), line.split(","), strict=True)) for line in lines]
    logged = {int(r["step"]): float(r["train_loss"]) for r in rows}
    # Lightning writes after optimizer steps 2, 4, ...: rows for steps 1, 3, ... (it counts from 0)
    assert sorted(logged) == list(range(1, 12 // accumulate, 2))
    for step, value in logged.items():
        last_batch = (step + 1) * accumulate - 1  # the batch whose loss Lightning keeps for that step
        assert value == pytest.approx(seen[last_batch], rel=1e-5)


def test_a_training_step_called_by_hand_still_returns_its_loss():
    """Outside a Trainer there is no logger step to wait for: the step logs as Lightning allows (a
    warning) and returns the loss."""
    task = ClassificationTask(arch="conv1d", arch_kwargs={"vocab_size": 9, "embedding_dim": 8})
    tokens, lengths, labels = sign_of_sum_tokens(8, 0)
    with pytest.warns(UserWarning, match="self.log"):
        loss = task.training_step((tokens, lengths, labels), 0)
    assert loss.ndim == 0 and torch.isfinite(loss)


@pytest.mark.parametrize(
    "arch_kwargs,named",
    [
        ({}, "dropout=0.2, recurrent_dropout=0.2"),
        ({"dropout": 0.0, "recurrent_dropout": 0.3}, "recurrent_dropout=0.3"),
    ],
)
def test_tbptt_refuses_a_network_with_dropout_it_would_silently_skip(arch_kwargs, named):
    """TBPTT runs `forward_chunk`, which applies no dropout: a gru_dropout would train without it."""
    with pytest.raises(SeqzooError, match=f"tbptt_steps trains without dropout.* has {named};"):
        ForecastingTask(arch="gru_dropout", arch_kwargs=arch_kwargs, tbptt_steps=5)
    ForecastingTask(arch="gru_dropout", arch_kwargs=arch_kwargs)  # without TBPTT dropout applies: fine
    task = ForecastingTask(
        arch="gru_dropout", arch_kwargs={"dropout": 0, "recurrent_dropout": 0}, tbptt_steps=5
    )
    assert not task.automatic_optimization


def test_tbptt_steps_a_plateau_schedule_on_the_monitored_metric():
    """Manual optimization steps ReduceLROnPlateau itself, on each epoch's val_mae."""
    from seqzoo.data.synthetic import SyntheticDataModule

    torch.manual_seed(0)
    data = SyntheticDataModule(series_length=60, train_series=2, val_series=1, test_series=1, batch_size=32)
    kwargs = {"patience": 0, "factor": 0.5}
    task = ForecastingTask(
        arch_kwargs={"hidden_size": 8}, tbptt_steps=5, lr=1.0, scheduler="plateau", scheduler_kwargs=kwargs
    )
    seen = []

    class Record(pl.Callback):
        def on_train_epoch_end(self, trainer, module):  # callbacks run before the module's hook
            seen.append(trainer.callback_metrics["val_mae"].item())

    t = quiet_trainer(4)
    t.callbacks.append(Record())
    t.fit(task, datamodule=data)
    schedule = task.lr_schedulers()
    best, cuts = float("inf"), 0
    for value in seen:  # ReduceLROnPlateau's rule: better by a relative 1e-4, else (patience 0) cut the lr
        best, cuts = (value, cuts) if value < best * (1 - 1e-4) else (best, cuts + 1)
    assert len(seen) == 4 and schedule.last_epoch == 4 and cuts >= 1  # lr 1.0 overshoots: it gets cut
    assert schedule.best == pytest.approx(min(seen)) and schedule.best < float("inf")
    assert task.optimizers().param_groups[0]["lr"] == pytest.approx(0.5**cuts)


def test_setup_compares_the_networks_inputs_with_the_windows_features():
    """The synthetic scaler names no `inputs`: its window shape (steps, 1) is what the network must read."""
    from seqzoo.data.synthetic import SyntheticDataModule

    data = SyntheticDataModule(series_length=30, train_series=1, val_series=1, test_series=1)
    t = quiet_trainer(1)
    bad = "the network reads 3 inputs .arch_kwargs.input_size., but the data gives 1$"
    with pytest.raises(SeqzooError, match=bad):
        t.fit(ForecastingTask(arch_kwargs={"input_size": 3}), datamodule=data)
    assert t.global_step == 0
    t = quiet_trainer(1)
    t.fit(ForecastingTask(arch_kwargs={"input_size": 1}), datamodule=data)
    assert t.global_step > 0


def test_setup_checks_an_architectures_default_input_size_against_named_inputs():
    """A recipe that leaves input_size out builds the factory's default (1): Jena's 19 named inputs differ."""
    import seqzoo

    trained = seqzoo.load("gru.jena")
    jena, inputs = trained.preprocessing, trained.preprocessor.inputs
    task = ForecastingTask(arch="gru", preprocessing=jena)
    with pytest.raises(SeqzooError, match=rf"reads 1 inputs .*gives {len(inputs)}: \['"):
        task.setup("fit")
    ForecastingTask(arch="gru", arch_kwargs={"input_size": len(inputs)}, preprocessing=jena).setup("fit")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"lr": -0.1}, r"lr must be a finite number > 0, got -0.1"),
        ({"lr": 0}, r"lr must be a finite number > 0, got 0"),  # trains nothing: refused
        ({"lr": float("nan")}, r"lr must be a finite number > 0, got nan"),
        ({"weight_decay": -0.01}, r"weight_decay must be a finite number >= 0, got -0.01"),
        ({"optimizer": "sgd", "momentum": 1.5}, r"momentum must be a finite number in \[0, 1\], got 1.5"),
        (
            {"scheduler": "step", "scheduler_kwargs": {"T_max": 12}},
            r"scheduler 'step' \(StepLR\) .* \{'T_max': 12\}: it does not take \['T_max'\]; "
            r"it takes step_size, gamma=0.1, last_epoch=-1",
        ),
        ({"scheduler": "step"}, r"scheduler 'step' .*missing 1 required positional argument: 'step_size'"),
        ({"scheduler": "plateau", "scheduler_kwargs": {"factor": 2}}, r"'plateau' .*Factor should be < 1.0"),
        ({"scheduler_kwargs": {"T_max": 12}}, r"scheduler_kwargs \{'T_max': 12\} apply to no scheduler"),
    ],
)
def test_bad_optimizer_and_scheduler_settings_fail_when_the_task_is_built(kwargs, match):
    with pytest.raises(SeqzooError, match=match):
        ForecastingTask(**kwargs)


def test_momentum_and_weight_decay_at_their_bounds_reach_the_optimizer():
    task = ForecastingTask(optimizer="sgd", lr=0.1, momentum=1.0, weight_decay=0.0)
    assert task.configure_optimizers().defaults["momentum"] == 1.0
