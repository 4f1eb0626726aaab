"""PyTorch modules of sk_tabattn: tokenizer, attention blocks, conv blocks, network."""

from .attention import ATTENTION_BLOCKS, AttentionBlock, register_attention
from .network import AttentionCNN
from .tokenizer import FeatureTokenizer

__all__ = [
    "ATTENTION_BLOCKS",
    "AttentionBlock",
    "AttentionCNN",
    "FeatureTokenizer",
    "register_attention",
]
