"""sk_tabattn: attention + 1D-CNN networks for tables, as scikit-learn estimators."""

from ._validation import SkTabAttnWarning, TooFewSamplesWarning
from .classifier import AttentionCNNClassifier
from .encoding import TabularEncoder
from .explain import AttentionMap, Explanation, explain
from .nn import ATTENTION_BLOCKS, register_attention
from .persistence import load, save
from .regressor import AttentionCNNRegressor

__version__ = "0.1.0"

__all__ = [
    "ATTENTION_BLOCKS",
    "AttentionMap",
    "AttentionCNNClassifier",
    "AttentionCNNRegressor",
    "Explanation",
    "SkTabAttnWarning",
    "TabularEncoder",
    "TooFewSamplesWarning",
    "__version__",
    "explain",
    "load",
    "register_attention",
    "save",
]
