"""Addition data as the book made it, its codec, and the predict contract."""

from __future__ import annotations

import collections
import re

import pytest
import torch

import seqzoo
from seqzoo.data.addition import AdditionCodec, AdditionDataModule, generate_additions, read_addition_file
from seqzoo.errors import DataError, InputError


@pytest.fixture(scope="module")
def book_sized():
    return generate_additions(50_000, seed=0)


def test_generated_questions_follow_the_book_format(book_sized):
    for question, answer in book_sized[:2000]:
        assert len(question) == 7 and len(answer) == 5 and answer[0] == "_"
        a, b = question.strip().split("+")
        assert int(a) + int(b) == int(answer[1:])
        assert set(question + answer) <= set(AdditionCodec.vocabulary)


def test_questions_are_unique_up_to_commutativity(book_sized):
    keys = [tuple(sorted(int(x) for x in q.strip().split("+"))) for q, _ in book_sized]
    assert len(set(keys)) == len(keys) == 50_000


def test_operand_lengths_match_the_books_file(book_sized):
    counts = collections.Counter(len(x) for q, _ in book_sized for x in q.strip().split("+"))
    shares = {k: v / sum(counts.values()) for k, v in counts.items()}
    assert shares[1] == pytest.approx(0.10, abs=0.01)
    assert shares[2] == pytest.approx(0.32, abs=0.01)
    assert shares[3] == pytest.approx(0.58, abs=0.01)


def test_generation_is_seeded():
    assert (
        generate_additions(100, seed=3) == generate_additions(100, seed=3) != generate_additions(100, seed=4)
    )


def test_default_split_is_45000_train_5000_test_with_validation_held_out():
    dm = AdditionDataModule(val_size=2000)
    dm.setup()
    assert {k: len(v) for k, v in dm.splits.items()} == {"train": 43_000, "val": 2_000, "test": 5_000}
    questions = [set(q for q, _ in dm.splits[s]) for s in ("train", "val", "test")]
    assert not (questions[0] & questions[1]) and not (questions[0] & questions[2])


def test_reads_the_books_file_format(tmp_path):
    lines = [f"{a}+{b}".ljust(7) + "_" + str(a + b).ljust(4) for a, b in [(16, 75), (52, 68), (5, 3)] * 10]
    (tmp_path / "addition.txt").write_text("\n".join(lines) + "\n")
    pairs = read_addition_file(tmp_path / "addition.txt")
    assert pairs[0] == ("16+75  ", "_91  ")
    dm = AdditionDataModule(path=str(tmp_path / "addition.txt"), val_size=3)
    dm.setup()
    assert {k: len(v) for k, v in dm.splits.items()} == {"train": 24, "val": 3, "test": 3}


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("16+75 91", "expected 'a+b', spaces, '_' and the sum"),  # no separator
        ("16+x5  _91  ", "expected 'a+b'"),  # a character outside the vocabulary (was a KeyError later)
        ("16-75  _91  ", "expected 'a+b'"),
        ("16+75  _9l  ", "expected 'a+b'"),
        ("", "expected 'a+b'"),  # a blank line
        ("16+75 _91  ", "question and answer are 6 and 5 characters wide, but line 1 sets 7 and 5"),
        ("16+75  _91   ", "are 7 and 6 characters wide"),  # ragged widths (were a tensor error later)
        ("16+75  _92  ", "16+75 is 91, but the answer is 92"),  # a corrupted answer
    ],
)
def test_a_malformed_file_names_the_file_and_line(tmp_path, line, says):
    (tmp_path / "bad.txt").write_text(f"52+68  _120 \n{line}\n5+3    _8   \n")
    with pytest.raises(DataError, match=rf"bad\.txt:2: .*{re.escape(says)}"):
        read_addition_file(tmp_path / "bad.txt")


def test_an_empty_file_is_a_data_error(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(DataError, match=r"empty\.txt: no questions"):
        read_addition_file(tmp_path / "empty.txt")


def test_reversed_question_is_the_preprocessing():
    plain, reverse = AdditionCodec(), AdditionCodec(reverse_question=True)
    assert torch.equal(reverse.encode(["16+75"]), plain.encode(["16+75"]).flip(1))
    dm = AdditionDataModule(num_examples=200, val_size=10, reverse_question=True)
    dm.setup()
    assert dm.preprocessing["reverse_question"] is True
    src, tgt = dm.tensors("test")
    assert tgt[:, 0].eq(plain.start_id).all()
    assert plain.decode(src[:1].flip(1))[0] == dm.splits["test"][0][0].strip()


@pytest.mark.parametrize("bad", [["16+"], ["a+1"], ["1234+5"], ["16-75"], [16], "16+75", None, [""]])
def test_questions_outside_the_format_are_input_errors(bad):
    with pytest.raises(InputError):
        AdditionCodec().encode(bad)


def test_leading_zeros_are_dropped_as_no_training_question_has_them():
    codec = AdditionCodec()
    padded = codec.encode(["016+075", "007+3", "000+000", "0016+0075"])
    assert torch.equal(padded, codec.encode(["16+75", "7+3", "0+0", "16+75"]))
    assert seqzoo.predictor("seq2seq_attention.addition").predict(["016+075", "007+3"]) == ["91", "10"]


def test_decode_strips_padding():
    codec = AdditionCodec()
    assert codec.decode(codec.ids(["91", "1000"], 4)) == ["91", "1000"]
