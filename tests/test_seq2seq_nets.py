"""Seq2seq networks: teacher forcing, greedy decoding, and learning a tiny task to 100 % exact match."""

from __future__ import annotations

import pytest
import torch

import seqzoo

VOCAB, START, LENGTH = 8, 1, 4


def tiny_reverse_task(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Source: 4 digits from {2..7}; target: start token + the digits reversed."""
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(2, VOCAB, (n, LENGTH), generator=gen)
    tgt = torch.cat([torch.full((n, 1), START), src.flip(1)], dim=1)
    return src, tgt


@pytest.mark.parametrize("name", ["seq2seq_peeky", "seq2seq_attention"])
def test_learns_to_reverse_digits_to_full_exact_match(name):
    torch.manual_seed(0)
    model = seqzoo.create_model(name, vocab_size=VOCAB, embedding_dim=16, hidden_size=64)
    src, tgt = tiny_reverse_task(2048, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=0.005)
    epochs, batch = 8, 32
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, 0.005, total_steps=epochs * len(src) // batch)
    for _epoch in range(epochs):
        for i in range(0, len(src), batch):
            logits = model(src[i : i + batch], tgt[i : i + batch, :-1])
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), tgt[i : i + batch, 1:].flatten())
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
    test_src, test_tgt = tiny_reverse_task(500, seed=1)
    model.eval()
    decoded, weights = model.generate(test_src, START, LENGTH)
    assert (decoded == test_tgt[:, 1:]).all(1).float().mean().item() == 1.0
    if name == "seq2seq_attention":
        assert weights.shape == (500, LENGTH, LENGTH)
        torch.testing.assert_close(weights.sum(-1), torch.ones(500, LENGTH))
        # reversing: answer step t looks hardest at source step LENGTH - 1 - t
        assert (weights.mean(0).argmax(-1) == torch.arange(LENGTH - 1, -1, -1)).all()


def test_greedy_decoding_equals_teacher_forcing_on_its_own_predictions():
    torch.manual_seed(0)
    model = seqzoo.create_model("seq2seq_attention", vocab_size=VOCAB).eval()
    src, _ = tiny_reverse_task(16, seed=2)
    decoded, _ = model.generate(src, START, LENGTH)
    fed = torch.cat([torch.full((16, 1), START), decoded[:, :-1]], dim=1)
    assert torch.equal(model(src, fed).argmax(-1), decoded)


def test_teacher_forcing_ratio_zero_feeds_back_predictions():
    torch.manual_seed(0)
    model = seqzoo.create_model("seq2seq", vocab_size=VOCAB).eval()
    src, tgt = tiny_reverse_task(16, seed=3)
    free = model(src, tgt[:, :-1], teacher_forcing_ratio=0.0)
    decoded, _ = model.generate(src, START, LENGTH)
    assert torch.equal(free.argmax(-1), decoded)
    assert torch.equal(model(src, tgt[:, :-1], teacher_forcing_ratio=1.0), model(src, tgt[:, :-1]))


def test_a_bidirectional_encoder_lets_every_source_step_see_the_whole_question():
    torch.manual_seed(0)
    one_way = seqzoo.create_model("seq2seq_attention", vocab_size=VOCAB, hidden_size=16)
    both_ways = seqzoo.create_model(
        "seq2seq_attention", vocab_size=VOCAB, hidden_size=16, bidirectional_encoder=True
    )
    src = torch.randint(2, VOCAB, (3, LENGTH))
    changed = src.clone()
    changed[:, -1] = (changed[:, -1] - 1) % (VOCAB - 2) + 2  # another last token
    for net, sees_the_end in ((one_way, False), (both_ways, True)):
        first_step = net.encode(src).states[:, 0], net.encode(changed).states[:, 0]
        assert torch.equal(*first_step) is not sees_the_end
        assert net.encode(src).states.shape == (3, LENGTH, 16) and net.encode(src).last.shape == (3, 16)
    with pytest.raises(seqzoo.SeqzooError, match="splits hidden_size in two; got odd 15"):
        seqzoo.create_model("seq2seq_attention", hidden_size=15, bidirectional_encoder=True)


@pytest.mark.parametrize("name", ["seq2seq", "seq2seq_peeky", "seq2seq_attention"])
def test_every_embedding_must_match_the_datas_vocabulary(name):
    """Seq2seq nets keep their embeddings as src_embedding and tgt_embedding (no `embedding`): too few rows
    crash mid-training with an IndexError, too many mean the recipe and the data disagree."""
    from seqzoo.data.addition_codec import AdditionCodec
    from seqzoo.errors import SeqzooError
    from seqzoo.inference import vocabulary_mismatch
    from seqzoo.tasks import Seq2SeqTask

    codec = AdditionCodec().to_config()  # 13 characters
    assert vocabulary_mismatch(seqzoo.create_model(name, vocab_size=13), codec) is None
    assert vocabulary_mismatch(seqzoo.create_model(name, vocab_size=5), codec) == (13, 5)
    assert vocabulary_mismatch(seqzoo.create_model(name, vocab_size=20), codec) == (13, 20)
    task = Seq2SeqTask(arch=name, arch_kwargs={"vocab_size": 5, "hidden_size": 8})
    with pytest.raises(SeqzooError, match="vocabulary has 13 tokens but the model's embedding has 5 rows"):
        task.preprocessing = codec
