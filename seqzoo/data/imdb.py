"""IMDB movie reviews (Maas et al. 2011): is a review positive or negative, from its raw text.

The original split: 25,000 train / 25,000 test reviews, each balanced. Validation is held out of
train (stratified by label, seeded); the test split is only for the reported number. The word
vocabulary is fitted on the training part alone, never on validation or test reviews.
Local parquet files (columns `text`, `label`) or, with no path given, the Hugging Face dataset
`stanfordnlp/imdb`.
"""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from seqzoo.data.base import SeqzooDataModule, check_integers
from seqzoo.data.buckets import LengthBucketSampler, TokenBatches, token_loader
from seqzoo.data.tokens import PAD_MULTIPLE, TRUNCATION_SIDES, WordTokenizer, fit_and_read_words
from seqzoo.download import sha256_file
from seqzoo.errors import DataError

HUB_DATASET = "stanfordnlp/imdb"
FILES = {"train": "imdb_train.parquet", "test": "imdb_test.parquet"}
SPLIT_SIZE = 25_000


def check_reviews(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Keep `text` and `label`: non-empty strings, and labels 0 (negative) or 1 (positive)."""
    if not {"text", "label"} <= set(frame.columns):
        raise DataError(f"{source}: expected columns 'text' and 'label', found {list(frame.columns)}")
    text, label = frame["text"], frame["label"]
    no_text = ~text.map(lambda t: isinstance(t, str) and bool(t.strip())).to_numpy(bool)
    if no_text.any():
        raise DataError(f"{source}: rows {np.flatnonzero(no_text)[:5].tolist()} have no review text")
    if (
        not (pd.api.types.is_integer_dtype(label) or pd.api.types.is_bool_dtype(label))
        or not label.isin([0, 1]).all()
    ):
        raise DataError(f"{source}: expected labels 0 (negative) or 1 (positive), found {label.unique()[:5]}")
    if len(frame) == 0:
        raise DataError(f"{source}: no reviews")
    return pd.DataFrame({"text": text.to_numpy(object), "label": label.to_numpy(np.int64)})


def read_reviews(path: Path) -> pd.DataFrame:
    """One split from a parquet file, e.g. `imdb_train.parquet` of ../shared/data."""
    if not path.is_file():
        raise DataError(f"{path}: IMDB file not found; expected a parquet file with columns text, label")
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
        raise DataError(f"{path}: not a readable parquet file ({err})") from err
    return check_reviews(frame, str(path))


def load_hub_reviews(split: str, revision: str | None = None) -> pd.DataFrame:
    """One split of the Hugging Face dataset `stanfordnlp/imdb`, downloaded once into its cache."""
    from datasets import load_dataset

    try:
        data = load_dataset(HUB_DATASET, split=split, revision=revision, verification_mode="all_checks")
    except (OSError, ValueError) as err:  # ConnectionError and DatasetNotFoundError are OSErrors
        raise DataError(
            f"cannot load the Hugging Face dataset {HUB_DATASET!r} ({err}); without network, pass data_dir "
            f"(a folder with {FILES['train']} and {FILES['test']}) or train_path and test_path"
        ) from err
    frame = check_reviews(data.to_pandas(), f"{HUB_DATASET} {split}")
    if len(frame) != SPLIT_SIZE:
        raise DataError(f"{HUB_DATASET} {split}: expected {SPLIT_SIZE} reviews, found {len(frame)}")
    return frame


def validation_rows(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A boolean mask holding out `fraction` of each label's rows, chosen with `seed`."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(labels), dtype=bool)
    for value in np.unique(labels):
        rows = np.flatnonzero(labels == value)
        held[rng.permutation(rows)[: round(fraction * len(rows))]] = True
    return held


class ImdbDataModule(SeqzooDataModule):
    """IMDB from `data_dir` (imdb_train.parquet, imdb_test.parquet), explicit paths, or the Hub.

    Batches are `(ids, lengths, labels)`, right-padded to the batch's longest review rounded up to
    `pad_multiple`; training batches are bucketed by length within chunks of `bucket_batches`
    batches (1 turns bucketing off). `vocab_size` counts [PAD] and [UNK]; `bigrams` adds that many
    frequent word pairs after the words (for the order-free `fasttext` architecture). The model's
    embedding must have `vocab_size + bigrams` rows (`arch_kwargs.vocab_size`).
    """

    num_classes = 2  # negative and positive: a classifier trained on it must have as many

    def __init__(
        self,
        data_dir: str | None = None,
        train_path: str | None = None,
        test_path: str | None = None,
        hub_revision: str | None = None,
        val_fraction: float = 0.2,
        split_seed: int = 0,
        vocab_size: int = 20_000,
        max_length: int = 500,
        truncation_side: str = "left",
        bigrams: int = 0,
        batch_size: int = 128,
        bucket_batches: int = 100,
        pad_multiple: int = PAD_MULTIPLE,
        shuffle_seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        if (
            isinstance(val_fraction, bool)
            or not isinstance(val_fraction, numbers.Real)
            or not 0 < val_fraction < 1
        ):
            raise DataError(
                f"val_fraction must be a number between 0 and 1 (exclusive), got {val_fraction!r}"
            )
        check_integers(3, vocab_size=vocab_size)  # [PAD], [UNK] and a word
        check_integers(1, max_length=max_length, batch_size=batch_size, bucket_batches=bucket_batches)
        check_integers(1, pad_multiple=pad_multiple)
        check_integers(0, bigrams=bigrams, split_seed=split_seed, shuffle_seed=shuffle_seed)
        check_integers(0, num_workers=num_workers)
        if truncation_side not in TRUNCATION_SIDES:
            raise DataError(f"truncation_side must be one of {TRUNCATION_SIDES}, got {truncation_side!r}")
        self.save_hyperparameters()
        self.frames: dict[str, pd.DataFrame] = {}
        self._datasets: dict[str, TokenBatches] = {}
        self._encoded_with: str | None = None  # the tokenizer JSON the cached datasets were encoded with
        # (tokenizer JSON, training texts, their word ids) from fitting the vocabulary; used once
        self._train_words: tuple[str, list[str], list[list[int]]] | None = None

    def path(self, split: str) -> Path | None:
        """The local file of `split` ("train" or "test"), or None to read the Hub dataset."""
        h = self.hparams
        explicit = h.train_path if split == "train" else h.test_path
        if explicit:
            return Path(explicit)
        return Path(h.data_dir) / FILES[split] if h.data_dir else None

    def _read(self, split: str) -> pd.DataFrame:
        path = self.path(split)
        return read_reviews(path) if path else load_hub_reviews(split, self.hparams.hub_revision)

    def setup(self, stage: str | None = None) -> None:
        h = self.hparams
        if (self.preprocessing is None or stage in (None, "fit", "validate")) and "train" not in self.frames:
            train = self._read("train")
            held = validation_rows(train["label"].to_numpy(), h.val_fraction, h.split_seed)
            self.frames["train"] = train[~held].reset_index(drop=True)
            self.frames["val"] = train[held].reset_index(drop=True)
        if stage in (None, "test", "predict") and "test" not in self.frames:
            self.frames["test"] = self._read("test")
        if self.preprocessing is None:
            texts = self.frames["train"]["text"].tolist()
            fitted = fit_and_read_words(texts, h.vocab_size, h.max_length, h.truncation_side, h.bigrams)
            tokenizer, words = fitted
            self.preprocessing = tokenizer.to_config()
            self._train_words = (tokenizer.tokenizer, texts, words) if words is not None else None

    def dataset(self, split: str) -> TokenBatches:
        """`split` encoded with the preprocessing in use (a pretrained model's, maybe), once."""
        tokenizer = WordTokenizer.from_config(self.preprocessing)
        if tokenizer.tokenizer != self._encoded_with:
            self._datasets, self._encoded_with = {}, tokenizer.tokenizer
        if split not in self._datasets:
            frame = self.frames[split]
            texts = frame["text"].tolist()
            ids = self._fitted_train_ids(tokenizer, texts) if split == "train" else None
            ids = tokenizer.ids(texts) if ids is None else ids
            wordless = [i for i, seq in enumerate(ids) if not seq]
            if wordless:
                raise DataError(
                    f"IMDB {split} rows {wordless[:5]} have no words (only punctuation or markup)"
                )
            labels = torch.tensor(frame["label"].to_numpy())
            self._datasets[split] = TokenBatches(ids, labels, self.hparams.pad_multiple, tokenizer.max_ids)
        return self._datasets[split]

    def _fitted_train_ids(self, tokenizer: WordTokenizer, texts: list[str]) -> list[list[int]] | None:
        """The ids of `texts` from the word ids read while fitting `tokenizer` on them, if it was (None
        otherwise, or if the training reviews have changed since): used once, then dropped."""
        kept, self._train_words = self._train_words, None
        if kept is None or kept[0] != tokenizer.tokenizer or kept[1] != texts:
            return None
        return tokenizer.ids_of_words(kept[2])

    def _loader(self, split: str, shuffle: bool = False, bucket_batches: int | None = None):
        """Batches bucketed by length: within chunks of `bucket_batches` batches (None: the whole split)."""
        h, dataset = self.hparams, self.dataset(split)
        sampler = LengthBucketSampler(dataset.lengths, h.batch_size, bucket_batches, shuffle, h.shuffle_seed)
        return token_loader(dataset, h.batch_size, sampler, h.num_workers)

    def train_dataloader(self):
        return self._loader("train", shuffle=True, bucket_batches=self.hparams.bucket_batches)

    def val_dataloader(self):
        return self._loader("val")

    def test_dataloader(self):
        return self._loader("test")

    def predict_dataloader(self):
        """The test split in the file's order, so predictions line up with its rows."""
        return token_loader(self.dataset("test"), self.hparams.batch_size, None, self.hparams.num_workers)

    def describe(self) -> dict[str, Any]:
        h = self.hparams
        paths = [p for p in (self.path("train"), self.path("test")) if p is not None and p.is_file()]
        where = {"files": {p.name: sha256_file(p) for p in paths}} if paths else {}
        if not paths:
            where = {"source": f"Hugging Face dataset {HUB_DATASET} at revision {h.hub_revision or 'main'}"}
        tokenizer = WordTokenizer.from_config(self.preprocessing) if self.preprocessing else None
        return {
            "name": HUB_DATASET,
            "description": "IMDB Large Movie Review Dataset v1.0 (Maas et al., 2011), binary sentiment",
            **where,
            "split": f"original {SPLIT_SIZE:,} train / {SPLIT_SIZE:,} test; validation "
            f"{h.val_fraction:.0%} of train, stratified by label (seed {h.split_seed}); test only for the "
            "reported metrics",
            "protocol": "word vocabulary fitted on the training part only"
            + (f": {tokenizer.describe()}" if tokenizer else ""),
            "test_reviews": len(self.frames["test"]) if "test" in self.frames else None,
        }
