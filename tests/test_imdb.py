"""IMDB: the word tokenizer, per-batch padding and length buckets, text artifacts, and the predict contract.

Small real parquet files are written per test module: reviews of 3 to 150 words with `<br />` tags and
punctuation, whose label shows in a few sentiment words. The real files are checked when present.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.torch import save_file
from tokenizers import Tokenizer

import seqzoo
from seqzoo.artifact import round_to_storage
from seqzoo.data.buckets import LengthBucketSampler
from seqzoo.data.imdb import ImdbDataModule, read_reviews, validation_rows
from seqzoo.data.tokens import WordTokenizer, fit_word_tokenizer, pad_batch
from seqzoo.errors import ArtifactError, DataError, InputError, SeqzooError
from seqzoo.tasks import ClassificationTask

from .conftest import ROOT, quiet_trainer, require_shared_data, run_seqzoo

POSITIVE, NEGATIVE = ["great", "wonderful", "superb", "loved"], ["awful", "boring", "waste", "hated"]
FILLER = [f"w{i}" for i in range(60)]
VOCAB = 70  # [PAD], [UNK] and the 68 words of the training reviews: 60 filler and 8 sentiment words
ARCHS = ["simplernn", "lstm", "bilstm", "gru", "conv1d", "conv1d_gru"]
ARCH_KWARGS = {"conv1d": {"channels": [8, 8], "kernel_size": 3}, "conv1d_gru": {"channels": [8, 8]}}


def reviews(count: int, seed: int) -> pd.DataFrame:
    """Balanced labels; filler words with Zipf-like frequencies, two or three words of the label's side."""
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, len(FILLER) + 1)
    texts, labels = [], np.arange(count) % 2
    for label in labels:
        words = list(rng.choice(FILLER, rng.integers(3, 150), p=weights / weights.sum()))
        for word in rng.choice(POSITIVE if label else NEGATIVE, rng.integers(2, 4)):
            words.insert(int(rng.integers(0, len(words) + 1)), str(word).capitalize())
        cut = len(words) // 2
        texts.append(" ".join(words[:cut]) + ".<br /><br />" + " ".join(words[cut:]) + "!")
    return pd.DataFrame({"text": texts, "label": labels.astype("int8")})


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """imdb_train.parquet (320 reviews; `heldout` is in validation rows only) and imdb_test.parquet."""
    folder = tmp_path_factory.mktemp("imdb")
    train = reviews(320, seed=0)
    held = validation_rows(train["label"].to_numpy(), 0.2, seed=0)
    train.loc[held, "text"] = train.loc[held, "text"] + " heldout heldout heldout heldout"
    train.to_parquet(folder / "imdb_train.parquet")
    reviews(160, seed=1).to_parquet(folder / "imdb_test.parquet")
    return folder


@pytest.fixture(scope="module")
def datamodule(data_dir) -> ImdbDataModule:
    dm = ImdbDataModule(
        data_dir=str(data_dir), vocab_size=VOCAB, max_length=160, batch_size=8, bucket_batches=5
    )
    dm.setup("fit")
    return dm


@pytest.fixture(scope="module")
def tokenizer(datamodule) -> WordTokenizer:
    return WordTokenizer.from_config(datamodule.preprocessing)


@pytest.fixture(scope="module")
def gru(tokenizer) -> ClassificationTask:
    return model("gru", tokenizer)


def words(text: str) -> list[str]:
    """What the tokenizer should see, written independently: lower case, no <br />, words only."""
    return re.findall(r"\w+(?:'\w+)*", re.sub(r"<br\s*/?>", " ", text.lower()))


def model(arch: str, tokenizer: WordTokenizer, seed: int = 0, **kwargs) -> ClassificationTask:
    torch.manual_seed(seed)
    arch_kwargs = {"vocab_size": tokenizer.vocab_size, "embedding_dim": 8, "hidden_size": 8}
    if arch.startswith("conv1d"):
        arch_kwargs.update(ARCH_KWARGS[arch])
        if arch == "conv1d":
            arch_kwargs.pop("hidden_size")
    return ClassificationTask(
        arch=arch, arch_kwargs=arch_kwargs, preprocessing=tokenizer.to_config(), **kwargs
    )


# -- the tokenizer -----------------------------------------------------------------------------------
def test_vocabulary_is_fitted_on_the_training_reviews_only(datamodule, tokenizer):
    assert (len(datamodule.frames["train"]), len(datamodule.frames["val"])) == (256, 64)
    counts = Counter(w for text in datamodule.frames["train"]["text"] for w in words(text))
    vocab = json.loads(tokenizer.tokenizer)["model"]["vocab"]
    assert set(vocab) == {"[PAD]", "[UNK]", *counts} and (vocab["[PAD]"], vocab["[UNK]"]) == (0, 1)
    assert "heldout" not in vocab  # the most frequent word of train + validation, in validation rows only
    assert tokenizer.vocab_size == VOCAB and (tokenizer.max_length, tokenizer.truncation_side) == (
        160,
        "left",
    )


def test_vocabulary_keeps_the_most_frequent_words(datamodule):
    texts = datamodule.frames["train"]["text"].tolist()
    counts = Counter(w for text in texts for w in words(text))
    small = fit_word_tokenizer(texts, 30)
    vocab = json.loads(small.tokenizer)["model"]["vocab"]
    assert sorted(vocab, key=vocab.get) == [
        "[PAD]",
        "[UNK]",
        *sorted(counts, key=lambda w: (-counts[w], w))[:28],
    ]
    assert small.tokenizer == fit_word_tokenizer(list(reversed(texts)), 30).tokenizer  # order-independent
    ties = json.loads(fit_word_tokenizer(["d b a", "a b c"], 5).tokenizer)["model"]["vocab"]
    assert sorted(ties, key=ties.get) == ["[PAD]", "[UNK]", "a", "b", "c"]  # equal counts: alphabetical


def test_lower_case_markup_punctuation_and_unknown_words(tokenizer):
    vocab = json.loads(tokenizer.tokenizer)["model"]["vocab"]
    ids = tokenizer.ids(["GREAT<br />w0, w1... Qwertyuiop!", "<br/><BR />Loved"])
    assert ids == [[vocab["great"], vocab["w0"], vocab["w1"], 1], [vocab["loved"]]]


def test_typographic_apostrophes_read_as_the_ascii_one_in_fitting_and_in_predict():
    """Phones write "don’t": read as "don" and "t", it flipped lstm.imdb's answer (0.575 to 0.495)."""
    fitted = fit_word_tokenizer(["I don’t like it", "don´t", "don't"], vocab_size=10)
    vocab = json.loads(fitted.tokenizer)["model"]["vocab"]
    assert "don't" in vocab and "don" not in vocab and "t" not in vocab
    model = seqzoo.predictor("lstm.imdb")
    answers = model.predict(["I don't like it", "I don’t like it", "I don´t like it", "I ‘don’t’ like it"])
    assert len(set(answers.tolist())) == 1


def test_the_json_alone_gives_the_same_ids(tokenizer, tmp_path):
    """tokenizer.json is a plain Hugging Face tokenizers file: the library reproduces the ids."""
    (tmp_path / "tokenizer.json").write_text(tokenizer.tokenizer)
    plain = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    text = " ".join(["great"] * 170 + ["awful"])  # longer than max_length 160: truncation is in the file
    assert plain.encode(text, add_special_tokens=False).ids == tokenizer.ids([text])[0]


@pytest.mark.parametrize("side,kept", [("left", "c d e f g"), ("right", "a b c d e")])
def test_truncation_side(side, kept):
    text = "a b c d e f g"
    tok = fit_word_tokenizer([text], vocab_size=9, max_length=5, truncation_side=side)
    assert tok.ids([text])[0] == tok.ids([kept])[0] and len(tok.ids([kept])[0]) == 5


def test_a_review_of_unknown_words_only_is_refused_with_word_pairs_too():
    """Pairs are looked up among known words only, so unknown words add none to count as known."""
    tokenizer = fit_word_tokenizer(["not good at all", "a good film", "not good"], vocab_size=6, bigrams=2)
    assert tokenizer.bigrams == 2 and tokenizer.ids(["zzz yyy"]) == [[1, 1]]
    with pytest.raises(InputError, match=r"^reviews \[1\] have no known words .* vocabulary of 8 tokens\)$"):
        tokenizer.encode(["not good", "zzz yyy"])
    ids, lengths = tokenizer.encode(["zzz good"])  # one known word is enough
    assert lengths.tolist() == [2]


def test_the_bundled_fasttext_refuses_a_review_in_a_language_it_cannot_read():
    """It answered "素晴らしい映画" (a Japanese "wonderful film") with a confident 4e-6."""
    fasttext = seqzoo.predictor("fasttext.imdb")
    with pytest.raises(InputError, match=r"^reviews \[0\] have no known words"):
        fasttext.predict(["素晴らしい映画", "Ein großartiger Film, absolut sehenswert!"])
    assert fasttext.predict(["Ein großartiger Film, absolut sehenswert!"]).shape == (1,)  # "film" is known


@pytest.mark.parametrize("kwargs,match", [
    ({"val_fraction": "0.2"}, r"^val_fraction must be a number between 0 and 1 \(exclusive\), got '0.2'$"),
    ({"val_fraction": 1.0}, r"^val_fraction must be a number between 0 and 1"),
    ({"vocab_size": 2}, r"^vocab_size must be an integer >= 3, got 2$"),
    ({"max_length": 0}, r"^max_length must be an integer >= 1, got 0$"),
    ({"truncation_side": "middle"}, r"^truncation_side must be one of \('left', 'right'\), got 'middle'$"),
    ({"batch_size": 0}, r"^batch_size must be an integer >= 1, got 0$"),
    ({"split_seed": -1}, r"^split_seed must be an integer >= 0, got -1$"),
])  # fmt: skip
def test_bad_constructor_arguments_are_data_errors_naming_them(data_dir, kwargs, match):
    with pytest.raises(DataError, match=match):
        ImdbDataModule(data_dir=str(data_dir), **kwargs)


def test_fit_rejects_bad_settings():
    for bad in ({"vocab_size": 2}, {"max_length": 0}, {"truncation_side": "middle"}):
        with pytest.raises(ValueError, match="expected vocab_size >= 3"):
            fit_word_tokenizer(["a b"], **{"vocab_size": 10, **bad})


def test_a_classifier_with_another_number_of_classes_than_the_data_is_refused(data_dir, tokenizer):
    """IMDB has two classes: a 3-class head would otherwise train on its binary labels without a word."""
    data = ImdbDataModule(data_dir=str(data_dir), vocab_size=VOCAB, max_length=160, batch_size=8)
    with pytest.raises(SeqzooError, match="num_classes is 3, but the data has 2 classes"):
        quiet_trainer(1).fit(model("gru", tokenizer, num_classes=3), data)


# -- batches -----------------------------------------------------------------------------------------
def test_batches_are_padded_to_their_own_length(datamodule, tokenizer):
    texts = datamodule.frames["train"]["text"].tolist()
    ids = tokenizer.ids(texts)
    widths = set()
    for x, lengths, y in datamodule.train_dataloader():
        longest = int(lengths.max())
        assert x.shape[1] == min(-(-longest // 32) * 32, 160)  # rounded up to 32, at most max_length
        widths.add(x.shape[1])
        assert ((x != 0).sum(1) == lengths).all()  # ids up to the length, zeros after
        assert x.dtype == torch.long and y.dtype == torch.long
    assert widths == {32, 64, 96, 128, 160}  # buckets: short batches stay short
    dataset = datamodule.dataset("train")
    x, lengths, _ = dataset.__getitems__([3, 7])
    assert x[0, : lengths[0]].tolist() == ids[3] and x[1, : lengths[1]].tolist() == ids[7]


def test_pad_batch_caps_and_rounds():
    seqs = [torch.tensor([5, 6, 7]), torch.tensor([8])]
    ids, lengths = pad_batch(seqs, multiple=4, cap=None)
    assert ids.tolist() == [[5, 6, 7, 0], [8, 0, 0, 0]] and lengths.tolist() == [3, 1]
    assert pad_batch(seqs, multiple=32, cap=5)[0].shape == (2, 5)


def test_buckets_are_deterministic_and_cover_every_review_once():
    lengths = torch.from_numpy(np.random.default_rng(0).integers(1, 500, 1003))
    sampler = LengthBucketSampler(lengths, batch_size=10, bucket_batches=20, shuffle=True, seed=3)
    first = [b.tolist() for b in sampler.batches()]
    again = [b.tolist() for b in LengthBucketSampler(lengths, 10, 20, True, 3).batches()]
    assert first == again
    assert sorted(i for b in first for i in b) == list(range(1003))
    assert [len(b) for b in first] == [10] * 100 + [3]  # the short batch last keeps BatchSampler aligned
    assert list(sampler) == [i for b in first for i in b]
    sampler.set_epoch(1)
    assert [b.tolist() for b in sampler.batches()] != first


def test_buckets_cut_padding_and_plain_shuffling_does_not():
    lengths = torch.from_numpy(np.random.default_rng(0).integers(1, 500, 4000))

    def padded(bucket_batches: int) -> int:
        batches = LengthBucketSampler(lengths, 32, bucket_batches, shuffle=True).batches()
        return sum(len(b) * -(-int(lengths[b].max()) // 32) * 32 for b in batches)

    assert padded(100) < 0.65 * padded(1)  # measured: 0.54 of the plain shuffle's padded tokens
    evaluation = LengthBucketSampler(lengths, 32, None, shuffle=False).batches()
    assert np.all(np.diff(lengths[np.concatenate(evaluation)].numpy()) >= 0)  # evaluation: sorted


def test_the_same_settings_give_the_same_batches(data_dir, datamodule):
    other = ImdbDataModule(
        data_dir=str(data_dir), vocab_size=VOCAB, max_length=160, batch_size=8, bucket_batches=5
    )
    other.setup("fit")
    for a, b in zip(datamodule.train_dataloader(), other.train_dataloader(), strict=True):
        assert all(torch.equal(s, t) for s, t in zip(a, b, strict=True))


def test_predict_loader_keeps_the_file_order(data_dir, datamodule):
    datamodule.setup("predict")
    labels = torch.cat([y for _, _, y in datamodule.predict_dataloader()])
    assert labels.tolist() == pd.read_parquet(data_dir / "imdb_test.parquet")["label"].tolist()


# -- models: padding never changes a prediction, and they learn --------------------------------------
@pytest.mark.parametrize("arch", ARCHS)
def test_padding_never_changes_a_prediction(arch, tokenizer, datamodule):
    task = model(arch, tokenizer).eval()
    texts = datamodule.frames["val"]["text"].tolist()[:12]
    together = task.predict(texts)
    alone = np.concatenate([task.predict([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-6)
    ids, lengths = task.preprocessor.encode(texts)
    wider = torch.nn.functional.pad(ids, (0, 100))  # 100 more padding positions
    with torch.inference_mode():
        np.testing.assert_allclose(task.forward_for_predict(wider, lengths).numpy(), together, atol=1e-6)


def test_a_model_learns_and_lightning_sets_the_epoch(datamodule, tokenizer):
    task = model("conv1d", tokenizer, lr=0.01)  # keyword detection: a few epochs of 32 batches suffice
    trainer = quiet_trainer(3)
    trainer.fit(task, datamodule=datamodule)
    assert trainer.train_dataloader.sampler.epoch == 2  # a new seeded order every epoch
    (result,) = trainer.validate(task, datamodule=datamodule, verbose=False)
    assert result["val_accuracy"] > 0.9, result
    positive, negative = task.predict(["Great, wonderful and superb.", "Boring. A waste; hated it."])
    assert positive > 0.5 > negative


def test_vocabulary_sizes_must_agree_when_training(datamodule):
    task = ClassificationTask(
        arch="gru", arch_kwargs={"vocab_size": 100, "embedding_dim": 4, "hidden_size": 4}
    )
    with pytest.raises(SeqzooError, match=r"vocabulary has 70 tokens but the model's embedding has 100 rows"):
        quiet_trainer(1).fit(task, datamodule=datamodule)


def test_an_artifact_load_would_refuse_is_never_written(tokenizer, tmp_path):
    """A model built with a tokenizer of another size used to be saved, and only `load` said no."""
    task = ClassificationTask(
        arch="gru",
        arch_kwargs={"vocab_size": 100, "embedding_dim": 4, "hidden_size": 4},
        preprocessing=tokenizer.to_config(),
    )
    with pytest.raises(
        ArtifactError, match="refusing to save: the tokenizer has 70 tokens but the embedding has 100 rows"
    ):
        task.save_pretrained(tmp_path / "mismatched")
    assert not (tmp_path / "mismatched").exists()


# -- predict -----------------------------------------------------------------------------------------
def test_predict_returns_positive_probabilities(tokenizer):
    out = model("lstm", tokenizer).predict(["A wonderful film.", "Two boring hours I will never get back."])
    assert isinstance(out, np.ndarray) and out.shape == (2,) and out.dtype == np.float32
    assert ((out > 0) & (out < 1)).all()


@pytest.mark.parametrize(
    "raw,match",
    [
        ([], "at least one review"),
        ([""], "review 0 is empty"),
        (["fine", "  \n"], "review 1 is empty"),
        (["fine", None], "review 1 is NoneType"),
        ([b"bytes"], "review 0 is bytes"),
        ([3], "review 0 is int"),
        ("A wonderful film.", "got one string"),
        (np.array([["a", "b"]]), r"array of shape \(1, 2\)"),
        ({"text": "x"}, "got dict"),
        (["...!!! <br />"], r"reviews \[0\] have no words"),
        (
            ["A wonderful film.", "Ein großartiger Streifen", "素晴らしい"],
            r"^reviews \[1, 2\] have no known words",
        ),
        (["ok \ud800"], "not valid Unicode"),
    ],
)
def test_bad_predict_input_is_an_input_error(tokenizer, raw, match):
    with pytest.raises(InputError, match=match):
        model("gru", tokenizer).predict(raw)


@settings(max_examples=100, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    raw=st.lists(st.text(max_size=40), max_size=4)
    | st.lists(st.none() | st.integers() | st.binary(max_size=3) | st.text(max_size=3), max_size=3)
    | st.text(max_size=5)
    | st.none()
)
def test_any_input_gives_probabilities_or_an_input_error(gru, raw):
    try:
        out = gru.predict(raw)
    except InputError as err:
        assert str(err)
        return
    assert isinstance(raw, list) and raw and all(isinstance(t, str) and t.strip() for t in raw), raw
    assert out.shape == (len(raw),) and ((out >= 0) & (out <= 1)).all()


# -- artifacts ---------------------------------------------------------------------------------------
def test_artifact_writes_tokenizer_json_and_reads_it_back(tokenizer, tmp_path):
    task = model("bilstm", tokenizer)
    folder = task.save_pretrained(tmp_path / "art")
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
        "tokenizer.json",
    ]
    config = json.loads((folder / "config.json").read_text())
    assert config["preprocessing"] == {"kind": "word_tokenizer", "tokenizer": "tokenizer.json"}
    assert (folder / "tokenizer.json").read_text() == tokenizer.tokenizer
    loaded = seqzoo.load(folder)
    assert loaded.preprocessing == task.preprocessing
    texts = ["Superb, loved it", "boring w1 w2 w3 " * 30]
    assert np.array_equal(loaded.predict(texts), task.predict(texts))


def test_float16_storage_halves_the_file_and_upcasts_on_load(tokenizer, tmp_path):
    task = model("conv1d", tokenizer)
    full = task.save_pretrained(tmp_path / "f32")
    half = task.save_pretrained(tmp_path / "f16", weights_dtype="float16")
    with safe_open(str(half / "model.safetensors"), framework="pt") as f:
        assert f.metadata()["seqzoo_weights_dtype"] == "float16"
        assert {t.dtype for t in f.get_tensors().values()} == {torch.float16}
    size = (half / "model.safetensors").stat().st_size
    assert size < 0.6 * (full / "model.safetensors").stat().st_size
    loaded = seqzoo.load(half)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    round_to_storage(task, "float16")  # what export does before measuring the card's metrics
    texts = ["Great film", "awful w0 w1 w2"]
    assert np.array_equal(loaded.predict(texts), task.predict(texts))
    assert torch.equal(loaded.net.embedding.weight, task.net.embedding.weight)


def test_float16_storage_refuses_weights_out_of_its_range(tokenizer, tmp_path):
    task = model("gru", tokenizer)
    task.net.head.bias.data.fill_(1e6)
    with pytest.raises(ArtifactError, match=r"float16: \['net\.head\.bias'\] exceed its range"):
        task.save_pretrained(tmp_path / "big", weights_dtype="float16")


def test_an_unknown_storage_dtype_in_the_metadata_is_an_error(tokenizer, tmp_path):
    folder = model("gru", tokenizer).save_pretrained(tmp_path / "art", weights_dtype="float16")
    weights = folder / "model.safetensors"
    with safe_open(str(weights), framework="pt") as f:
        tensors, metadata = f.get_tensors(), f.metadata()
    save_file(tensors, str(weights), metadata={**metadata, "seqzoo_weights_dtype": "bfloat16"})
    with pytest.raises(ArtifactError, match=r"model\.safetensors: metadata seqzoo_weights_dtype='bfloat16'"):
        seqzoo.load(folder)


def other_tokenizer_file(vocab: int, **edits) -> str:
    config = json.loads(fit_word_tokenizer([" ".join(f"x{i}" for i in range(vocab))], vocab).tokenizer)
    for path, value in edits.items():
        *parents, last = path.split(".")
        node = config
        for key in parents:
            node = node[key]
        node[last] = value
    return json.dumps(config)


@pytest.mark.parametrize(
    "content,match",
    [
        (None, r"tokenizer\.json: missing"),
        ("{not json", r"tokenizer\.json: corrupt or not a seqzoo tokenizer"),
        (b"\xff\xfe\x00", r"tokenizer\.json: not UTF-8"),
        (other_tokenizer_file(VOCAB, **{"model.unk_token": "[PAD]"}), r"tokenizer\.json: corrupt.*\[UNK\]"),
        (other_tokenizer_file(VOCAB, truncation=None), r"tokenizer\.json: corrupt.*truncation"),
        (
            other_tokenizer_file(30),
            r"tokenizer\.json: its vocabulary has 30 tokens but the model's embedding",
        ),
    ],
    ids=["missing", "not json", "not text", "no unk", "no truncation", "vocabulary size"],
)
def test_a_broken_tokenizer_json_is_an_artifact_error(tokenizer, tmp_path, content, match):
    folder = model("gru", tokenizer).save_pretrained(tmp_path / "art")
    path = folder / "tokenizer.json"
    if content is None:
        path.unlink()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ArtifactError, match=match):
        seqzoo.load(folder)


def test_config_may_only_name_the_tokenizer_file(tokenizer, tmp_path):
    folder = model("gru", tokenizer).save_pretrained(tmp_path / "art")
    config = json.loads((folder / "config.json").read_text())
    config["preprocessing"]["tokenizer"] = "../elsewhere.json"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        ArtifactError, match=r"config\.json: preprocessing\.tokenizer must be 'tokenizer\.json'"
    ):
        seqzoo.load(folder)


def test_fit_export_float16_and_predict_through_the_cli(data_dir, tmp_path):
    """The real commands: `seqzoo fit` on the small files, `seqzoo export --weights-dtype float16`."""
    arch = {"vocab_size": VOCAB, "embedding_dim": 8, "hidden_size": 8}
    run_seqzoo(
        "fit", "--config", "recipes/imdb/gru.yaml", "--trainer.max_epochs", "1",
        "--trainer.logger.init_args.save_dir", str(tmp_path), "--trainer.logger.init_args.version", "t",
        "--model.init_args.arch_kwargs", json.dumps(arch), "--data.init_args.data_dir", str(data_dir),
        "--data.init_args.vocab_size", str(VOCAB), "--data.init_args.batch_size", "16",
    )  # fmt: skip
    ckpt = tmp_path / "gru.imdb" / "t" / "checkpoints" / "best.ckpt"
    run_seqzoo("export", str(ckpt), str(tmp_path / "out"), "--weights-dtype", "float16")
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["provenance"]["data"]["name"] == "stanfordnlp/imdb"
    assert set(config["provenance"]["data"]["files"]) == {"imdb_train.parquet", "imdb_test.parquet"}
    with safe_open(tmp_path / "out" / "model.safetensors", framework="pt") as weights:
        assert weights.metadata()["seqzoo_weights_dtype"] == "float16"
        assert {weights.get_slice(k).get_dtype() for k in weights.keys()} == {"F16"}  # noqa: SIM118 (not iterable)
    test = pd.read_parquet(data_dir / "imdb_test.parquet")
    probabilities = seqzoo.load(tmp_path / "out").predict(list(test["text"]))
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    accuracy = float(((probabilities > 0.5) == test["label"].to_numpy()).mean())
    # the card's number is the loaded float16 model's: one review at most may sit on the 0.5 boundary
    assert config["metrics"]["test_accuracy"] == pytest.approx(accuracy, abs=1 / len(test) + 1e-9)


# -- data files and sources --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "frame,match",
    [
        (pd.DataFrame({"review": ["x"], "label": [1]}), "expected columns 'text' and 'label'"),
        (pd.DataFrame({"text": ["x", "y"], "label": [1, 2]}), "expected labels 0 .* or 1"),
        (pd.DataFrame({"text": ["x", "  "], "label": [1, 0]}), r"rows \[1\] have no review text"),
    ],
)
def test_bad_files_are_data_errors_naming_the_file(tmp_path, frame, match):
    path = tmp_path / "reviews.parquet"
    frame.to_parquet(path)
    with pytest.raises(DataError, match=f"reviews.parquet: {match}"):
        read_reviews(path)
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match="broken.parquet: not a readable parquet file"):
        read_reviews(tmp_path / "broken.parquet")


def test_explicit_paths_win_over_data_dir(data_dir, tmp_path):
    dm = ImdbDataModule(
        data_dir=str(tmp_path), train_path=str(data_dir / "imdb_train.parquet"), test_path="none.parquet"
    )
    assert dm.path("train") == data_dir / "imdb_train.parquet" and dm.path("test") == Path("none.parquet")
    with pytest.raises(DataError, match="none.parquet: IMDB file not found"):
        dm.setup("test")


def test_without_a_path_it_reads_the_hub_dataset_and_says_so_offline(tmp_path):
    """The online path, run as a real process with the Hub offline: a DataError saying what to pass."""
    code = "from seqzoo.data import ImdbDataModule\nImdbDataModule(vocab_size=50).setup('fit')"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    assert proc.returncode != 0
    assert "DataError: cannot load the Hugging Face dataset 'stanfordnlp/imdb'" in proc.stderr, proc.stderr[
        -2000:
    ]
    assert "pass data_dir" in proc.stderr


def test_validation_is_stratified_and_seeded():
    labels = np.repeat([0, 1], [600, 400])
    held = validation_rows(labels, 0.2, seed=5)
    assert (held[labels == 0].sum(), held[labels == 1].sum()) == (120, 80)
    assert np.array_equal(held, validation_rows(labels, 0.2, seed=5))
    assert not np.array_equal(held, validation_rows(labels, 0.2, seed=6))


# -- recipes and the real data -----------------------------------------------------------------------
IMDB_RECIPES = sorted((ROOT / "recipes" / "imdb").glob("*.yaml"))


def test_there_is_a_recipe_per_architecture():
    assert sorted(p.stem for p in IMDB_RECIPES) == sorted([*ARCHS, "fasttext"])  # fasttext: test_bigrams.py


@pytest.mark.parametrize("recipe", IMDB_RECIPES, ids=lambda p: p.stem)
def test_recipe_artifact_stays_under_5_mb_as_float16(recipe, tmp_path):
    """The recipe's model with a tokenizer of its vocabulary size and word pairs (words as long as
    English ones; every pair in the text once, in reviews as long as the recipe reads)."""
    config = yaml.safe_load(recipe.read_text())
    data = config["data"]["init_args"]
    size, pairs, cut = data["vocab_size"], data.get("bigrams", 0), data["max_length"]
    assert config["model"]["init_args"]["arch_kwargs"]["vocab_size"] == size + pairs
    rng = np.random.default_rng(0)
    fake_words = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), 9)) for _ in range(size)]
    texts = [" ".join(fake_words)]
    while len(texts) * (cut - 1) < pairs + size:  # more distinct pairs than the recipe keeps
        shuffled = list(rng.permutation(fake_words))
        texts += [" ".join(shuffled[i : i + cut]) for i in range(0, size, cut)]
    tok = fit_word_tokenizer(texts, size, cut, bigrams=pairs)
    assert tok.vocab_size == size + pairs
    task = ClassificationTask(**{**config["model"]["init_args"], "preprocessing": tok.to_config()})
    folder = task.save_pretrained(tmp_path / recipe.stem, weights_dtype="float16")
    total = sum(p.stat().st_size for p in folder.iterdir())
    assert total < 5_000_000, f"{recipe.name}: {total:,} bytes"


def test_the_real_files_hold_the_original_split():
    data = require_shared_data()
    for split in ("train", "test"):
        frame = read_reviews(data / f"imdb_{split}.parquet")
        assert len(frame) == 25_000 and frame["label"].value_counts().to_dict() == {0: 12_500, 1: 12_500}
    train = read_reviews(data / "imdb_train.parquet")
    held = validation_rows(train["label"].to_numpy(), 0.2, seed=0)
    assert held.sum() == 5_000 and train.loc[held, "label"].sum() == 2_500
