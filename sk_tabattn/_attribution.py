"""Integrated gradients on the feature tokens, from a reference row."""

from __future__ import annotations

import numpy as np
import torch


def missing_rates(x_num: np.ndarray, x_cat: np.ndarray) -> np.ndarray:
    """Share of rows in which each token is its column's missing token, ``[F]``.

    Numeric columns: the share of NaN; categorical columns: the share of index
    0 (missing or unknown). Tokens in the tokenizer's order, numeric first.
    """
    return np.concatenate(
        [np.isnan(x_num).mean(axis=0), (x_cat == 0).mean(axis=0)]
    ).astype(np.float32)


def reference_tokens(
    tokenizer,
    missing_rate: np.ndarray | None = None,
    numeric_values: np.ndarray | None = None,
) -> torch.Tensor:
    """Token of each column for the reference row, ``[F, d_token]``.

    The observed part is the column's neutral token (a numeric column's token
    at ``numeric_values``, its median training value, or at encoded value 0
    if None, for a model pickled before the medians were kept; a categorical
    column's mean category embedding: see
    ``FeatureTokenizer.neutral_tokens``). It is mixed with the
    column's missing token (index 0's for categorical columns) by
    ``missing_rate``, the column's share of missing values in training
    (zeros if None: a model pickled before the shares were kept):
    a column without missing values keeps the observed part exactly, and a
    column missing in every row sits at its missing token, as every row does,
    so its attribution is exactly 0.
    """
    values = None if numeric_values is None else torch.as_tensor(numeric_values)
    observed = tokenizer.neutral_tokens(values).float()
    if missing_rate is None:
        return observed
    rate = torch.as_tensor(missing_rate, dtype=torch.float32)
    rate = rate.to(observed.device).unsqueeze(-1)
    # A rate of 0 must leave the token bit-for-bit (attributions of columns
    # without missing values do not move), so no lerp: 1 * a + 0 * b == a.
    return (1 - rate) * observed + rate * tokenizer.missing_tokens().float()


def explained_output(out: torch.Tensor, classes: torch.Tensor | None) -> torch.Tensor:
    """Return the outputs to attribute, ``[B, K]``.

    For a classifier, the logit of class ``classes[b]`` minus the mean logit
    (softmax ignores a shift of all logits); for a regressor, every output.
    """
    if classes is None:
        return out
    centred = out - out.mean(dim=1, keepdim=True)
    return centred.gather(1, classes.unsqueeze(1))


def integrated_gradients(recorder, x_num, x_cat, tokens, reference, classes, n_steps):
    """Integrated gradients per token and output, ``[B, F, K]``.

    The path runs straight from the reference tokens to ``tokens``; the
    integral is the midpoint rule over ``n_steps`` points.
    """
    delta = tokens - reference
    total = None
    for step in range(n_steps):
        alpha = (step + 0.5) / n_steps
        path = (reference + alpha * delta).requires_grad_(True)
        outputs = explained_output(recorder.run(x_num, x_cat, path)[0], classes)
        grads = [
            torch.autograd.grad(
                outputs[:, k].sum(), path, retain_graph=k + 1 < outputs.shape[1]
            )[0]
            for k in range(outputs.shape[1])
        ]
        grad = torch.stack(grads, dim=-1)  # [B, F, d_token, K]
        total = grad if total is None else total + grad
    return (delta.unsqueeze(-1) * total / n_steps).sum(dim=2).float().cpu()
