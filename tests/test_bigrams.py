"""Word pairs in the vocabulary (fastText's bag of bigrams) and the `fasttext` architecture on them.

The pairs are checked against counts written independently here; the small parquet files are the
ones tests/test_imdb.py writes (sentiment shows in a few words), so a fitted model must learn them.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
import torch
from tokenizers import Tokenizer

import seqzoo
from seqzoo.artifact import load_artifact, save_pretrained
from seqzoo.data.imdb import ImdbDataModule
from seqzoo.data.tokens import WordTokenizer, fit_word_tokenizer
from seqzoo.errors import SeqzooError
from seqzoo.tasks import ClassificationTask

from .conftest import quiet_trainer
from .test_imdb import data_dir, words  # noqa: F401 (data_dir: test_imdb's parquet files, as a fixture)

TEXTS = ["not good at all", "Not good. Not bad", "very good film, not good", "a very good film"]


def pair_counts(texts: list[str], vocab: dict[str, int], max_length: int) -> Counter:
    """Adjacent pairs of known words among the last `max_length` words of each text."""
    counts = Counter()
    for text in texts:
        kept = [w if w in vocab else None for w in words(text)][-max_length:]
        counts.update(f"{a} {b}" for a, b in zip(kept, kept[1:], strict=False) if a and b)
    return counts


def test_the_most_frequent_pairs_follow_the_words():
    tokenizer = fit_word_tokenizer(TEXTS, vocab_size=8, max_length=4, bigrams=3)
    vocab = json.loads(tokenizer.tokenizer)["model"]["vocab"]
    word_part = {w: i for w, i in vocab.items() if " " not in w}
    assert sorted(word_part.values()) == list(range(8))  # words keep ids 0..7, pairs come after
    counts = pair_counts(TEXTS, word_part, 4)
    expected = sorted(counts, key=lambda p: (-counts[p], [word_part[w] for w in p.split()]))[:3]
    assert sorted((w for w in vocab if " " in w), key=vocab.get) == expected
    assert expected[0] == "not good" and [vocab[p] for p in expected] == [8, 9, 10]
    assert (tokenizer.vocab_size, tokenizer.bigrams, tokenizer.max_ids) == (11, 3, 7)
    assert "11 tokens (3 of them word pairs)" in tokenizer.describe()


def test_a_text_reads_as_its_words_then_its_known_pairs_in_order():
    tokenizer = fit_word_tokenizer(TEXTS, vocab_size=8, max_length=4, bigrams=3)
    vocab = json.loads(tokenizer.tokenizer)["model"]["vocab"]
    text = "zzz not good, not good film"  # read: the last 4 words
    kept = words(text)[-4:]
    pairs = [f"{a} {b}" for a, b in zip(kept, kept[1:], strict=False) if f"{a} {b}" in vocab]
    assert tokenizer.ids([text]) == [[vocab.get(w, 1) for w in kept] + [vocab[p] for p in pairs]]
    assert "not good" in pairs and "good film" in pairs
    plain = Tokenizer.from_str(tokenizer.tokenizer)  # the file alone still gives the word ids
    assert plain.encode(text, add_special_tokens=False).ids == tokenizer.ids([text])[0][: len(kept)]
    ids, lengths = tokenizer.encode([text, "a"])
    assert ids.shape[1] <= tokenizer.max_ids and lengths.tolist() == [len(tokenizer.ids([text])[0]), 1]


def test_pairs_with_an_unknown_word_are_not_counted():
    tokenizer = fit_word_tokenizer(["rare good good good"] + ["good good"] * 3, vocab_size=3, bigrams=5)
    vocab = json.loads(tokenizer.tokenizer)["model"]["vocab"]
    assert [w for w in vocab if " " in w] == ["good good"]  # "rare" is [UNK]: "[UNK] good" is no pair


def test_without_bigrams_nothing_changes():
    plain, zero = fit_word_tokenizer(TEXTS, 8, 4), fit_word_tokenizer(TEXTS, 8, 4, bigrams=0)
    assert plain.tokenizer == zero.tokenizer and (plain.bigrams, plain.max_ids) == (0, 4)


def test_a_pair_naming_an_unknown_word_is_refused():
    config = json.loads(fit_word_tokenizer(TEXTS, 8, 4, bigrams=2).tokenizer)
    config["model"]["vocab"]["not qwerty"] = len(config["model"]["vocab"])
    with pytest.raises(ValueError, match="'not qwerty' is not a pair of two known words"):
        WordTokenizer(json.dumps(config))


def test_negative_bigrams_are_refused():
    with pytest.raises(ValueError, match="bigrams >= 0"):
        fit_word_tokenizer(TEXTS, 8, bigrams=-1)
    with pytest.raises(SeqzooError, match="bigrams must be an integer >= 0"):
        ImdbDataModule(data_dir=".", bigrams=-1)


def test_the_training_split_keeps_the_words_read_while_fitting_and_gets_the_same_ids(data_dir):  # noqa: F811
    """The words read to count pairs become the training split's ids; they equal a fresh tokenization."""
    dm = ImdbDataModule(data_dir=str(data_dir), vocab_size=70, max_length=40, bigrams=50)
    dm.setup("fit")
    tokenizer = WordTokenizer.from_config(dm.preprocessing)
    train = dm.dataset("train")
    fresh = tokenizer.ids(dm.frames["train"]["text"].tolist())
    assert train.lengths.tolist() == [len(seq) for seq in fresh]
    assert train.flat.tolist() == [i for seq in fresh for i in seq]
    assert max(train.flat.tolist()) >= 70  # pairs are among them
    assert dm._train_words is None  # used once, then dropped


def test_training_reviews_changed_after_setup_are_tokenized_afresh(data_dir):  # noqa: F811
    dm = ImdbDataModule(data_dir=str(data_dir), vocab_size=70, max_length=40, bigrams=50)
    dm.setup("fit")
    dm.frames["train"] = dm.frames["train"].sample(frac=0.5, random_state=0).reset_index(drop=True)
    texts = dm.frames["train"]["text"].tolist()
    train = dm.dataset("train")
    fresh = WordTokenizer.from_config(dm.preprocessing).ids(texts)
    assert len(train) == len(texts) == len(train.labels)
    assert train.flat.tolist() == [i for seq in fresh for i in seq]


def test_fasttext_learns_sentiment_from_words_and_pairs_and_round_trips(data_dir, tmp_path):  # noqa: F811
    dm = ImdbDataModule(data_dir=str(data_dir), vocab_size=70, max_length=160, bigrams=200, batch_size=16)
    dm.setup("fit")
    tokenizer = WordTokenizer.from_config(dm.preprocessing)
    assert tokenizer.bigrams == 200 and tokenizer.vocab_size == 270
    widths = {x.shape[1] for x, _, _ in dm.train_dataloader()}
    assert max(widths) > 160 and max(widths) <= tokenizer.max_ids  # pairs follow the 160 words
    torch.manual_seed(0)
    task = ClassificationTask(
        arch="fasttext",
        arch_kwargs={"vocab_size": 270, "embedding_dim": 8},
        preprocessing=dm.preprocessing,
        lr=0.05,
    )
    quiet_trainer(epochs=20).fit(task, datamodule=dm)
    texts = dm.frames["val"]["text"].tolist()
    predicted = task.predict(texts) > 0.5
    accuracy = (predicted == dm.frames["val"]["label"].to_numpy().astype(bool)).mean()
    assert accuracy > 0.9, accuracy  # chance is 0.5; the sentiment words decide every review
    save_pretrained(task, tmp_path / "fasttext")
    loaded = load_artifact(tmp_path / "fasttext")
    assert (loaded.predict(texts) == task.predict(texts)).all()
    assert WordTokenizer.from_config(loaded.preprocessing).bigrams == 200


def test_fasttext_on_features_averages_the_steps():
    model = seqzoo.create_model("fasttext", input_size=3, output_size=1).eval()
    x = torch.randn(2, 5, 3)
    expected = model.head(x[:, :4].mean(dim=1))
    torch.testing.assert_close(model(x, lengths=torch.tensor([4, 4])), expected)
