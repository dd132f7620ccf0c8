"""The Darts side of benchmarks/peers.py: `BlockRNNModel(model="GRU")` (nn.GRU(32) and one Linear on its last
output), Adam 1e-3, MAE, batch 128. Darts trains on TimeSeries, not windows: the target series is the
temperature column, the other 18 columns are past covariates, and with input_chunk_length 240,
output_chunk_length 1 and output_chunk_shift 23 each training sample is one of seqzoo's windows (240 steps of
all 19 columns, the temperature 24 steps after the last). Runs in the peers' environment; see peers_common.py.
"""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch
from darts import TimeSeries
from darts import __version__ as darts_version
from darts.models import BlockRNNModel
from peers_common import EpochClock, arguments, load_series, wait_for_turn, write_result


class DartsEpochClock(pl.Callback):
    """Times the epochs; counts the samples Darts draws in the first (it builds its dataset inside `fit`)."""

    def __init__(self, clock: EpochClock) -> None:
        self.clock, self.samples = clock, 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if trainer.current_epoch == 0:
            self.samples += len(batch.past_target)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.clock.begin()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.clock.end()


def as_series(segments: list[np.ndarray], target_index: int) -> tuple[list[TimeSeries], list[TimeSeries]]:
    """Each segment as a one-column target series and a past-covariate series of the other columns."""
    others = [i for i in range(segments[0].shape[1]) if i != target_index]
    targets = [TimeSeries.from_values(seg[:, [target_index]]) for seg in segments]
    return targets, [TimeSeries.from_values(seg[:, others]) for seg in segments]


def main() -> None:
    args = arguments()
    torch.set_num_threads(args.threads)
    data = load_series(args.series)
    lookback, delay, target_index = data["lookback"], data["delay"], data["target_index"]
    clock = DartsEpochClock(EpochClock(args.clock))
    model = BlockRNNModel(
        model="GRU",
        input_chunk_length=lookback,
        output_chunk_length=1,
        output_chunk_shift=delay - 1,
        hidden_dim=32,
        n_rnn_layers=1,
        batch_size=128,
        n_epochs=args.epochs,
        optimizer_kwargs={"lr": 1e-3},
        loss_fn=torch.nn.L1Loss(),
        random_state=args.seed,
        work_dir=str(args.out) + ".darts",
        pl_trainer_kwargs={
            "accelerator": "cpu",
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "logger": False,
            "callbacks": [clock],
        },
    )
    targets, covariates = as_series(data["train"], target_index)
    model.fit(targets, past_covariates=covariates, verbose=False)
    wait_for_turn()
    val_targets, val_covariates = as_series(data["val"], target_index)
    forecasts = model.historical_forecasts(
        val_targets,
        past_covariates=val_covariates,
        forecast_horizon=1,
        stride=1,
        retrain=False,
        last_points_only=True,
        verbose=False,
    )
    if forecasts[0].start_time() != lookback + delay - 1:  # the first window's target, as the others have it
        raise RuntimeError(f"Darts' first validation forecast is at step {forecasts[0].start_time()}")
    predictions = np.concatenate([f.values()[:, 0] for f in forecasts])
    write_result(
        args.out,
        clock.clock,
        clock.samples,
        predictions,
        version=f"Darts {darts_version}, torch {torch.__version__}",
        parameters=sum(p.numel() for p in model.model.parameters()),
    )


if __name__ == "__main__":
    main()
