"""Feature tokenizer: one ``d_token`` vector per input column."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class FeatureTokenizer(nn.Module):
    """Embed every numeric and categorical column as a token.

    With ``numeric_embedding="linear"``, numeric column ``j`` becomes ``x_j *
    weight_j + bias_j``. With ``"periodic"`` (the PLR embedding of Gorishniy
    et al., 2022, "On Embeddings for Numerical Features in Tabular Deep
    Learning"), it becomes ``ReLU(W_j [cos(2 pi c_j x_j), sin(2 pi c_j x_j)] +
    bias_j)`` with ``n_frequencies`` learned frequencies ``c_j`` per column,
    drawn from N(0, ``frequency_scale``²): a per-column non-linear map before
    any mixing of columns. Either way a missing value (NaN) becomes a learned
    per-column missing token, so no imputation is needed: the token of the
    column's ``numeric_fill`` value plus a learned ``num_missing_shift_j``
    that starts at zero. A column missing in few training rows thus reads
    missing values much as its typical value, rather than as a random token
    that few gradient steps reached. Categorical column ``j`` has its own
    embedding table whose index 0 stands for missing or unknown categories;
    an index that training never reached keeps its random initial value
    unless :meth:`neutralise_missing` or :meth:`neutralise_unseen_categories`
    replaces it.

    Parameters
    ----------
    n_numeric : int
        Number of numeric columns.
    cardinalities : sequence of int
        Size of each categorical column's table, index 0 included.
    d_token : int
        Width of every token.
    numeric_embedding : {"linear", "periodic"}, default="linear"
        How a numeric value becomes a token (see above).
    numeric_fill : sequence of float or None, default=None
        Each numeric column's typical encoded value (the estimators pass the
        median of the training rows), whose token a missing value starts
        from; None: 0.

    Notes
    -----
    **Shape**: ``x_num`` is ``(batch_size, n_numeric)`` float32, ``x_cat`` is
    ``(batch_size, n_categorical)`` int64; the output is
    ``(batch_size, n_numeric + n_categorical, d_token)``, numeric tokens first.
    """

    #: Frequencies per numeric column of the periodic embedding.
    n_frequencies = 16
    #: Standard deviation of the initial frequencies. The encoder's numeric
    #: columns have unit scale, so 0.1 starts with under one period across the
    #: bulk of the data (close to linear); training sharpens what pays.
    frequency_scale = 0.1

    cat_offsets: torch.Tensor
    num_fill: torch.Tensor
    #: The free missing token of models pickled before ``num_missing_shift``.
    num_missing: torch.Tensor

    def __init__(
        self,
        *,
        n_numeric: int,
        cardinalities: Sequence[int],
        d_token: int,
        numeric_embedding: str = "linear",
        numeric_fill: Sequence[float] | None = None,
    ):
        super().__init__()
        if numeric_embedding not in ("linear", "periodic"):
            raise ValueError(
                "numeric_embedding must be 'linear' or 'periodic'. "
                f"Got {numeric_embedding!r}."
            )
        self.n_numeric = n_numeric
        self.n_categorical = len(cardinalities)
        self.numeric_embedding = numeric_embedding
        bound = 1.0 / math.sqrt(d_token)
        if n_numeric:
            # linear: [F, D]; periodic: [F, 2K, D], a linear map per column.
            shape: tuple[int, ...] = (n_numeric, d_token)
            if numeric_embedding == "periodic":
                shape = (n_numeric, 2 * self.n_frequencies, d_token)
            self.num_weight = nn.Parameter(torch.empty(shape))
            self.num_bias = nn.Parameter(torch.empty(n_numeric, d_token))
            self.num_missing_shift = nn.Parameter(torch.zeros(n_numeric, d_token))
            fill = torch.zeros(n_numeric)
            if numeric_fill is not None:
                fill = torch.as_tensor(numeric_fill, dtype=torch.float32)
                if fill.shape != (n_numeric,):
                    raise ValueError(
                        f"numeric_fill must hold {n_numeric} values, one per "
                        f"numeric column. Got shape {tuple(fill.shape)}."
                    )
            self.register_buffer("num_fill", fill)
            # The periodic map has fan-in 2K, and is initialised as nn.Linear.
            w_bound = bound if len(shape) == 2 else shape[1] ** -0.5
            nn.init.uniform_(self.num_weight, -w_bound, w_bound)
            nn.init.uniform_(self.num_bias, -bound, bound)
            # The random draw the missing token once had, discarded, so that a
            # fit without missing values draws the same weights as before.
            torch.empty(n_numeric, d_token).uniform_(-bound, bound)
            if numeric_embedding == "periodic":
                self.frequencies = nn.Parameter(
                    torch.empty(n_numeric, self.n_frequencies)
                )
                s = self.frequency_scale
                nn.init.trunc_normal_(self.frequencies, 0.0, s, a=-3 * s, b=3 * s)
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
            missing = torch.isnan(x_num)
            # The broadcast select costs ~4x the embedding itself (with its
            # backward in training): skip it for batches without a NaN. A
            # compiled graph keeps it (fused there; a branch on data would
            # break the graph).
            if torch.compiler.is_compiling() or missing.any():
                if hasattr(self, "num_missing_shift"):
                    num = self.numeric_tokens(
                        torch.where(missing, self.num_fill, x_num)
                    )
                    shifted = num + self.num_missing_shift
                else:  # a model pickled before the shift: a free missing token
                    num = self.numeric_tokens(x_num.masked_fill(missing, 0.0))
                    shifted = self.num_missing
                num = torch.where(missing.unsqueeze(-1), shifted, num)
            else:
                num = self.numeric_tokens(x_num)
            tokens.append(num)
        if self.n_categorical:
            cat = self.cat_embedding(x_cat + self.cat_offsets) + self.cat_bias
            tokens.append(cat)
        return tokens[0] if len(tokens) == 1 else torch.cat(tokens, dim=1)

    def neutral_tokens(
        self, numeric_values: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Token of each column that stands for no information, ``[F, d_token]``.

        A numeric column's token at ``numeric_values`` (the estimators pass
        each column's median training value; None means encoded value 0), or
        a categorical column's mean category embedding (index 0,
        missing/unknown, left out when the column has other categories).
        Detached from autograd; numeric tokens first.
        """
        parts = []
        with torch.no_grad():
            if self.n_numeric:
                values = self.num_bias.new_zeros(1, self.n_numeric)
                if numeric_values is not None:
                    values[0] = torch.as_tensor(numeric_values).to(values)
                parts.append(self.numeric_tokens(values)[0])
            if self.n_categorical:
                table = self.cat_embedding.weight
                offsets = self.cat_offsets.tolist() + [len(table)]
                means = []
                for j in range(self.n_categorical):
                    rows = table[offsets[j] : offsets[j + 1]]
                    means.append(rows[1:].mean(dim=0) if len(rows) > 1 else rows[0])
                parts.append(torch.stack(means) + self.cat_bias)
        return torch.cat(parts)

    def missing_tokens(self) -> torch.Tensor:
        """Each column's missing token, ``[F, d_token]``, detached; numeric first."""
        parts = []
        if self.n_numeric:
            parts.append(self._numeric_missing_tokens().detach())
        if self.n_categorical:
            table = self.cat_embedding.weight.detach()
            parts.append(table[self.cat_offsets] + self.cat_bias.detach())
        return torch.cat(parts)

    @torch.no_grad()
    def neutralise_missing(
        self, columns: torch.Tensor, numeric_values: torch.Tensor | None = None
    ) -> None:
        """Make the missing token of ``columns`` their :meth:`neutral_tokens`.

        For the columns that were never missing in training: their missing
        token learnt nothing. A categorical one (index 0) kept its random
        start, which would move predictions by chance; the neutral token moves
        them towards the typical case. A numeric one is still the token of
        ``numeric_fill`` (its shift unused), which this makes the token of
        ``numeric_values``; and one of a model pickled before the shift kept
        its random start too.

        Parameters
        ----------
        columns : BoolTensor of shape (n_numeric + n_categorical,)
            The columns to change, in token order (numeric first).
        numeric_values : Tensor of shape (n_numeric,) or None, default=None
            The encoded values whose tokens the numeric columns take (None:
            0), as in :meth:`neutral_tokens`.
        """
        neutral = self.neutral_tokens(numeric_values)
        columns = columns.to(neutral.device)
        n = self.n_numeric
        if n:
            chosen = columns[:n]
            if hasattr(self, "num_missing_shift"):
                # Zero when numeric_values is numeric_fill.
                shift = neutral[:n] - self._numeric_missing_tokens(shifted=False)
                self.num_missing_shift[chosen] = shift[chosen]
            else:
                self.num_missing[chosen] = neutral[:n][chosen]
        if self.n_categorical:
            chosen = columns[n:]
            rows = self.cat_offsets[chosen]
            # The embedding row takes the token minus the column's shared bias.
            self.cat_embedding.weight[rows] = (neutral[n:] - self.cat_bias)[chosen]

    @torch.no_grad()
    def neutralise_unseen_categories(self, seen: torch.Tensor) -> None:
        """Give every category that training never used its column's mean one.

        A category the encoder knows but no training row holds (seen only in
        the validation rows, say) kept its random initial embedding; the mean
        of the column's trained categories moves predictions towards the
        typical case instead, as :meth:`neutralise_missing` does for missing
        values. Index 0 (missing/unknown) is one of them if unused. A column
        whose training rows were all index 0 gives its other categories the
        index-0 embedding. :meth:`neutral_tokens` is then the mean of the
        trained categories.

        Parameters
        ----------
        seen : BoolTensor of shape (sum of the cardinalities,)
            Which rows of the embedding table the training rows used, column
            after column (see ``TabularDataset.seen_categories``).
        """
        if not self.n_categorical:
            return
        table = self.cat_embedding.weight
        seen = seen.to(table.device)
        bounds = self.cat_offsets.tolist() + [len(table)]
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
            rows, used = table[start:stop], seen[start:stop]
            if used.all():
                continue
            trained = used.clone()
            trained[0] = False
            mean = rows[trained].mean(dim=0) if trained.any() else rows[0].clone()
            rows[~used] = mean

    def _numeric_missing_tokens(self, shifted: bool = True) -> torch.Tensor:
        """Return the numeric columns' missing tokens, ``[n_numeric, d_token]``.

        Without ``shifted``: the tokens of ``numeric_fill`` alone.
        """
        if not hasattr(self, "num_missing_shift"):
            return self.num_missing  # pickled before the shift
        fill = self.numeric_tokens(self.num_fill.unsqueeze(0))[0]
        return fill + self.num_missing_shift if shifted else fill

    def numeric_tokens(self, value: torch.Tensor) -> torch.Tensor:
        """Tokens of finite numeric values: ``(batch, n_numeric, d_token)``."""
        if self.numeric_embedding == "linear":
            # [B, F, 1] * [F, D] + [F, D]
            return torch.addcmul(self.num_bias, value.unsqueeze(-1), self.num_weight)
        phase = (2 * math.pi) * value.unsqueeze(-1) * self.frequencies  # [B, F, K]
        periodic = torch.cat([phase.cos(), phase.sin()], dim=-1)  # [B, F, 2K]
        # One batched matmul over the columns: [F, B, 2K] @ [F, 2K, D].
        out = torch.bmm(periodic.transpose(0, 1), self.num_weight).transpose(0, 1)
        return F.relu(out + self.num_bias)
