"""Training throughput through seqzoo's Trainer path (the task's training_step under a Lightning Trainer,
as `seqzoo fit` runs it) versus a hand-written PyTorch loop over the same network, batches and optimizer."""

from __future__ import annotations

import itertools
import math
import os
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import lightning.pytorch as pl
import torch
import yaml
from torch import Tensor, nn
from torch.utils.data import DataLoader

from benchmarks.harness import Result, device_name, now, subnormals_flushed
from seqzoo.data.windows import SlidingWindows, window_loader
from seqzoo.tasks import ClassificationTask, ForecastingTask, SeqzooTask

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RECIPES = Path(__file__).resolve().parents[1] / "recipes"
CLIP = 1.0  # every recipe clips gradients by norm at 1.0; both sides do
# The fine-tuning recipe's batch of 32 reviews. Without the data: random word ids of the recipe's
# vocabulary, lengths log-normal with IMDB's mean.
REVIEW_BATCH, MEAN_LENGTH, SPREAD = 32, 230, 0.7


@dataclass
class Case:
    """One comparison: a task, the batches both sides train on, and the loss the hand loop computes."""

    task: SeqzooTask
    loader: Iterable
    loss_of: Callable[[nn.Module, tuple], Tensor]
    source: str  # where the batches come from, for the report
    datamodule: pl.LightningDataModule | None = None  # Trainer.fit gets this, if any
    deterministic: bool = True  # the recipe's `trainer.deterministic`: both sides train so (cuDNN picks)


def training_device() -> torch.device:
    """Where both sides train: a CUDA GPU when there is one (named to the Trainer too: its `auto` would
    also pick Apple's MPS, which the hand loop would not)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def finished_now(device: torch.device) -> float:
    """The clock once the device has done the work queued so far (CUDA runs behind the Python code)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return now()


class StepClock(pl.Callback):
    """Time (harness clock) and samples of the batches after `warmup`, from the end of the last warm-up to
    the end of the last batch. The clock waits for the GPU there alone, as the hand loop does: waiting
    after every batch would stop the CPU from queueing the next one while the GPU works."""

    def __init__(self, warmup: int) -> None:
        self.warmup, self.start, self.end, self.samples = warmup, 0.0, 0.0, 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if batch_idx == self.warmup - 1:
            self.start = finished_now(pl_module.device)
        elif batch_idx >= self.warmup:
            self.samples += len(batch[-1])
            if batch_idx == trainer.num_training_batches - 1:
                self.end = finished_now(pl_module.device)


def trainer_throughput(case: Case, warmup: int, batches: int, accelerator: str) -> float:
    """Samples per second of `Trainer.fit` as `seqzoo fit` runs it (no progress bar, logger, checkpoints)."""
    clock = StepClock(warmup)
    trainer = pl.Trainer(
        max_epochs=1,
        limit_train_batches=warmup + batches,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        gradient_clip_val=CLIP,
        accelerator=accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[clock],
        deterministic=case.deterministic,
    )
    if case.datamodule is not None:  # Trainer builds the loaders from the DataModule, as `seqzoo fit` does
        trainer.fit(case.task, datamodule=case.datamodule)
    else:
        trainer.fit(case.task, train_dataloaders=case.loader)
    return clock.samples / (clock.end - clock.start)


def loop_throughput(case: Case, warmup: int, batches: int) -> float:
    """Samples per second of the plain loop anyone would write over `task.net`: zero_grad, loss, backward,
    clip, step, with the optimizer the task makes. As `Trainer.fit` runs the recipe, subnormals are flushed
    on CPU (that alone made CPU GRU training about 3x faster; see benchmarks/peers.py), algorithms are
    deterministic when the recipe says so, and batches go to a GPU without waiting: the ratio is the cost
    of Lightning and the data path alone."""
    device = training_device()
    net = case.task.net.to(device)  # Trainer.fit leaves the task on the CPU
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    if case.deterministic and device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # as Lightning sets it
    torch.use_deterministic_algorithms(case.deterministic)
    try:
        with subnormals_flushed():
            return _timed_loop(case, net, warmup, batches, device)
    finally:
        torch.use_deterministic_algorithms(was_deterministic)


def _timed_loop(case: Case, net: nn.Module, warmup: int, batches: int, device: torch.device) -> float:
    opt = case.task.make_optimizer()
    net.train()
    samples, start = 0, now()
    for i, batch in enumerate(itertools.islice(case.loader, warmup + batches)):
        batch = tuple(t.to(device, non_blocking=True) for t in batch)
        opt.zero_grad()
        case.loss_of(net, batch).backward()
        nn.utils.clip_grad_norm_(net.parameters(), CLIP)
        opt.step()
        if i == warmup - 1:
            start = finished_now(device)
        elif i >= warmup:
            samples += len(batch[-1])
    return samples / (finished_now(device) - start)


def recipe_config(recipe: str) -> dict:
    """A zoo recipe (`recipes/<task>/<arch>.yaml`) as read."""
    return yaml.safe_load((RECIPES / recipe).read_text())


def deterministic_of(config: dict) -> bool:
    """The recipe's `trainer.deterministic` (every Jena and IMDB recipe sets it)."""
    return bool((config.get("trainer") or {}).get("deterministic", False))


def recipe_task(config: dict, **overrides) -> SeqzooTask:
    """The network and optimizer a recipe trains (its `model` section)."""
    model = config["model"]
    cls = ForecastingTask if model["class_path"].endswith("ForecastingTask") else ClassificationTask
    return cls(**{**model["init_args"], **overrides})


def jena_batches(quick: bool) -> tuple[Iterable, str, pl.LightningDataModule | None]:
    """10-day windows as the Jena recipes read them: the real Jena DataModule when the data is here."""
    if DATA.is_dir() and not quick:
        from seqzoo.data import JenaDataModule

        dm = JenaDataModule(str(DATA), wind_vector=True, time_encoding=True, batch_size=128)
        dm.setup("fit")
        return dm.train_dataloader(), "JenaDataModule train split", dm
    rows = torch.randn(20_000, 19, generator=torch.Generator().manual_seed(0))
    windows = SlidingWindows([rows], lookback=1440, step=6, delay=144)
    return window_loader(windows, 128, shuffle=True), "random rows, seqzoo windows", None


def jena_loss(net: nn.Module, b: tuple) -> Tensor:
    return nn.functional.l1_loss(net(b[0]).squeeze(-1), b[1])


def review_batches(
    count: int, vocab_size: int, max_length: int, seed: int = 0
) -> list[tuple[Tensor, Tensor, Tensor]]:
    """Right-padded random token ids; lengths log-normal with mean 230 (as IMDB's), cut at `max_length`."""
    gen = torch.Generator().manual_seed(seed)
    mu = math.log(MEAN_LENGTH) - SPREAD**2 / 2
    batches = []
    for _ in range(count):
        lengths = (torch.randn(REVIEW_BATCH, generator=gen) * SPREAD + mu).exp().round().clamp(8, max_length)
        lengths = lengths.long()
        tokens = torch.randint(1, vocab_size, (REVIEW_BATCH, int(lengths.max())), generator=gen)
        tokens[torch.arange(tokens.shape[1]) >= lengths[:, None]] = 0  # padding id
        batches.append((tokens, lengths, torch.randint(0, 2, (REVIEW_BATCH,), generator=gen)))
    return batches


def review_batches_for(
    quick: bool, count: int, vocab_size: int, max_length: int, bigrams: int
) -> tuple[Iterable, str, pl.LightningDataModule | None]:
    """Padded reviews with lengths, 32 to a batch, tokenized as a recipe's data section says: the real
    ImdbDataModule when the data is here (bucketed batches), else random reviews of words only."""
    failed = ""
    if DATA.is_dir() and not quick:
        try:
            from seqzoo.data import ImdbDataModule

            settings = {"vocab_size": vocab_size, "max_length": max_length, "bigrams": bigrams}
            dm = ImdbDataModule(str(DATA), batch_size=REVIEW_BATCH, **settings)
            dm.setup("fit")
            return dm.train_dataloader(), "ImdbDataModule train split", dm
        except Exception as err:  # a young data module: say why it failed and measure on random batches
            failed = f"ImdbDataModule failed ({type(err).__name__}: {err}), so "
    batches = review_batches(count, vocab_size, max_length)
    mean = torch.cat([b[1] for b in batches]).float().mean()
    source = f"{failed}random word ids, mean length {mean:.0f}, cut at {max_length}"
    return DataLoader(batches, batch_size=None), source, None


def review_loss(net: nn.Module, b: tuple) -> Tensor:
    return nn.functional.binary_cross_entropy_with_logits(net(b[0], lengths=b[1]).squeeze(-1), b[2].float())


def cases(quick: bool, count: int) -> dict[str, tuple[Case, str]]:
    """Every Jena and IMDB recipe's network (the GRU and LSTM ones alone for --quick) on its task's batches.

    The Jena networks predict the temperature itself here (`predict_delta` off), so that the hand loop's
    loss is one line; the network, its size and the optimizer are the recipe's.
    """

    def recipes(task: str, quick_arch: str) -> list[str]:
        every = sorted(p.relative_to(RECIPES).as_posix() for p in RECIPES.glob(f"{task}/*.yaml"))
        return [f"{task}/{quick_arch}.yaml"] if quick else every

    out = {}
    loader, source, dm = jena_batches(quick)
    for recipe in recipes("jena", "gru"):
        config = recipe_config(recipe)
        task = recipe_task(config, predict_delta=False)
        what = f"{recipe}'s network and optimizer, batch 128 x 240 steps x 19 inputs"
        case = Case(task, loader, jena_loss, source, dm, deterministic_of(config))
        out[f"fit_overhead_{task.hparams.arch}_jena"] = (case, what)
    readers = {}  # one DataModule per tokenization (vocabulary, cut, word pairs) the recipes ask for
    for recipe in recipes("imdb", "lstm"):
        config = recipe_config(recipe)
        data = config["data"]["init_args"]
        tokenization = (data["vocab_size"], data["max_length"], data.get("bigrams", 0))
        if tokenization not in readers:
            readers[tokenization] = review_batches_for(quick, count, *tokenization)
        loader, source, dm = readers[tokenization]
        task = recipe_task(config)
        what = f"{recipe}'s network and optimizer, batch {REVIEW_BATCH} reviews"
        case = Case(task, loader, review_loss, source, dm, deterministic_of(config))
        out[f"fit_overhead_{task.hparams.arch}_imdb"] = (case, what)
    return out


def run(quick: bool) -> list[Result]:
    (warmup, batches), repeats = ((1, 3), 1) if quick else ((3, 20), 3)
    results = []
    for name, (case, what) in cases(quick, warmup + batches).items():
        ours, hand = [], []
        for _ in range(repeats):  # alternating, so that drifting background load hits both alike
            hand.append(loop_throughput(case, warmup, batches))
            ours.append(trainer_throughput(case, warmup, batches, training_device().type))
        value, reference = statistics.median(ours), statistics.median(hand)
        results.append(
            Result(
                name=name,
                metric="training samples per second",
                value=value,
                reference=reference,
                reference_name="hand-written loop over task.net, same batches and optimizer",
                ratio=value / reference,
                target="ratio >= 0.9",
                device=device_name(),
                details=f"{what}; {case.source}; gradients clipped at {CLIP}; {batches} timed batches after "
                f"{warmup}, median of {repeats}",
            )
        )
    return results
