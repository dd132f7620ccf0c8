"""The Keras 3 side of benchmarks/peers.py (TensorFlow CPU backend): GRU(32) -> Dense(1), Adam 1e-3, MAE,
batch 128, `fit` on the windows as numpy arrays (built before the clock starts, so an epoch's time is training
alone, not windowing as with the book's `timeseries_dataset_from_array`). Runs in the peers' environment; see
peers_common.py."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from peers_common import EpochClock, arguments, load_series, wait_for_turn, windows, write_result  # noqa: E402


class KerasEpochClock(keras.callbacks.Callback):
    def __init__(self, clock: EpochClock) -> None:
        super().__init__()
        self.clock = clock

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self.clock.begin()

    def on_epoch_end(self, epoch, logs=None) -> None:
        self.clock.end()


def main() -> None:
    args = arguments()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(args.seed)
    data = load_series(args.series)
    geometry = (data["lookback"], data["delay"], data["target_index"])
    x, y = windows(data["train"], *geometry)
    x_val, _ = windows(data["val"], *geometry)
    model = keras.Sequential(
        [keras.Input((x.shape[1], x.shape[2])), keras.layers.GRU(32), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mae")
    clock = EpochClock(args.clock)
    model.fit(
        x, y, batch_size=128, epochs=args.epochs, shuffle=True, verbose=0, callbacks=[KerasEpochClock(clock)]
    )
    wait_for_turn()
    write_result(
        args.out,
        clock,
        len(x),
        model.predict(x_val, batch_size=1024, verbose=0),
        version=f"Keras {keras.__version__}, TensorFlow {tf.__version__}",
        parameters=model.count_params(),
        jit_compile=bool(model.jit_compile),
    )


if __name__ == "__main__":
    main()
