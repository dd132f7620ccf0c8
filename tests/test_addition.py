"""Addition data as the book made it, its codec, and the predict contract."""

from __future__ import annotations

import collections
import re

import numpy as np
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


def _write_additions(path, operands, width=3):
    """A file in the book's format, questions padded for operands of `width` digits."""
    lines = [f"{a}+{b}".ljust(2 * width + 1) + "_" + str(a + b).ljust(width + 1) for a, b in operands]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_no_more_questions_than_exist_are_asked_for():
    every = generate_additions(55, max_digits=1)  # 10 * 11 / 2 pairs of 0..9, a+b and b+a as one
    assert len({tuple(sorted(q.strip().split("+"))) for q, _ in every}) == 55
    with pytest.raises(DataError, match=r"n is 56, but only 55 distinct questions .* up to 1 digits"):
        generate_additions(56, max_digits=1)
    with pytest.raises(DataError, match=r"num_examples is 500,501, but only 500,500 distinct .* 3 digits"):
        AdditionDataModule(num_examples=500_501)


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"batch_size": 0}, "batch_size must be an integer >= 1, got 0"),
        ({"batch_size": 1.5}, "batch_size must be an integer >= 1, got 1.5"),
        ({"num_workers": -1}, "num_workers must be an integer >= 0"),
        ({"val_size": -100}, "val_size must be an integer >= 1, got -100"),
        ({"val_size": 0}, "val_size must be an integer >= 1, got 0"),
        ({"generation_seed": -1}, "generation_seed must be an integer between 0 and 4294967295"),
        ({"split_seed": 2**32}, "split_seed must be an integer between 0 and 4294967295"),
        ({"num_examples": 9}, "num_examples must be an integer >= 10, got 9"),
        ({"num_examples": True}, "num_examples must be an integer >= 10, got True"),
        ({"reverse_question": "false"}, "reverse_question must be true or false, got 'false'"),
        ({"swap_operands": 1}, "swap_operands must be true or false, got 1"),
        ({"path": 3}, "path must be the name of an addition file, got 3"),
    ],
)
def test_constructor_arguments_out_of_range_are_data_errors(arguments, says):
    with pytest.raises(DataError, match=re.escape(says)):
        AdditionDataModule(**arguments)


def test_a_validation_split_larger_than_the_training_part_is_a_data_error(tmp_path):
    with pytest.raises(
        DataError, match=r"val_size 2,000 leaves no training .* 1,000 questions, 100 of them .* 899"
    ):
        AdditionDataModule(num_examples=1000).setup("fit")
    dm = AdditionDataModule(num_examples=1000, val_size=899)
    dm.setup("fit")
    assert {k: len(v) for k, v in dm.splits.items()} == {"train": 1, "val": 899, "test": 100}
    small = _write_additions(tmp_path / "small.txt", [(a, 7) for a in range(30)])
    with pytest.raises(DataError, match=r"small\.txt has 30 .* 3 of them the test split, .* at most 26"):
        AdditionDataModule(path=small).setup("fit")
    tested = AdditionDataModule(path=small)  # testing needs no training part
    tested.setup("test")
    assert len(tested.splits["test"]) == 3 and tested.tensors("test")[0].shape == (3, 7)


def test_a_file_with_fewer_than_ten_questions_is_a_data_error(tmp_path):
    few = _write_additions(tmp_path / "few.txt", [(a, 7) for a in range(9)])
    with pytest.raises(DataError, match=r"few\.txt has 9 questions; at least 10 .* test split"):
        AdditionDataModule(path=few, val_size=1).setup("test")


def test_a_file_of_four_digit_operands_trains_a_model_that_reads_them(tmp_path):
    four = _write_additions(tmp_path / "four.txt", [(a, a + 4000) for a in range(1000, 1100)], width=4)
    dm = AdditionDataModule(path=four, val_size=10)
    dm.setup("fit")
    codec = AdditionCodec.from_config(dm.preprocessing)
    assert (codec.max_digits, codec.question_length, codec.answer_length) == (4, 9, 5)
    src, tgt = dm.tensors("test")
    assert src.shape == (10, 9) and tgt.shape == (10, 6)
    question, answer = dm.splits["test"][0]
    assert torch.equal(src[0], codec.encode([question.strip()])[0])
    assert codec.decode(tgt[:1]) == [answer.strip()]


def test_a_zero_padded_file_trains_on_the_questions_predict_will_read(tmp_path):
    """ "026+077_103": read as written, the model trained on inputs `predict` (which reads "26+77")
    never gives it, and evaluate scored those instead of what users ask."""
    lines = [f"{a:03d}+{b:03d}_{a + b:04d}" for a, b in [(26, 77), (5, 3), (100, 9)] * 4]
    (tmp_path / "padded.txt").write_text("\n".join(lines) + "\n")
    assert read_addition_file(tmp_path / "padded.txt")[:2] == [("26+77  ", "_103 "), ("5+3    ", "_8   ")]
    dm = AdditionDataModule(path=str(tmp_path / "padded.txt"), val_size=2)
    dm.setup("fit")
    codec = AdditionCodec.from_config(dm.preprocessing)
    for question, answer in dm.splits["train"]:
        a, b = question.split("+")
        src, tgt = dm.tensors("train", [(question, answer)])
        assert torch.equal(src[0], codec.encode([f"{int(a):03d}+{int(b):03d}"])[0])  # as a user asks
        assert codec.decode(tgt) == [f"_{int(answer[1:])}"]


def test_a_file_a_pretrained_codec_cannot_read_is_a_data_error(tmp_path):
    four = _write_additions(tmp_path / "four.txt", [(a, a + 4000) for a in range(1000, 1100)], width=4)
    dm = AdditionDataModule(path=four)
    dm.preprocessing = AdditionCodec().to_config()  # a model trained on the book's 3-digit operands
    dm.setup("test")
    with pytest.raises(DataError, match=r"four\.txt:1: 1000\+5000_6000 does not fit .* 1 to 3 digits"):
        dm.test_dataloader()


def test_evaluating_the_bundled_model_on_four_digit_operands_is_refused(tmp_path):
    from seqzoo.evaluation import evaluate

    four = _write_additions(tmp_path / "four.txt", [(a, a + 4000) for a in range(1000, 1100)], width=4)
    with pytest.raises(DataError, match=r"four\.txt:1: .* does not fit the model"):
        evaluate(seqzoo.load("seq2seq_attention.addition"), four)


def test_a_file_padded_wider_than_the_model_reads_fits_its_codec(tmp_path):
    wide = _write_additions(tmp_path / "wide.txt", [(a, 999 - a) for a in range(100)], width=4)
    dm = AdditionDataModule(path=wide)
    dm.preprocessing = AdditionCodec().to_config()
    dm.setup("test")
    src, tgt = dm.tensors("test")
    assert src.shape == (10, 7) and tgt.shape == (10, 5)
    assert AdditionCodec().decode(tgt) == ["_999"] * 10


def test_a_file_that_is_not_utf8_is_a_data_error(tmp_path):
    (tmp_path / "latin.txt").write_bytes(b"16+75  _91  \n\xe9\n")
    with pytest.raises(DataError, match=r"latin\.txt:2: not UTF-8 text \(byte b'\\xe9'\)"):
        read_addition_file(tmp_path / "latin.txt")


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        (np.array("16+75"), "a list or 1-D array of questions"),
        (np.array([["16+75"]]), "got a 2-D array"),
        (["0" * 5000 + "1+1"], "at most 3 leading zeros); question 0 is '000000000000...00000000001+1'"),
        (["16+75", 16], "question 1 is 16"),
        (["00000+1"], "at most 3 leading zeros"),
        (["1+0000016"], "at most 3 leading zeros"),
    ],
)
def test_arrays_of_the_wrong_shape_and_runs_of_zeros_are_input_errors(bad, says):
    with pytest.raises(InputError, match=re.escape(says)):
        AdditionCodec().encode(bad)


def test_up_to_max_digits_leading_zeros_and_one_dimensional_arrays_are_read():
    codec = AdditionCodec()
    assert torch.equal(codec.encode(np.array(["0000+1", "00016+75"])), codec.encode(["0+1", "16+75"]))
    assert seqzoo.predictor("seq2seq_attention.addition").predict(np.array(["16+75", "0999+0001"])) == [
        "91",
        "1000",
    ]
