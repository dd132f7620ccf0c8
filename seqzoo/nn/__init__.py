"""Plain torch modules (no Lightning); importing this package registers every architecture."""

from seqzoo.nn import baselines, recurrent
from seqzoo.nn.heads import SequenceNet
from seqzoo.nn.recurrent import RecurrentEncoder

__all__ = ["RecurrentEncoder", "SequenceNet", "baselines", "recurrent"]
