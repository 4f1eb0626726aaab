"""Integrated gradients on the feature tokens, from a reference row."""

from __future__ import annotations

import torch


def reference_tokens(tokenizer) -> torch.Tensor:
    """Token of each column for the reference row, ``[F, d_token]``.

    Numeric columns at encoded value 0; categorical columns at the mean of
    their category embeddings (index 0, missing/unknown, left out when the
    column has other categories).
    """
    parts = []
    if tokenizer.n_numeric:
        zeros = torch.zeros(1, tokenizer.n_numeric, device=tokenizer.num_bias.device)
        with torch.no_grad():
            parts.append(tokenizer.numeric_tokens(zeros)[0])
    if tokenizer.n_categorical:
        table = tokenizer.cat_embedding.weight.detach()
        offsets = tokenizer.cat_offsets.tolist() + [len(table)]
        means = []
        for j in range(tokenizer.n_categorical):
            rows = table[offsets[j] : offsets[j + 1]]
            means.append(rows[1:].mean(dim=0) if len(rows) > 1 else rows[0])
        parts.append(torch.stack(means) + tokenizer.cat_bias.detach())
    return torch.cat(parts).float()


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
