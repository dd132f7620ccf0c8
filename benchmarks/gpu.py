"""Training on a GPU (cuDNN's fused recurrent kernels, but for layers with recurrent dropout) against
the same `Trainer.fit` on the same machine's CPU, for every network a Jena or IMDB recipe trains;
skipped, saying so, without CUDA.

Each row is the samples per second of `Trainer.fit` on the GPU, its reference the same on the CPU
(torch's threads, or `--threads`), measured in turns in the same run. `gpu_jena_dlwp_epoch` turns
the `gru.jena` row into seconds per epoch of DLwP's GRU(32) setup: 500 batches of 128 windows of 240
hourly steps (with seqzoo's 19 inputs; the book had 14).
"""

from __future__ import annotations

import statistics

import torch

from benchmarks.fit_overhead import cases, trainer_throughput
from benchmarks.harness import Result, device_name

DLWP_EPOCH_WINDOWS = 500 * 128  # DLwP 6.3's fit_generator(steps_per_epoch=500) at batch size 128
DLWP_BOOK_SECONDS = 167  # what the book's notebook printed per epoch for its GRU(32), on its GPU


def run(quick: bool) -> list[Result]:
    if not torch.cuda.is_available():
        print("gpu: no CUDA device here; skipped (rows appear on a machine with one)", flush=True)
        return []
    (warmup, batches), repeats = ((2, 5), 1) if quick else ((5, 40), 3)
    cpu_name = f"Trainer.fit on this machine's CPU, {torch.get_num_threads()} threads"
    results = []
    for name, (case, what) in cases(quick, warmup + batches).items():
        gpu, cpu = [], []
        for _ in range(repeats):  # in turns, as the other benchmarks
            cpu.append(trainer_throughput(case, warmup, batches, accelerator="cpu"))
            gpu.append(trainer_throughput(case, warmup, batches, accelerator="cuda"))
        value, reference = statistics.median(gpu), statistics.median(cpu)
        print(f"gpu: {name}: {value:.0f} samples/s on the GPU, {reference:.0f} on the CPU", flush=True)
        details = f"{what}; {case.source}; {batches} timed batches after {warmup}, median of {repeats}"
        results.append(
            Result(
                name=name.replace("fit_overhead_", "gpu_throughput_"),
                metric="training samples per second",
                value=value,
                reference=reference,
                reference_name=cpu_name,
                ratio=value / reference,
                target="report (GPU / CPU)",
                device=device_name(),
                details=details,
            )
        )
        if name == "fit_overhead_gru_jena":
            epoch, cpu_epoch = DLWP_EPOCH_WINDOWS / value, DLWP_EPOCH_WINDOWS / reference
            results.append(
                Result(
                    name="gpu_jena_dlwp_epoch",
                    metric="seconds per epoch of 64,000 windows",
                    value=epoch,
                    reference=cpu_epoch,
                    reference_name=cpu_name,
                    ratio=epoch / cpu_epoch,
                    target=f"report (below 1: the GPU is faster; the book's notebook: {DLWP_BOOK_SECONDS} s)",
                    device=device_name(),
                    details=f"from gpu_throughput_gru_jena; {details}",
                )
            )
    return results
