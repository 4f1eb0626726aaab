"""Feature tokenizer: one ``d_token`` vector per input column."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class FeatureTokenizer(nn.Module):
    """Embed every numeric and categorical column as a token.

    Numeric column ``j`` becomes ``x_j * weight_j + bias_j``; a missing value
    (NaN) becomes a learned per-column ``missing_j`` token instead, so no
    imputation is needed. Categorical column ``j`` has its own embedding table
    whose index 0 stands for missing or unknown categories.

    Parameters
    ----------
    n_numeric : int
        Number of numeric columns.
    cardinalities : sequence of int
        Size of each categorical column's table, index 0 included.
    d_token : int
        Width of every token.

    Notes
    -----
    **Shape**: ``x_num`` is ``(batch_size, n_numeric)`` float32, ``x_cat`` is
    ``(batch_size, n_categorical)`` int64; the output is
    ``(batch_size, n_numeric + n_categorical, d_token)``, numeric tokens first.
    """

    def __init__(self, *, n_numeric: int, cardinalities: Sequence[int], d_token: int):
        super().__init__()
        self.n_numeric = n_numeric
        self.n_categorical = len(cardinalities)
        bound = 1.0 / math.sqrt(d_token)
        if n_numeric:
            self.num_weight = nn.Parameter(torch.empty(n_numeric, d_token))
            self.num_bias = nn.Parameter(torch.empty(n_numeric, d_token))
            self.num_missing = nn.Parameter(torch.empty(n_numeric, d_token))
            for p in (self.num_weight, self.num_bias, self.num_missing):
                nn.init.uniform_(p, -bound, bound)
        if self.n_categorical:
            offsets = torch.tensor([0, *cardinalities[:-1]]).cumsum(0)
            self.register_buffer("cat_offsets", offsets, persistent=False)
            self.cat_embedding = nn.Embedding(int(sum(cardinalities)), d_token)
            self.cat_bias = nn.Parameter(torch.empty(self.n_categorical, d_token))
            nn.init.uniform_(self.cat_embedding.weight, -bound, bound)
            nn.init.uniform_(self.cat_bias, -bound, bound)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        """Return the tokens, shape ``(batch_size, n_features, d_token)``."""
        tokens = []
        if self.n_numeric:
            missing = torch.isnan(x_num).unsqueeze(-1)
            value = x_num.masked_fill(missing.squeeze(-1), 0.0).unsqueeze(-1)
            num = torch.addcmul(self.num_bias, value, self.num_weight)
            tokens.append(torch.where(missing, self.num_missing, num))
        if self.n_categorical:
            cat = self.cat_embedding(x_cat + self.cat_offsets) + self.cat_bias
            tokens.append(cat)
        return tokens[0] if len(tokens) == 1 else torch.cat(tokens, dim=1)
