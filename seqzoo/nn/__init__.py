"""Plain torch modules (no Lightning); importing this package registers every architecture."""

from seqzoo.nn import bag, baselines, conv, recurrent, seq2seq
from seqzoo.nn.conv import ConvEncoder, ConvRecurrentEncoder
from seqzoo.nn.heads import SequenceNet
from seqzoo.nn.recurrent import RecurrentEncoder
from seqzoo.nn.seq2seq import Seq2Seq

__all__ = [
    "ConvEncoder",
    "ConvRecurrentEncoder",
    "RecurrentEncoder",
    "Seq2Seq",
    "SequenceNet",
    "bag",
    "baselines",
    "conv",
    "recurrent",
    "seq2seq",
]
