"""A real two-process DDP fit on CPU (gloo), whose exported artifact loads and predicts."""

from __future__ import annotations

import numpy as np

import seqzoo

from .conftest import run_seqzoo


def test_two_process_ddp_fit_exports_a_working_artifact(tmp_path):
    proc = run_seqzoo(
        "fit",
        "--config",
        "recipes/synthetic/gru.yaml",
        "--trainer.accelerator",
        "cpu",
        "--trainer.devices",
        "2",
        "--trainer.strategy",
        "ddp",
        "--trainer.max_epochs",
        "1",
        "--trainer.limit_train_batches",
        "20",
        "--trainer.limit_val_batches",
        "5",
        "--trainer.logger.init_args.save_dir",
        str(tmp_path),
        "--trainer.logger.init_args.version",
        "ddp",
        timeout=600,
    )
    log = proc.stdout + proc.stderr
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in log and "GLOBAL_RANK: 1, MEMBER: 2/2" in log, log[-3000:]
    assert "distributed_backend=gloo" in log
    ckpt = tmp_path / "gru.synthetic" / "ddp" / "checkpoints" / "last.ckpt"
    run_seqzoo("export", str(ckpt), str(tmp_path / "artifact"))
    pred = seqzoo.load(tmp_path / "artifact").predict(np.sin(np.arange(30.0) / 4).reshape(3, 10))
    assert pred.shape == (3,) and np.isfinite(pred).all()
