"""The seqzoo side of benchmarks/peers.py: `ForecastingTask(arch="gru")` (nn.GRU(32) and a Linear head) under
a Lightning Trainer as `seqzoo fit` builds it (no logger, progress bar or checkpoints), on seqzoo's
SlidingWindows through `window_loader`; Adam 1e-3, MAE, batch 128. Runs in seqzoo's environment, in a process
of its own like the peers; see peers_common.py."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from peers_common import EpochClock, arguments, load_series, wait_for_turn, write_result

from seqzoo.data.windows import SlidingWindows, window_loader
from seqzoo.tasks import ForecastingTask


class LightningEpochClock(pl.Callback):
    def __init__(self, clock: EpochClock) -> None:
        self.clock = clock

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.clock.begin()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.clock.end()


def main() -> None:
    args = arguments()
    torch.set_num_threads(args.threads)
    data = load_series(args.series)
    geometry = (data["lookback"], 1, data["delay"], data["target_index"])
    train = SlidingWindows([torch.from_numpy(s) for s in data["train"]], *geometry)
    val = SlidingWindows([torch.from_numpy(s) for s in data["val"]], *geometry)
    torch.manual_seed(args.seed)
    task = ForecastingTask(
        arch="gru",
        arch_kwargs={"input_size": train.data.shape[1], "hidden_size": 32},
        loss="mae",
        optimizer="adam",
        lr=1e-3,
        preprocessing=data["preprocessing"],
    )
    clock = EpochClock(args.clock)
    trainer = pl.Trainer(
        max_epochs=args.epochs,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[LightningEpochClock(clock)],
    )
    trainer.fit(task, train_dataloaders=window_loader(train, 128, shuffle=True))
    wait_for_turn()
    task.eval()
    with torch.no_grad():
        predictions = torch.cat([task(x).squeeze(-1) for x, _ in window_loader(val, 1024, shuffle=False)])
    write_result(
        args.out,
        clock,
        len(train),
        predictions.numpy(),
        version=f"seqzoo, torch {torch.__version__}, Lightning {pl.__version__}",
        parameters=task.num_parameters,
    )


if __name__ == "__main__":
    main()
