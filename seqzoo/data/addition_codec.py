"""The addition task's preprocessing: characters <-> ids, padding, and the reversed-question flag.

Kept apart from the DataModule (and Lightning) so that serving a model imports only what `predict` needs.
"""

from __future__ import annotations

import re
import reprlib
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from seqzoo.errors import InputError
from seqzoo.preprocessing import register_preprocessor


@register_preprocessor
@dataclass
class AdditionCodec:
    """Characters <-> ids for questions and answers; `reverse_question` feeds the question backwards."""

    kind: ClassVar[str] = "addition_chars"
    vocabulary: str = " +0123456789_"
    question_length: int = 7
    answer_length: int = 4
    max_digits: int = 3
    reverse_question: bool = False
    usage: ClassVar[str] = 'print(model.predict(["16+75", "999+1"]))  # ["91", "1000"]'

    def to_config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "vocabulary": self.vocabulary,
            "question_length": self.question_length,
            "answer_length": self.answer_length,
            "max_digits": self.max_digits,
            "reverse_question": self.reverse_question,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> AdditionCodec:
        fields = {k: v for k, v in config.items() if k != "kind"}
        unknown = set(fields) - {
            "vocabulary",
            "question_length",
            "answer_length",
            "max_digits",
            "reverse_question",
        }
        if unknown:
            raise ValueError(f"unexpected keys {sorted(unknown)}")
        codec = cls(**fields)
        codec.validate()
        return codec

    def validate(self) -> None:
        """Reject a corrupt config when it is loaded, not with an obscure error at the first `predict`."""
        lengths = (self.question_length, self.answer_length, self.max_digits)
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in lengths):
            raise ValueError(f"question_length, answer_length, max_digits must be integers >= 1: {lengths}")
        if not isinstance(self.reverse_question, bool):
            raise ValueError(f"reverse_question must be true or false, got {self.reverse_question!r}")
        needed = set(" +_0123456789")
        if not isinstance(self.vocabulary, str) or not needed <= set(self.vocabulary):
            raise ValueError(f"vocabulary must be a string holding {''.join(sorted(needed))!r}")
        if self.question_length < 2 * self.max_digits + 1 or self.answer_length < self.max_digits + 1:
            raise ValueError(
                f"question_length {self.question_length} and answer_length {self.answer_length} are too "
                f"short for operands of {self.max_digits} digits"
            )

    @property
    def vocab_size(self) -> int:
        """Token ids run from 0 to this - 1: what a model's embeddings must hold (`vocabulary_mismatch`)."""
        return len(self.vocabulary)

    @property
    def start_id(self) -> int:
        return self.vocabulary.index("_")

    def ids(self, texts: list[str], length: int) -> Tensor:
        table = {c: i for i, c in enumerate(self.vocabulary)}
        return torch.tensor([[table[c] for c in text.ljust(length)] for text in texts], dtype=torch.long)

    def questions(self, texts: list[str]) -> Tensor:
        ids = self.ids(texts, self.question_length)
        return ids.flip(1) if self.reverse_question else ids

    def encode(self, raw: Any) -> Tensor:
        """Questions like "16+75" -> source ids `(n, question_length)`. Operands lose their leading
        zeros ("007+3" reads as "7+3"): no training question has any, and a model reads them wrongly."""
        if isinstance(raw, str) or not isinstance(raw, list | tuple | np.ndarray):
            raise InputError(f'expected a list of questions like ["16+75"], got {type(raw).__name__}')
        if isinstance(raw, np.ndarray) and raw.ndim != 1:
            raise InputError(
                f'expected a list or 1-D array of questions like ["16+75"], got a {raw.ndim}-D array'
            )
        # [0-9], not \d: \d also matches other scripts' digits ("١٦"), which are not in the vocabulary.
        # Leading zeros are bounded, so int() below never meets Python's limit on digits.
        operand = rf"0{{0,{self.max_digits}}}(?:[1-9][0-9]{{0,{self.max_digits - 1}}}|0)"
        pattern = re.compile(rf"{operand}\+{operand}")
        for i, q in enumerate(raw):
            if not isinstance(q, str) or not pattern.fullmatch(q.strip()):
                raise InputError(
                    f"expected questions 'a+b' with operands of 1 to {self.max_digits} digits (and at most "
                    f"{self.max_digits} leading zeros); question {i} is {reprlib.repr(q)}"
                )
        if len(raw) == 0:  # no questions: an empty batch of the right width, so predict returns []
            return torch.empty((0, self.question_length), dtype=torch.long)
        return self.questions(["+".join(str(int(a)) for a in q.strip().split("+")) for q in raw])

    def decode(self, ids: Tensor) -> list[str]:
        return ["".join(self.vocabulary[i] for i in row).strip() for row in ids.tolist()]
