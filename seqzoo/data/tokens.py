"""Words -> ids for text classification, with a Hugging Face `tokenizers` word-level tokenizer.

The tokenizer lower-cases, removes `<br />` tags, keeps words (letters and digits, with inner
apostrophes: "don't") and drops punctuation; words outside the vocabulary become `[UNK]`, `[PAD]` is
id 0. It also holds the truncation (max length and side), so its JSON alone gives the exact ids a
model saw: the preprocessing carries that JSON, and an artifact stores it as `tokenizer.json`.

Optionally the vocabulary also holds word pairs ("not good"), after the words: a review's ids are
then its words' ids followed by the ids of the known pairs among its adjacent words, in order
(fastText's bag of bigrams, Joulin et al. 2016). The pre-tokenizer never emits a token with a space,
so the `tokenizers` library alone still gives the word ids; the pairs are looked up here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers
from torch import Tensor

from seqzoo.errors import InputError
from seqzoo.preprocessing import register_preprocessor

PAD, UNK = "[PAD]", "[UNK]"
WORD = r"\w+(?:'\w+)*"
PAD_MULTIPLE = 32  # oneDNN builds a convolution kernel per input shape: few widths, few rebuilds
TRUNCATION_SIDES = ("left", "right")


def pad_batch(sequences: Sequence[Tensor], multiple: int = PAD_MULTIPLE, cap: int | None = None):
    """Right-pad id sequences with 0 to the longest one rounded up to `multiple` (at most `cap`).

    Returns `(ids (batch, width) int64, lengths (batch,))`; models read `lengths`, so the padded
    width never changes a prediction, only the cost.
    """
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    longest = int(lengths.max()) if len(sequences) else 0
    width = -(-longest // multiple) * multiple
    width = max(longest, min(width, cap)) if cap is not None else width
    ids = torch.zeros(len(sequences), width, dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = seq
    return ids, lengths


def _parse(text: Any) -> Tokenizer:
    """A tokenizer JSON that is word-level, with [PAD] = 0, [UNK], truncation and no padding."""
    if not isinstance(text, str):
        raise ValueError(f"tokenizer must be the tokenizers JSON text, found {type(text).__name__}")
    try:
        tokenizer = Tokenizer.from_str(text)
    except Exception as err:  # the Rust library raises a bare Exception for every malformed file
        raise ValueError(f"not a Hugging Face tokenizers file ({err})") from err
    if not isinstance(tokenizer.model, models.WordLevel):
        raise ValueError(f"expected a WordLevel model, found {type(tokenizer.model).__name__}")
    if (
        tokenizer.token_to_id(PAD) != 0
        or tokenizer.model.unk_token != UNK
        or tokenizer.token_to_id(UNK) is None
    ):
        raise ValueError(f"expected {PAD} with id 0 and {UNK} as the unknown token")
    truncation = tokenizer.truncation
    if truncation is None or truncation["max_length"] < 1 or truncation["direction"] not in TRUNCATION_SIDES:
        raise ValueError(f"expected truncation to a max_length >= 1 on one side, found {truncation}")
    if tokenizer.padding is not None:
        raise ValueError("expected no padding in the tokenizer (batches are padded to their own length)")
    return tokenizer


def _pair_keys(seq: np.ndarray, size: int) -> np.ndarray:
    """One integer per adjacent pair of ids, `first * size + second`: how pairs are counted and looked up."""
    return seq[:-1] * size + seq[1:]


def _bigram_table(tokenizer: Tokenizer) -> tuple[np.ndarray, np.ndarray, int]:
    """The vocabulary's word pairs as sorted keys `first_id * size + second_id`, their ids, and `size`."""
    vocab = tokenizer.get_vocab()
    keys, ids = [], []
    for token, token_id in vocab.items():
        if " " not in token:
            continue
        words = token.split(" ")
        if len(words) != 2 or not all(w in vocab and " " not in w and w not in (PAD, UNK) for w in words):
            raise ValueError(f"vocabulary entry {token!r} is not a pair of two known words")
        keys.append(vocab[words[0]] * len(vocab) + vocab[words[1]])  # as _pair_keys writes it
        ids.append(token_id)
    keys_array = np.asarray(keys, np.int64)
    order = np.argsort(keys_array, kind="stable")
    return keys_array[order], np.asarray(ids, np.int64)[order], len(vocab)


def _with_bigrams(words: list[int], table: tuple[np.ndarray, np.ndarray, int]) -> list[int]:
    """`words` followed by the ids of the known pairs among adjacent words, in order."""
    keys, pair_ids, size = table
    if len(keys) == 0 or len(words) < 2:
        return words
    wanted = _pair_keys(np.asarray(words, np.int64), size)
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return words + pair_ids[at[keys[at] == wanted]].tolist()


@register_preprocessor
@dataclass
class WordTokenizer:
    """Raw review strings -> right-padded word ids and lengths; model output -> class probabilities."""

    kind: ClassVar[str] = "word_tokenizer"
    tokenizer: str = field(repr=False)  # the tokenizers JSON; `tokenizer.json` in an artifact folder
    _parsed: Tokenizer = field(init=False, repr=False, compare=False)
    _bigrams: tuple[np.ndarray, np.ndarray, int] = field(init=False, repr=False, compare=False)
    _unk: int = field(init=False, repr=False, compare=False)
    # Ensemble members may differ in vocabulary: each reads the same raw strings with its own tokenizer.
    protocol: ClassVar[tuple[str, ...]] = ()
    usage: ClassVar[str] = (
        'print(model.predict(["A wonderful film.", "Two hours I will never get back."]))  # P(positive)'
    )

    def __post_init__(self) -> None:
        self._parsed = _parse(self.tokenizer)
        self._bigrams = _bigram_table(self._parsed)  # refuses pairs of unknown words
        self._unk = self._parsed.token_to_id(UNK)

    def to_config(self) -> dict[str, Any]:
        return {"kind": self.kind, "tokenizer": self.tokenizer}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> WordTokenizer:
        unknown = set(config) - {"kind", "tokenizer"}
        if unknown:
            raise ValueError(f"unexpected keys {sorted(unknown)}")
        return cls(tokenizer=config["tokenizer"])

    @property
    def vocab_size(self) -> int:
        return self._parsed.get_vocab_size()

    @property
    def max_length(self) -> int:
        """Words read at most; see `max_ids` for the longest id sequence."""
        return self._parsed.truncation["max_length"]

    @property
    def bigrams(self) -> int:
        """How many word pairs the vocabulary holds (0: ids are words only)."""
        return len(self._bigrams[0])

    @property
    def max_ids(self) -> int:
        """The longest id sequence: `max_length` words and, with bigrams, up to one pair fewer."""
        return self.max_length + (self.max_length - 1 if self.bigrams else 0)

    @property
    def truncation_side(self) -> str:
        """`left` keeps a long text's end (as Keras's `pad_sequences`), `right` its beginning."""
        return self._parsed.truncation["direction"]

    def ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text: its first or last `max_length` words, then their known pairs."""
        plain = [plain_apostrophes(text) for text in texts]  # a few ms for IMDB's 25,000 reviews
        return self.ids_of_words(_word_ids(self._parsed, plain))

    def ids_of_words(self, words: list[list[int]]) -> list[list[int]]:
        """`ids` from the texts' word ids (word pairs never change how words are read)."""
        return [_with_bigrams(seq, self._bigrams) for seq in words] if self.bigrams else words

    def texts(self, raw: Any) -> list[str]:
        """Check `predict`'s input: a non-empty list of non-empty strings."""
        if isinstance(raw, str):
            raise InputError('expected a list of review strings, got one string; wrap it: ["..."]')
        if isinstance(raw, np.ndarray) and raw.ndim != 1:
            raise InputError(f"expected a list of review strings, got an array of shape {raw.shape}")
        if not isinstance(raw, list | tuple | np.ndarray):
            raise InputError(f"expected a list of review strings, got {type(raw).__name__}")
        if len(raw) == 0:
            raise InputError("expected at least one review, got an empty list")
        for i, text in enumerate(raw):
            if not isinstance(text, str):
                raise InputError(f"review {i} is {type(text).__name__}, expected a string")
            if not text.strip():
                raise InputError(f"review {i} is empty; expected text with at least one word")
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as err:
                raise InputError(f"review {i} is not valid Unicode text ({err.reason})") from err
        return [str(text) for text in raw]

    def encode(self, raw: Any) -> tuple[Tensor, Tensor]:
        ids = self.ids(self.texts(raw))
        wordless = [i for i, seq in enumerate(ids) if not seq]
        if wordless:
            raise InputError(f"reviews {wordless[:5]} have no words (only punctuation or markup)")
        # All [UNK]: the model would answer from the review's length alone. Word pairs are never [UNK],
        # but a review of unknown words has no known pair either, so this holds with bigrams too.
        unknown = [i for i, seq in enumerate(ids) if seq.count(self._unk) == len(seq)]
        if unknown:
            raise InputError(
                f"reviews {unknown[:5]} have no known words (every word read is outside the model's "
                f"vocabulary of {self.vocab_size} tokens)"
            )
        return pad_batch([torch.tensor(seq) for seq in ids], cap=self.max_ids)

    def decode(self, output: Tensor) -> np.ndarray:
        return output.numpy()

    def describe(self) -> str:
        pairs = f" ({self.bigrams} of them word pairs)" if self.bigrams else ""
        cut = f"{self.max_length} words at most, cut on the {self.truncation_side}"
        return f"{self.vocab_size} tokens{pairs}, {cut}"


def plain_apostrophes(text: str) -> str:
    """Typographic apostrophes (’, ‘ and ´, as phones and word processors write "don’t") as the ASCII
    one, which `WORD` keeps inside a word: "don’t" would otherwise read as "don" and "t". Done here,
    not in tokenizer.json, so that checkpoints fitted before read reviews the same way."""
    return text.replace("’", "'").replace("‘", "'").replace("´", "'")


def _word_ids(tokenizer: Tokenizer, texts: list[str]) -> list[list[int]]:
    """Word ids of texts whose apostrophes are already plain (`plain_apostrophes`)."""
    return [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]


def fit_word_tokenizer(
    texts: Iterable[str],
    vocab_size: int,
    max_length: int = 500,
    truncation_side: str = "left",
    bigrams: int = 0,
) -> WordTokenizer:
    """Fit the vocabulary on `texts`: [PAD], [UNK], the `vocab_size - 2` most frequent words, then
    the `bigrams` most frequent pairs of adjacent known words within the `max_length` words read.

    Equal counts are ordered alphabetically by `tokenizers` (pairs: by their words' ids), so the same
    texts give the same file. The tokenizer's `vocab_size` is then `vocab_size + bigrams` at most.
    """
    return fit_and_read_words(texts, vocab_size, max_length, truncation_side, bigrams)[0]


def fit_and_read_words(
    texts: Iterable[str],
    vocab_size: int,
    max_length: int = 500,
    truncation_side: str = "left",
    bigrams: int = 0,
) -> tuple[WordTokenizer, list[list[int]] | None]:
    """`fit_word_tokenizer`, and the texts' word ids when counting pairs read them (None without
    bigrams): `WordTokenizer.ids_of_words` turns them into the texts' ids without tokenizing again,
    which takes seconds for IMDB's 20,000 training reviews."""
    if vocab_size < 3 or max_length < 1 or truncation_side not in TRUNCATION_SIDES or bigrams < 0:
        raise ValueError(
            f"expected vocab_size >= 3, max_length >= 1, truncation_side in {TRUNCATION_SIDES} and "
            f"bigrams >= 0; got {vocab_size}, {max_length}, {truncation_side!r}, {bigrams}"
        )
    texts = [plain_apostrophes(text) for text in texts]
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Lowercase(), normalizers.Replace(Regex(r"<br\s*/?>"), " ")]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(WORD), behavior="removed", invert=True)
    trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, special_tokens=[PAD, UNK], show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.enable_truncation(max_length, direction=truncation_side)
    words = _word_ids(tokenizer, texts) if bigrams else None
    if words is not None:
        _add_frequent_pairs(tokenizer, words, bigrams)
    return WordTokenizer(tokenizer.to_str()), words  # compact: indenting 85,000 entries would add 0.5 MB


def _add_frequent_pairs(tokenizer: Tokenizer, words: list[list[int]], count: int) -> None:
    """Append the `count` most frequent adjacent pairs of known words (not [UNK]) to the vocabulary."""
    vocab = tokenizer.get_vocab()
    size = len(vocab)
    keys = []
    for ids in words:
        seq = np.asarray(ids, np.int64)
        known = (seq[:-1] > 1) & (seq[1:] > 1)  # 0 is [PAD], 1 is [UNK]
        keys.append(_pair_keys(seq, size)[known])
    pairs, counts = np.unique(np.concatenate(keys), return_counts=True)
    top = pairs[np.lexsort((pairs, -counts))[:count]]  # most frequent first; ties by the words' ids
    names = {i: w for w, i in vocab.items()}
    for offset, key in enumerate(top.tolist()):
        vocab[f"{names[key // size]} {names[key % size]}"] = size + offset
    tokenizer.model = models.WordLevel(vocab, unk_token=UNK)
