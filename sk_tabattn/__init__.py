"""sk_tabattn: attention + 1D-CNN networks for tables, as scikit-learn estimators."""

from ._validation import SkTabAttnWarning, TooFewSamplesWarning
from .classifier import AttentionCNNClassifier
from .encoding import TabularEncoder
from .nn import ATTENTION_BLOCKS, register_attention
from .regressor import AttentionCNNRegressor

__version__ = "0.1.0"

__all__ = [
    "ATTENTION_BLOCKS",
    "AttentionCNNClassifier",
    "AttentionCNNRegressor",
    "SkTabAttnWarning",
    "TabularEncoder",
    "TooFewSamplesWarning",
    "__version__",
    "register_attention",
]
