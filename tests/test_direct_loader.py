"""DirectLoader: the same batches, in the same seeded order, as torch's own DataLoader iterator."""

from __future__ import annotations

import pytest
import torch
from lightning.fabric.utilities.data import _replace_dunder_methods
from lightning.pytorch.trainer.states import RunningStage
from lightning.pytorch.utilities.data import _update_dataloader
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler, SequentialSampler

from seqzoo.data.buckets import LengthBucketSampler, TokenBatches, token_loader
from seqzoo.data.direct_loader import DirectLoader
from seqzoo.data.windows import SlidingWindows, window_loader


def windows() -> SlidingWindows:
    rows = torch.arange(300, dtype=torch.float32)
    return SlidingWindows([torch.stack([rows, -rows], dim=1)], lookback=12, step=3, delay=2)


def torch_twin(loader: DataLoader) -> DataLoader:
    """A plain DataLoader with the same dataset, batches and collate function."""
    return DataLoader(loader.dataset, batch_sampler=loader.batch_sampler, collate_fn=loader.collate_fn)


def epoch_and_rng_after(loader: DataLoader, seed: int) -> tuple[list, torch.Tensor]:
    torch.manual_seed(seed)
    return list(loader), torch.get_rng_state()


def assert_same_batches(ours: list, theirs: list) -> None:
    assert len(ours) == len(theirs) > 1
    for mine, reference in zip(ours, theirs, strict=True):
        for a, b in zip(mine, reference, strict=True):
            assert torch.equal(a, b)


def test_a_seeded_shuffled_epoch_is_torchs_epoch_and_leaves_the_same_random_state():
    loader = window_loader(windows(), batch_size=16, shuffle=True)
    assert isinstance(loader, DirectLoader)
    ours, rng_after_ours = epoch_and_rng_after(loader, seed=11)
    theirs, rng_after_theirs = epoch_and_rng_after(torch_twin(loader), seed=11)
    assert_same_batches(ours, theirs)
    assert torch.equal(rng_after_ours, rng_after_theirs)  # the next epoch shuffles alike too
    assert not torch.equal(ours[0][1], torch.sort(ours[0][1]).values)  # it did shuffle


def test_bucketed_token_batches_are_torchs_batches():
    ids = [[1, 2, 3], [4], [5, 6], [7, 8, 9, 10], [11], [12, 13], [14, 15, 16]]
    reviews = TokenBatches(ids, torch.tensor([0, 1, 0, 1, 1, 0, 0]), multiple=2, cap=8)
    sampler = LengthBucketSampler(reviews.lengths, batch_size=2, bucket_batches=2, shuffle=True, seed=4)
    loader = token_loader(reviews, 2, sampler)
    assert isinstance(loader, DirectLoader)
    assert_same_batches(list(loader), list(torch_twin(loader)))


def as_is(batch):
    return batch


class OrderDrawnAtIter(BatchSampler):
    """Batches in an order drawn from the global generator when `iter()` is called, not lazily."""

    def __iter__(self):
        return iter(torch.randperm(len(self.sampler)).split(self.batch_size))


def test_lightnings_predict_wrapper_sees_one_iteration_in_torchs_order():
    """Lightning's predict wrapper starts over on every `iter()` call: a second call would draw again."""
    data = windows()
    epochs = {}
    for kind in (DirectLoader, DataLoader):
        with _replace_dunder_methods(DataLoader, "dataset"), _replace_dunder_methods(BatchSampler):
            order = OrderDrawnAtIter(SequentialSampler(data), 16, False)
            loader = kind(data, batch_sampler=order, collate_fn=as_is)
        loader = _update_dataloader(loader, loader.batch_sampler.sampler, RunningStage.PREDICTING)
        epoch, rng_after = epoch_and_rng_after(loader, seed=5)
        epochs[kind] = (epoch, rng_after, loader.batch_sampler.seen_batch_indices)
    (ours, rng_ours, seen_ours), (theirs, rng_theirs, seen_theirs) = epochs.values()
    assert_same_batches(ours, theirs)
    assert torch.equal(rng_ours, rng_theirs)
    assert [s.tolist() for s in seen_ours] == [s.tolist() for s in seen_theirs]


@pytest.mark.filterwarnings("ignore:'pin_memory' argument is set as true but no accelerator")
def test_worker_processes_and_pinned_memory_go_through_torchs_iterator():
    loader = window_loader(windows(), batch_size=16, shuffle=False, num_workers=1)
    assert type(iter(loader)).__name__ == "_MultiProcessingDataLoaderIter"
    assert_same_batches(list(loader), list(window_loader(windows(), batch_size=16, shuffle=False)))
    pinned = DirectLoader(windows(), batch_sampler=loader.batch_sampler, pin_memory=True)
    assert type(iter(pinned)).__name__ == "_SingleProcessDataLoaderIter"


def test_lightning_swaps_in_a_distributed_sampler_and_each_rank_reads_its_share():
    """The steps of Lightning's DDP setup: it records the loader's arguments while the data module
    makes it, then makes it again with a DistributedSampler."""
    data = windows()
    shares = []
    for rank in range(2):
        with _replace_dunder_methods(DataLoader, "dataset"), _replace_dunder_methods(BatchSampler):
            loader = window_loader(data, batch_size=16, shuffle=True)
        sampler = DistributedSampler(data, num_replicas=2, rank=rank, shuffle=True, seed=3)
        loader = _update_dataloader(loader, sampler, RunningStage.TRAINING)
        assert isinstance(loader, DirectLoader)
        shares.append(torch.cat([y for _, y in loader]))
    assert len(shares[0]) == len(shares[1]) == -(-len(data) // 2)
    every_target = torch.cat(shares).unique()
    assert torch.equal(every_target, torch.cat([y for _, y in window_loader(data, 64, False)]).unique())
