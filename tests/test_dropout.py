"""Dropout layers whose masks come from torch.rand."""

from __future__ import annotations

import pytest
import torch

from sk_tabattn.nn.dropout import Dropout, SpatialDropout, keep_mask


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_spatial_dropout_drops_whole_channels_at_rate_p(p):
    torch.manual_seed(0)
    layer = SpatialDropout(p).train()
    x = torch.ones(400, 50, 7, requires_grad=True)
    out = layer(x)
    # Every channel of every row is dropped or kept whole, and rescaled.
    per_channel = out.detach()[..., :1]
    assert torch.equal(out.detach(), per_channel.expand_as(out))
    kept = per_channel != 0
    torch.testing.assert_close(
        per_channel[kept], torch.full_like(per_channel[kept], 1 / (1 - p))
    )
    dropped = (per_channel == 0).float().mean().item()
    assert dropped == pytest.approx(p, abs=0.02)  # 20,000 draws: sd < 0.004
    # The gradient is the mask.
    out.sum().backward()
    torch.testing.assert_close(x.grad, out.detach())


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_dropout_drops_single_entries_at_rate_p(p):
    torch.manual_seed(0)
    out = Dropout(p).train()(torch.ones(200, 100))
    dropped = (out == 0).float().mean().item()
    assert dropped == pytest.approx(p, abs=0.02)
    torch.testing.assert_close(
        out[out != 0], torch.full_like(out[out != 0], 1 / (1 - p))
    )
    # Entries, not whole rows or columns, are dropped.
    assert 0 < (out == 0).sum(dim=1).float().mean() < 100


@pytest.mark.parametrize("layer", [SpatialDropout(0.3), Dropout(0.3)])
def test_dropout_is_the_identity_in_eval_mode_and_at_p_zero(layer):
    x = torch.randn(8, 4, 5)
    assert layer.eval()(x) is x
    layer.p = 0.0
    assert layer.train()(x) is x


def test_keep_mask_follows_the_torch_seed_and_drops_everything_at_p_one():
    like = torch.empty(0)
    torch.manual_seed(3)
    first = keep_mask((64, 16), 0.25, like)
    torch.manual_seed(3)
    assert torch.equal(first, keep_mask((64, 16), 0.25, like))
    assert torch.equal(keep_mask((5, 3), 1.0, like), torch.zeros(5, 3))
    assert keep_mask((2, 2), 0.5, torch.empty(0, dtype=torch.float64)).dtype == (
        torch.float64
    )
