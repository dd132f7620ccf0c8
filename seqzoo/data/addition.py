"""Addition task ("Deep Learning from Scratch 2", ch. 7): read "16+75" character by character, write "91".

Data as the book's `addition.txt` (made like Keras's addition example): operands of 1-3 random digits,
questions unique up to commutativity, question padded to 7 characters, answer "_" + the sum padded to
4 characters, 13 symbols. Split as the book's `sequence.load_data`: shuffle with seed 1984, the last
10 % is test; validation is held out of the training part.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, TensorDataset

from seqzoo.data.addition_codec import AdditionCodec
from seqzoo.data.base import SeqzooDataModule
from seqzoo.errors import DataError


def _random_operands(rng: np.random.RandomState, count: int, max_digits: int) -> np.ndarray:
    """Operands of a uniform number of digits (1..max_digits), each digit uniform, leading zeros allowed."""
    digits = rng.randint(0, 10, size=(count, max_digits))
    kept = np.arange(max_digits)[None, :] < rng.randint(1, max_digits + 1, size=(count, 1))
    return (np.where(kept, digits, 0) * 10 ** np.cumsum(kept[:, ::-1], axis=1)[:, ::-1] // 10).sum(axis=1)


def generate_additions(n: int, seed: int = 0, max_digits: int = 3) -> list[tuple[str, str]]:
    """`n` unique (question, answer) pairs like the book's file, e.g. ("16+75  ", "_91  ").

    Like Keras's addition example: leading zeros shrink some operands, and uniqueness up to
    commutativity rejects most repeats of short operands (about 10 % one-digit, 32 % two, 58 % three).
    """
    rng = np.random.RandomState(seed)
    seen: set[tuple[int, int]] = set()
    pairs: list[tuple[str, str]] = []
    while len(pairs) < n:
        for a, b in zip(*(_random_operands(rng, 2 * n, max_digits).tolist() for _ in range(2)), strict=True):
            if (key := (min(a, b), max(a, b))) in seen:
                continue
            seen.add(key)
            pairs.append((f"{a}+{b}".ljust(2 * max_digits + 1), "_" + str(a + b).ljust(max_digits + 1)))
            if len(pairs) == n:
                break
    return pairs


LINE = re.compile(r"(?P<a>[0-9]+)\+(?P<b>[0-9]+) *_(?P<sum>[0-9]+) *")


def read_addition_file(path: str | Path) -> list[tuple[str, str]]:
    """Lines like `16+75  _91  ` (the book's addition.txt) -> (question, answer) pairs.

    Every line is checked (format, the width line 1 sets, the sum), so a damaged file is a `DataError`
    naming the line, not a `KeyError` in the codec or a model trained on wrong answers.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: addition file not found")
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        found = LINE.fullmatch(line)
        if found is None:
            raise DataError(
                f"{path}:{number}: expected 'a+b', spaces, '_' and the sum padded with spaces, as in "
                f"'16+75  _91  '; got {line!r}"
            )
        cut = line.index("_")
        question, answer = line[:cut], line[cut:]
        if pairs and (len(question), len(answer)) != (len(pairs[0][0]), len(pairs[0][1])):
            raise DataError(
                f"{path}:{number}: question and answer are {len(question)} and {len(answer)} characters "
                f"wide, but line 1 sets {len(pairs[0][0])} and {len(pairs[0][1])}; got {line!r}"
            )
        a, b, total = (int(found[key]) for key in ("a", "b", "sum"))
        if a + b != total:
            raise DataError(f"{path}:{number}: {a}+{b} is {a + b}, but the answer is {total}; got {line!r}")
        pairs.append((question, answer))
    if not pairs:
        raise DataError(f"{path}: no questions in the file (it is empty)")
    return pairs


def swapped(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The same questions with the operands in the other order ("16+75" -> "75+16"), same answers."""
    out = []
    for question, answer in pairs:
        a, b = question.strip().split("+")
        out.append((f"{b}+{a}".ljust(len(question)), answer))
    return out


class EitherOrder(Dataset):
    """Training questions shown as `a+b` or `b+a`, drawn afresh for every example of every epoch.

    Questions are unique up to commutativity, so `b+a` is never a test question: the swap doubles what the
    model sees without leaking test data, at no extra cost per epoch.
    """

    def __init__(self, questions: Tensor, swapped_questions: Tensor, answers: Tensor) -> None:
        self.questions, self.swapped_questions, self.answers = questions, swapped_questions, answers

    def __len__(self) -> int:
        return len(self.answers)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        swap = bool(torch.randint(2, ()).item())
        return (self.swapped_questions if swap else self.questions)[i], self.answers[i]


class AdditionDataModule(SeqzooDataModule):
    """Generated (seeded) or read from a file in the book's format; 45,000 train / 5,000 test by default,
    with `val_size` validation questions held out of train. `swap_operands` trains on `a+b` and `b+a`."""

    def __init__(
        self,
        path: str | None = None,
        num_examples: int = 50_000,
        generation_seed: int = 0,
        split_seed: int = 1984,
        val_size: int = 2_000,
        reverse_question: bool = False,
        swap_operands: bool = False,
        batch_size: int = 128,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.splits: dict[str, list[tuple[str, str]]] = {}

    def setup(self, stage: str | None = None) -> None:
        h = self.hparams
        if not self.splits:
            pairs = (
                read_addition_file(h.path)
                if h.path
                else generate_additions(h.num_examples, h.generation_seed)
            )
            order = np.random.RandomState(h.split_seed).permutation(len(pairs))
            pairs = [pairs[i] for i in order]
            split_at = len(pairs) - len(pairs) // 10
            train, test = pairs[:split_at], pairs[split_at:]
            self.splits = {"train": train[h.val_size :], "val": train[: h.val_size], "test": test}
        if self.preprocessing is None:
            codec = AdditionCodec(
                question_length=len(self.splits["train"][0][0]),
                answer_length=len(self.splits["train"][0][1]) - 1,
                reverse_question=h.reverse_question,
            )
            self.preprocessing = codec.to_config()

    def tensors(self, split: str, pairs: list[tuple[str, str]] | None = None) -> tuple[Tensor, Tensor]:
        codec = AdditionCodec.from_config(self.preprocessing)
        questions, answers = zip(*(pairs or self.splits[split]), strict=True)
        return codec.questions(list(questions)), codec.ids(list(answers), codec.answer_length + 1)

    def _dataset(self, split: str) -> Dataset:
        if split == "train" and self.hparams.swap_operands:
            questions, answers = self.tensors(split)
            return EitherOrder(questions, self.tensors(split, swapped(self.splits[split]))[0], answers)
        return TensorDataset(*self.tensors(split))

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        return DataLoader(
            self._dataset(split),
            batch_size=self.hparams.batch_size,
            shuffle=shuffle,
            num_workers=self.hparams.num_workers,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def describe(self) -> dict[str, Any]:
        h = self.hparams
        source = (
            h.path or f"seqzoo.data.addition.generate_additions({h.num_examples}, seed={h.generation_seed})"
        )
        return {
            "name": "addition (DLFS2 addition.txt format)",
            "source": str(source),
            "split": f"shuffled (seed {h.split_seed}); last 10 % test, {h.val_size} validation out of train",
            "test_questions": len(self.splits.get("test", [])) or h.num_examples // 10,
            "reverse_question": h.reverse_question,
            "swap_operands": h.swap_operands,
        }
