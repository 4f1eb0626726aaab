"""Which kernels a training step runs: the fast forms must not regress unseen.

These guard speed-motivated choices whose numbers would be the same either
way (so no value test notices a regression): each assertion names the slow
form it keeps out.
"""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from sk_tabattn.nn import AttentionCNN
from sk_tabattn.nn.attention import ATTENTION_BLOCKS, AttentionBlock
from sk_tabattn.nn.blocks import (
    READOUT_WIDTH,
    FeatureReadout,
    ResidualAttention,
    _PositionProducts,
    make_pooling,
    pool_and_read,
)


class _RecordOps(TorchDispatchMode):
    """Record (op name, output shape) of every aten op run under it."""

    def __init__(self):
        super().__init__()
        self.ops: list[tuple[str, tuple[int, ...] | None]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else None
        self.ops.append((func.overloadpacket.__name__, shape))
        return out


def test_a_training_step_takes_the_fast_kernels():
    torch.manual_seed(0)
    batch, n_features, d_token = 64, 5, 8
    net = AttentionCNN(
        n_numeric=n_features,
        cardinalities=[],
        n_outputs=3,
        attention="self",
        attention_dim=6,
        d_token=d_token,
    ).train()
    x_num = torch.randn(batch, n_features)
    with _RecordOps() as record:
        out = net(x_num, torch.empty(batch, 0, dtype=torch.long))
        out.sum().backward()
    names = [name for name, _ in record.ops]
    bmm_widths = {shape[-1] for name, shape in record.ops if name == "bmm"}
    # The readout's and the pool's products, forward and backward, never
    # put the readout width or a single column on the output's long side.
    assert READOUT_WIDTH not in bmm_widths and 1 not in bmm_widths, bmm_widths
    # The pool's score rides in the readout's products, not a one-column mm
    # (whose backward is an outer product as a K = 1 matmul).
    mm_widths = {shape[-1] for name, shape in record.ops if name == "mm"}
    assert 1 not in mm_widths, mm_widths
    # Dropout masks come from torch.rand, not bernoulli_ (about 2x slower).
    assert "bernoulli_" not in names and "rand" in names
    # q and k split in one cat backward, not two zero-filled slice copies.
    assert "slice_backward" not in names
    # The attention scale sits in q's weights, not on the [B, L, L] scores.
    scores = (batch, n_features, n_features)
    assert ("mul", scores) not in record.ops


def test_position_products_match_einsum_with_gradients():
    torch.manual_seed(0)
    seq = torch.randn(6, 5, 4, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(5, 3, 4, dtype=torch.float64, requires_grad=True)
    out = _PositionProducts.apply(seq, weight)
    torch.testing.assert_close(out, torch.einsum("blc,lwc->lwb", seq, weight))
    assert torch.autograd.gradcheck(_PositionProducts.apply, (seq, weight))
    # Position-major gradient: what the readout's norm reads without a copy.
    (grad_seq,) = torch.autograd.grad(out.sum(), seq)
    assert grad_seq.is_contiguous()


def test_a_training_step_normalises_the_pool_and_readout_input_once():
    torch.manual_seed(0)
    net = AttentionCNN(n_numeric=5, cardinalities=[], n_outputs=2, d_token=8).train()
    with _RecordOps() as record:
        net(torch.randn(16, 5), torch.empty(16, 0, dtype=torch.long)).sum().backward()
    norms = [shape for name, shape in record.ops if name == "native_layer_norm"]
    # Each conv block, the attention's pre-norm, one shared by the pool and
    # the readout, and the head's.
    assert len(norms) == len(net.branches[0].convs) + 3, norms


@pytest.mark.parametrize("pooling", ["attention", "mean"])
@pytest.mark.parametrize("position_major", [False, True])
def test_shared_norm_pool_and_readout_equal_the_modules(pooling, position_major):
    torch.manual_seed(0)
    c, n = 6, 5
    pool = make_pooling(pooling, c)
    if pooling == "attention":  # away from the initial identity affine
        torch.nn.init.normal_(pool.norm.weight)
        torch.nn.init.normal_(pool.norm.bias)
    readout = FeatureReadout(channels=c, n_positions=n)
    h = torch.randn(8, n, c).transpose(1, 2) if position_major else torch.randn(8, c, n)
    h.requires_grad_(True)
    params = [h, *pool.parameters(), *readout.parameters()]
    pooled, weights, read = pool_and_read(h, pool, readout)
    ref_pooled, ref_weights = pool.pool(h)
    ref_read = readout(h)
    torch.testing.assert_close(pooled, ref_pooled)
    torch.testing.assert_close(read, ref_read)
    if pooling == "attention":
        torch.testing.assert_close(weights, ref_weights)
    else:
        assert weights is None and ref_weights is None
    loss = (pooled**2).sum() + (read**3).sum()
    ref_loss = (ref_pooled**2).sum() + (ref_read**3).sum()
    grads = torch.autograd.grad(loss, params)
    ref_grads = torch.autograd.grad(ref_loss, params)
    for g, ref in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, ref)


@pytest.mark.parametrize("activation", ["hardswish", "relu", "gelu"])
def test_predict_runs_the_conv_blocks_activation_and_residual_in_place(activation):
    torch.manual_seed(0)
    net = AttentionCNN(
        n_numeric=5, cardinalities=[], n_outputs=2, d_token=8, activation=activation
    ).eval()
    x_num, x_cat = torch.randn(16, 5), torch.empty(16, 0, dtype=torch.long)
    expected = net(x_num, x_cat).detach()  # with autograd: out of place
    with torch.inference_mode(), _RecordOps() as record:
        out = net(x_num, x_cat)
    torch.testing.assert_close(out, expected)
    names = [name for name, _ in record.ops]
    n_blocks = len(net.branches[0].convs)
    # Each conv block's residual add lands in its activation's output, and
    # the attention block's ("self") in the attention's output.
    assert names.count("add_") >= n_blocks + 1, names
    if activation != "gelu":  # GELU has no in-place form
        assert names.count(f"{activation}_") == n_blocks, names


def test_predict_adds_a_residual_out_of_place_unless_the_block_output_is_fresh():
    # A block defined elsewhere may return a tensor it holds: its residual
    # add must not land in it.
    class Constant(AttentionBlock):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.register_buffer("value", torch.ones(1, self.channels, 1))

        def attend(self, x):
            return self.value, None

    residual = ResidualAttention(Constant(channels=3), dropout=0.1).eval()
    h = torch.randn(4, 3, 5)
    with torch.inference_mode():
        out = residual(h)
    torch.testing.assert_close(out, h + 1)
    assert (residual.block.value == 1).all()
    assert all(
        ATTENTION_BLOCKS[name].fresh_output
        for name in ("self", "multihead", "mha", "se", "row")
    )


@pytest.mark.parametrize("attention", ["self", "multihead"])
def test_weight_products_run_as_plain_bmm_without_slice_copies(attention):
    # bmm on operands it cannot hand to BLAS as they are loops over the
    # batch, selecting and copying each slice (as one product per position
    # on permuted views did).
    torch.manual_seed(0)
    n_features = 7
    net = AttentionCNN(
        n_numeric=n_features,
        cardinalities=[],
        n_outputs=2,
        d_token=8,
        attention=attention,
    )
    x_num, x_cat = torch.randn(16, n_features), torch.empty(16, 0, dtype=torch.long)
    with _RecordOps() as train_record:
        net.train()(x_num, x_cat).sum().backward()
    with torch.inference_mode(), _RecordOps() as record:
        net.eval()(x_num, x_cat)
    for ops in (train_record.ops, record.ops):
        assert "select" not in [name for name, _ in ops], ops
    # The readout's products and the pool's scores: one bmm over positions.
    assert ("bmm", (n_features, READOUT_WIDTH + 1, len(x_num))) in record.ops
    # Nor einsum on the weights: its equation handling took longer than the
    # products of these few thousand numbers (74 against 32 us, multihead's
    # bilinear matrix at the defaults). Without autograd it is one op here.
    assert "einsum" not in [name for name, _ in record.ops], record.ops
