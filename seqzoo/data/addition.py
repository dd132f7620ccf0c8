"""Addition task ("Deep Learning from Scratch 2", ch. 7): read "16+75" character by character, write "91".

Data as the book's `addition.txt` (made like Keras's addition example): operands of 1-3 random digits,
questions unique up to commutativity, question padded to 7 characters, answer "_" + the sum padded to
4 characters, 13 symbols. Split as the book's `sequence.load_data`: shuffle with seed 1984, the last
10 % is test; validation is held out of the training part.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, TensorDataset

from seqzoo.data.addition_codec import AdditionCodec
from seqzoo.data.base import SeqzooDataModule, check_integers
from seqzoo.errors import DataError

BOOK_DIGITS = 3  # the book's operands: 0 to 999
MIN_QUESTIONS = 10  # the last 10 % is the test split, so fewer leave it empty


def _random_operands(rng: np.random.RandomState, count: int, max_digits: int) -> np.ndarray:
    """Operands of a uniform number of digits (1..max_digits), each digit uniform, leading zeros allowed."""
    digits = rng.randint(0, 10, size=(count, max_digits))
    kept = np.arange(max_digits)[None, :] < rng.randint(1, max_digits + 1, size=(count, 1))
    return (np.where(kept, digits, 0) * 10 ** np.cumsum(kept[:, ::-1], axis=1)[:, ::-1] // 10).sum(axis=1)


def distinct_questions(max_digits: int) -> int:
    """How many questions unique up to commutativity exist: unordered pairs of 0 .. 10**max_digits - 1."""
    values = 10**max_digits
    return values * (values + 1) // 2


def check_question_count(n: int, max_digits: int, name: str = "n") -> None:
    """Refuse more questions than exist: the generator would otherwise look for a new one forever."""
    limit = distinct_questions(max_digits)
    if n > limit:
        raise DataError(
            f"{name} is {n:,}, but only {limit:,} distinct questions a+b exist with operands of up to "
            f"{max_digits} digits (a+b and b+a count as one)"
        )


def generate_additions(n: int, seed: int = 0, max_digits: int = BOOK_DIGITS) -> list[tuple[str, str]]:
    """`n` unique (question, answer) pairs like the book's file, e.g. ("16+75  ", "_91  ").

    Like Keras's addition example: leading zeros shrink some operands, and uniqueness up to
    commutativity rejects most repeats of short operands (about 10 % one-digit, 32 % two, 58 % three).
    """
    check_question_count(n, max_digits)
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
    naming the line, not a `KeyError` in the codec or a model trained on wrong answers. Numbers lose
    their leading zeros ("026+077  _103" gives ("26+77  ", "_103")), as `predict` reads questions.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: addition file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        line = err.object[: err.start].count(b"\n") + 1
        raise DataError(
            f"{path}:{line}: not UTF-8 text (byte {err.object[err.start : err.start + 1]!r}); addition "
            "files are ASCII lines like '16+75  _91  '"
        ) from err
    except OSError as err:
        raise DataError(f"{path}: cannot read the addition file: {err.strerror}") from err
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
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
        # As `predict` reads questions ("007+3" as "7+3"): a fixed-width file with zero-padded numbers
        # would otherwise train the model on inputs it never gets. Widths stay the file's.
        pairs.append((f"{a}+{b}".ljust(len(question)), f"_{total}".ljust(len(answer))))
    if not pairs:
        raise DataError(f"{path}: no questions in the file (it is empty)")
    return pairs


def operand_digits(question: str) -> int:
    """Characters of the longer operand as written ("007+3" -> 3): what the codec must make room for."""
    return max(len(operand) for operand in question.strip().split("+"))


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


def _check_arguments(h: Mapping[str, Any]) -> None:
    """The constructor's arguments, each against its valid range."""
    check_integers(1, batch_size=h["batch_size"], val_size=h["val_size"])
    check_integers(0, num_workers=h["num_workers"])
    seeds = {seed: h[seed] for seed in ("generation_seed", "split_seed")}
    check_integers(0, 2**32 - 1, **seeds)  # numpy's RandomState takes these seeds only
    for flag in ("reverse_question", "swap_operands"):
        if not isinstance(h[flag], bool):
            raise DataError(f"{flag} must be true or false, got {h[flag]!r}")
    if h["path"] is not None and not isinstance(h["path"], str | os.PathLike):
        raise DataError(f"path must be the name of an addition file, got {h['path']!r}")
    if h["path"] is None:
        check_integers(MIN_QUESTIONS, num_examples=h["num_examples"])
        check_question_count(h["num_examples"], BOOK_DIGITS, "num_examples")


class AdditionDataModule(SeqzooDataModule):
    """Generated (seeded) or read from a file in the book's format; 45,000 train / 5,000 test by default,
    with `val_size` validation questions held out of train. `swap_operands` trains on `a+b` and `b+a`.

    A file's widest operand sets the codec of a model trained from scratch (4-digit files train 4-digit
    models); a pretrained model's codec is kept, and a file it cannot read is refused, not scored 0."""

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
        _check_arguments(self.hparams)
        self.pairs: list[tuple[str, str]] = []  # in file (or generation) order, so errors can name a line
        self.splits: dict[str, list[tuple[str, str]]] = {}

    def setup(self, stage: str | None = None) -> None:
        h = self.hparams
        if not self.pairs:
            self.pairs = (
                read_addition_file(h.path)
                if h.path
                else generate_additions(h.num_examples, h.generation_seed)
            )
            order = np.random.RandomState(h.split_seed).permutation(len(self.pairs))
            pairs = [self.pairs[i] for i in order]
            split_at = len(pairs) - len(pairs) // 10
            train, test = pairs[:split_at], pairs[split_at:]
            self.splits = {"train": train[h.val_size :], "val": train[: h.val_size], "test": test}
        self._check_split_sizes(stage)
        if self.preprocessing is None:
            self.preprocessing = self._fitted_codec().to_config()

    def _source(self) -> str:
        h = self.hparams
        return str(
            h.path or f"seqzoo.data.addition.generate_additions({h.num_examples}, seed={h.generation_seed})"
        )

    def _check_split_sizes(self, stage: str | None) -> None:
        """Every split the stage uses must hold questions; an empty one fails deep in a DataLoader.

        Testing needs no training part, so a pretrained model can be evaluated on a small file."""
        count, val_size = len(self.pairs), self.hparams.val_size
        if count < MIN_QUESTIONS:
            raise DataError(
                f"{self._source()} has {count} questions; at least {MIN_QUESTIONS} are needed, as the last "
                "10 % is the test split"
            )
        before_test = count - count // 10
        if stage in (None, "fit", "validate") and val_size >= before_test:
            raise DataError(
                f"val_size {val_size:,} leaves no training questions: {self._source()} has {count:,} "
                f"questions, {count // 10:,} of them the test split, so val_size can be at most "
                f"{before_test - 1:,}"
            )

    def _fitted_codec(self) -> AdditionCodec:
        """A codec as wide as the data (a file may hold 4-digit operands). It has no statistics to leak, so
        all questions size it, and every split fits."""
        digits = max(operand_digits(question) for question, _ in self.pairs)
        question, answer = self.pairs[0]  # read_addition_file and the generator pad every line alike
        return AdditionCodec(
            question_length=max(len(question), 2 * digits + 1),
            answer_length=max(len(answer) - 1, digits + 1),
            max_digits=digits,
            reverse_question=self.hparams.reverse_question,
        )

    def _readable(self, codec: AdditionCodec) -> AdditionCodec:
        """Refuse data that a handed-in codec (a pretrained model's) cannot read: wider questions would
        reach the model as inputs it never saw, and it would score 0 without a word."""
        for number, (question, answer) in enumerate(self.pairs, start=1):
            if operand_digits(question) > codec.max_digits or len(answer.rstrip()) > codec.answer_length + 1:
                raise DataError(
                    f"{self._source()}:{number}: {question.strip()}{answer.rstrip()} does not fit the "
                    f"model, which reads operands of 1 to {codec.max_digits} digits and answers of up to "
                    f"{codec.answer_length} digits; evaluate it on such questions, or train a model on this "
                    "data"
                )
        return codec

    def tensors(self, split: str, pairs: list[tuple[str, str]] | None = None) -> tuple[Tensor, Tensor]:
        codec = self._readable(AdditionCodec.from_config(self.preprocessing))
        questions, answers = zip(*(pairs or self.splits[split]), strict=True)
        # Padding is the codec's, not the file's: a file padded wider than the model reads still fits.
        return (
            codec.questions([q.rstrip() for q in questions]),
            codec.ids([a.rstrip() for a in answers], codec.answer_length + 1),
        )

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
        return {
            "name": "addition (DLFS2 addition.txt format)",
            "source": self._source(),
            "split": f"shuffled (seed {h.split_seed}); last 10 % test, {h.val_size} validation out of train",
            "test_questions": len(self.splits.get("test", [])) or h.num_examples // 10,
            "reverse_question": h.reverse_question,
            "swap_operands": h.swap_operands,
        }
