"""The network and its attention blocks, driven by the registry."""

from __future__ import annotations

import warnings

import pytest
import torch

from sk_tabattn.nn import ATTENTION_BLOCKS, AttentionBlock, AttentionCNN
from sk_tabattn.nn import attention as attention_module
from sk_tabattn.nn.attention import (
    RowAttention,
    _per_head_scores,
    register_attention,
)
from sk_tabattn.nn.blocks import (
    READOUT_WIDTH,
    AttentionPool,
    ConvBlock,
    FeatureReadout,
    SampleNorm,
    conv_channels_first,
    conv_position_major,
    is_position_major,
    layer_norm_fast,
)
from sk_tabattn.nn.fusion import StreamFusion
from sk_tabattn.nn.tokenizer import FeatureTokenizer

BLOCKS = sorted(ATTENTION_BLOCKS)
POSITIONS = ["before", "after", "each"]


def _inputs(batch=16, n_numeric=3, cardinalities=(4, 6), seed=0):
    g = torch.Generator().manual_seed(seed)
    x_num = torch.randn(batch, n_numeric, generator=g)
    x_num[0, 1] = float("nan")
    x_cat = torch.stack(
        [torch.randint(0, c, (batch,), generator=g) for c in cardinalities], dim=1
    )
    return x_num, x_cat


def _net(attention, position="after", **kwargs):
    params = {"n_numeric": 3, "cardinalities": [4, 6], "n_outputs": 3, "d_token": 8}
    params.update(n_heads=2, attention_dim=4, attention=attention)
    return AttentionCNN(attention_position=position, **params, **kwargs)


@pytest.mark.parametrize("name", BLOCKS)
def test_block_keeps_shape_and_is_finite(name):
    block = ATTENTION_BLOCKS[name](channels=8, n_heads=2, attention_dim=4, dropout=0.0)
    x = torch.randn(5, 8, 7)
    out, weights = block.attend(x)
    assert out.shape == x.shape
    assert torch.isfinite(out).all()
    assert torch.equal(block(x), out) or name == "row"


@pytest.mark.parametrize("name", ["self", "multihead"])
def test_bilinear_scores_match_query_key_scores(name):
    # Both ways of computing the scores: same output, weights and gradients.
    torch.manual_seed(0)
    block = ATTENTION_BLOCKS[name](channels=8, n_heads=2, attention_dim=4)
    block.need_weights = True
    # The bilinear form pays with several heads and channels <= 2 * dim.
    assert block.bilinear == (name == "multihead")
    x = torch.randn(5, 8, 7)
    results = []
    for bilinear in (True, False):
        block.bilinear = bilinear
        block.zero_grad()
        out, weights = block.attend(x)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        grads = {n: p.grad.clone() for n, p in block.named_parameters()}
        results.append((out, weights, grads))
    (out_b, w_b, g_b), (out_f, w_f, g_f) = results
    torch.testing.assert_close(out_b, out_f)
    torch.testing.assert_close(w_b, w_f)
    assert w_b.shape == (5, 7, 7)
    torch.testing.assert_close(w_b.sum(-1), torch.ones(5, 7))
    assert g_b.keys() == g_f.keys()
    for n in g_b:
        torch.testing.assert_close(g_b[n], g_f[n], rtol=1e-4, atol=1e-5, msg=n)
    wide = ATTENTION_BLOCKS[name](channels=16, n_heads=2, attention_dim=4)
    assert not wide.bilinear


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("name", BLOCKS)
def test_network_output_shape_gradients_and_no_nan(name, position):
    net = _net(name, position)
    x_num, x_cat = _inputs()
    out = net(x_num, x_cat)
    assert out.shape == (16, 3)
    assert torch.isfinite(out).all()
    out.sum().backward()
    block_params = [p for n, p in net.named_parameters() if ".attentions." in n]
    assert (name == "none") == (not block_params)
    for p in block_params:
        assert p.grad is not None and torch.isfinite(p.grad).all()
        if name != "row":  # row's first layer only sees the batch-normalised score
            assert p.grad.abs().sum() > 0


@pytest.mark.parametrize("name", BLOCKS)
def test_prediction_of_a_row_does_not_depend_on_its_batch(name):
    torch.manual_seed(0)
    net = _net(name, "each")
    x_num, x_cat = _inputs(batch=32)
    net.train()
    for _ in range(3):  # move running statistics away from their start
        net(*_inputs(batch=32, seed=1))
    net.eval()
    with torch.no_grad():
        full = net(x_num, x_cat)
        rows = torch.cat([net(x_num[i : i + 1], x_cat[i : i + 1]) for i in range(32)])
    torch.testing.assert_close(rows, full, rtol=1e-5, atol=1e-6)


def test_row_attention_weights_average_one_in_training():
    block = RowAttention(channels=8)
    block.train()
    _, weights = block.attend(torch.randn(64, 8, 5))
    assert weights.shape == (64,)
    torch.testing.assert_close(weights.mean(), torch.tensor(1.0))
    assert weights.std() > 0


def test_row_attention_uses_running_normaliser_at_inference():
    block = RowAttention(channels=8)
    block.train()
    block.attend(torch.randn(64, 8, 5))
    assert block.running_norm.item() != 0.5  # updated from its start value
    block.eval()
    x = torch.randn(10, 8, 5)
    _, weights = block.attend(x)
    _, first = block.attend(x[:1])
    torch.testing.assert_close(first, weights[:1])


def test_row_attention_trains_on_a_single_row():
    block = RowAttention(channels=8)
    block.train()
    out, _ = block.attend(torch.randn(1, 8, 5))
    assert torch.isfinite(out).all()


def test_tokenizer_embeds_missing_values_and_index_zero():
    tok = FeatureTokenizer(n_numeric=2, cardinalities=[3], d_token=4)
    x_num = torch.tensor([[float("nan"), 1.0], [2.0, 1.0]])
    x_cat = torch.tensor([[0], [2]])
    tokens = tok(x_num, x_cat)
    assert tokens.shape == (2, 3, 4)
    torch.testing.assert_close(tokens[0, 0], tok.missing_tokens()[0])
    assert torch.isfinite(tokens).all()
    # A batch without NaN skips the select, and embeds its rows the same.
    alone = tok(x_num[1:], x_cat[1:])
    torch.testing.assert_close(alone, tokens[1:], rtol=0, atol=0)
    torch.testing.assert_close(alone[0, 0], 2.0 * tok.num_weight[0] + tok.num_bias[0])


@pytest.mark.parametrize("embedding", ["linear", "periodic"])
def test_neutralise_missing_sets_only_the_chosen_missing_tokens(embedding):
    tok = FeatureTokenizer(
        n_numeric=3, cardinalities=[3, 4], d_token=4, numeric_embedding=embedding
    )
    with torch.no_grad():  # as if trained: the missing tokens left their start
        tok.num_missing_shift.normal_()
    before = tok.missing_tokens().clone()
    neutral = tok.neutral_tokens()
    chosen = torch.tensor([True, False, True, False, True])
    tok.neutralise_missing(chosen)
    after = tok.missing_tokens()
    torch.testing.assert_close(after[chosen], neutral[chosen], rtol=0, atol=0)
    assert torch.equal(after[~chosen], before[~chosen])
    # The test can fail: no chosen token was neutral.
    assert not torch.isclose(before[chosen], neutral[chosen]).all(dim=1).any()
    # What the network sees for NaN and index 0 is the new token; the observed
    # values' tokens (and so the neutral tokens) did not move.
    torch.testing.assert_close(tok.neutral_tokens(), neutral, rtol=0, atol=0)
    with torch.no_grad():
        tokens = tok(torch.full((1, 3), float("nan")), torch.zeros(1, 2).long())[0]
    torch.testing.assert_close(tokens, after)
    # The numeric neutral token is the token of encoded value 0, or of the
    # values given.
    with torch.no_grad():
        zero = tok(torch.zeros(1, 3), torch.ones(1, 2).long())[0, :3]
        values = torch.tensor([0.5, -1.0, 2.0])
        at_values = tok(values[None], torch.ones(1, 2).long())[0, :3]
    torch.testing.assert_close(neutral[:3], zero)
    torch.testing.assert_close(tok.neutral_tokens(values)[:3], at_values)
    tok.neutralise_missing(chosen, values)
    torch.testing.assert_close(tok.missing_tokens()[[0, 2]], at_values[[0, 2]])


@pytest.mark.parametrize("embedding", ["linear", "periodic"])
def test_a_missing_value_starts_as_the_token_of_the_fill_value(embedding):
    fill = [0.5, -1.0]
    tok = FeatureTokenizer(
        n_numeric=2, cardinalities=[], d_token=4, numeric_embedding=embedding,
        numeric_fill=fill,
    )  # fmt: skip
    nan = float("nan")
    x_num = torch.tensor([[nan, 2.0], [0.5, nan], [0.5, -1.0]])
    with torch.no_grad():
        tokens = tok(x_num, torch.empty(3, 0, dtype=torch.long))
        torch.testing.assert_close(tokens[0, 0], tokens[1, 0], rtol=0, atol=0)
        torch.testing.assert_close(tokens[1, 1], tokens[2, 1], rtol=0, atol=0)
        # Training moves the missing token by a learned shift from there.
        tok.num_missing_shift.fill_(0.25)
        shifted = tok(x_num, torch.empty(3, 0, dtype=torch.long))
    torch.testing.assert_close(shifted[0, 0], tokens[2, 0] + 0.25)
    torch.testing.assert_close(shifted[0, 1], tokens[0, 1], rtol=0, atol=0)
    torch.testing.assert_close(tok.missing_tokens(), tokens[2] + 0.25)
    with pytest.raises(ValueError, match="numeric_fill must hold 2 values"):
        FeatureTokenizer(n_numeric=2, cardinalities=[], d_token=4, numeric_fill=[0.0])


def test_a_tokenizer_pickled_before_the_shift_keeps_its_free_missing_token():
    tok = FeatureTokenizer(n_numeric=2, cardinalities=[3], d_token=4)
    del tok.num_missing_shift, tok.num_fill
    tok.num_missing = torch.nn.Parameter(torch.randn(2, 4))
    x_num = torch.tensor([[float("nan"), 1.0]])
    with torch.no_grad():
        tokens = tok(x_num, torch.ones(1, 1, dtype=torch.long))
    torch.testing.assert_close(tokens[0, 0], tok.num_missing[0], rtol=0, atol=0)
    torch.testing.assert_close(tok.missing_tokens()[:2], tok.num_missing.detach())
    tok.neutralise_missing(torch.tensor([False, True, False]))
    torch.testing.assert_close(tok.num_missing[1], tok.neutral_tokens()[1])


def test_neutralise_unseen_categories_gives_them_the_mean_trained_category():
    tok = FeatureTokenizer(n_numeric=1, cardinalities=[4, 3, 2], d_token=4)
    table = tok.cat_embedding.weight
    before = table.detach().clone()
    neutral = tok.neutral_tokens()
    # Column 0: index 0 and 2 unused. Column 1: all used. Column 2: only
    # index 0 (missing) used.
    seen = torch.tensor([False, True, False, True, True, True, True, True, False])
    tok.neutralise_unseen_categories(seen)
    after = table.detach()
    assert torch.equal(after[seen], before[seen])
    mean = before[[1, 3]].mean(dim=0)
    torch.testing.assert_close(after[[0, 2]], mean.expand(2, -1), rtol=0, atol=0)
    assert not torch.equal(before[[0, 2]], after[[0, 2]])  # the test can fail
    torch.testing.assert_close(after[8], before[7], rtol=0, atol=0)
    # The neutral token is now the mean of the trained categories (index 0 in
    # the column where only it was used); the numeric one did not move.
    expected = torch.stack([mean, before[5:7].mean(dim=0), before[7]]) + tok.cat_bias
    torch.testing.assert_close(tok.neutral_tokens()[1:], expected)
    torch.testing.assert_close(tok.neutral_tokens()[0], neutral[0], rtol=0, atol=0)
    # Without categorical columns there is nothing to do.
    FeatureTokenizer(
        n_numeric=2, cardinalities=[], d_token=4
    ).neutralise_unseen_categories(torch.zeros(0, dtype=torch.bool))


def test_tokenizer_with_only_categorical_columns():
    tok = FeatureTokenizer(n_numeric=0, cardinalities=[3, 5], d_token=4)
    tokens = tok(torch.empty(2, 0), torch.tensor([[0, 4], [2, 1]]))
    assert tokens.shape == (2, 2, 4)


def test_mha_rejects_channels_not_divisible_by_heads():
    with pytest.raises(ValueError, match="Got channels=10, n_heads=4"):
        ATTENTION_BLOCKS["mha"](channels=10, n_heads=4)


def test_register_attention_adds_a_block_and_refuses_duplicates():
    @register_attention("test_double")
    class Double(AttentionBlock):
        def attend(self, x):
            return 2 * x, None

    try:
        assert ATTENTION_BLOCKS["test_double"] is Double
        out = _net("test_double")(*_inputs())
        assert out.shape == (16, 3)
        with pytest.raises(ValueError, match="already registered"):
            register_attention("test_double")(Double)
    finally:
        del ATTENTION_BLOCKS["test_double"]


@pytest.mark.parametrize("kind", ["sum", "scalar", "softmax", "adaptive"])
def test_stream_fusion(kind):
    fusion = StreamFusion(kind=kind, n_streams=3, channels=8)
    streams = [torch.randn(4, 8) for _ in range(3)]
    out, weights = fusion.fuse(streams)
    assert out.shape == (4, 8)
    if kind == "sum":
        torch.testing.assert_close(out, sum(streams))
    elif kind == "softmax":
        torch.testing.assert_close(weights.sum(), torch.tensor(1.0))
    elif kind == "adaptive":
        assert weights.shape == (4, 3, 8)
        torch.testing.assert_close(weights.sum(dim=1), torch.ones(4, 8))


@pytest.mark.parametrize("fusion", ["sum", "scalar", "softmax", "adaptive"])
def test_network_with_streams(fusion):
    net = _net("multihead", streams=[[0, 1, 2], [3, 4]], fusion=fusion)
    out, weights = net.explain_forward(*_inputs())
    assert out.shape == (16, 3)
    assert len(weights["streams"]) == 2


def test_periodic_numeric_embedding_is_a_nonlinear_map_per_column():
    torch.manual_seed(0)
    tok = FeatureTokenizer(
        n_numeric=3, cardinalities=[4], d_token=8, numeric_embedding="periodic"
    )
    assert tok.num_weight.shape == (3, 2 * tok.n_frequencies, 8)
    assert tok.frequencies.shape == (3, tok.n_frequencies)
    x_num = torch.tensor([[0.0, 1.0, float("nan")], [2.0, -1.0, 0.5]])
    x_cat = torch.tensor([[1], [2]])
    tokens = tok(x_num, x_cat)
    assert tokens.shape == (2, 4, 8)
    assert torch.isfinite(tokens).all()
    # A missing value is the column's learned missing token.
    torch.testing.assert_close(tokens[0, 2], tok.missing_tokens()[2])
    # Column j's token depends on x_j alone, and not linearly.
    values = torch.tensor([[-1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    out = tok.numeric_tokens(values)
    torch.testing.assert_close(out[0, 1:], out[2, 1:])
    assert not torch.allclose(out[1, 0], (out[0, 0] + out[2, 0]) / 2, atol=1e-4)
    # Frequencies and weights learn.
    tokens.sum().backward()
    assert tok.frequencies.grad.abs().sum() > 0
    assert tok.num_weight.grad.abs().sum() > 0


def test_unknown_numeric_embedding_is_refused():
    with pytest.raises(ValueError, match="numeric_embedding must be 'linear' or"):
        FeatureTokenizer(
            n_numeric=1, cardinalities=[], d_token=4, numeric_embedding="x"
        )


@pytest.mark.parametrize("grad", [True, False], ids=["autograd", "no_grad"])
@pytest.mark.parametrize("position_major", [False, True])
def test_feature_readout_reads_each_width_at_each_position(grad, position_major):
    # Training (einsum) and channels-first inference (broadcast product) take
    # different paths.
    torch.manual_seed(0)
    readout = FeatureReadout(channels=6, n_positions=5, width=3)
    h = torch.randn(4, 6, 5)
    if position_major:
        h = h.transpose(1, 2).contiguous().transpose(1, 2)
    normed = torch.nn.functional.group_norm(h, 1)
    with torch.set_grad_enabled(grad):
        out = readout(h)
    assert out.requires_grad == grad
    assert out.shape == (4, 3 * 5) and readout.out_features == 3 * 5
    for w in range(3):
        expected = (normed * readout.weight[w]).sum(dim=1)
        torch.testing.assert_close(out[:, w * 5 : (w + 1) * 5], expected)
    # A weight pickled when the readout read one number per position.
    with torch.no_grad():
        readout.weight = torch.nn.Parameter(readout.weight[0].clone())
    assert readout.out_features == 5
    with torch.set_grad_enabled(grad):
        out = readout(h)
    torch.testing.assert_close(out, (normed * readout.weight).sum(dim=1))


@pytest.mark.parametrize("streams", [None, [[0, 1, 2], [3, 4]]])
def test_feature_readout_adds_numbers_per_position_to_the_hidden_layer(streams):
    torch.manual_seed(0)
    net = _net("multihead", streams=streams, feature_readout=True).eval()
    lengths = [5] if streams is None else [3, 2]
    shapes = [(READOUT_WIDTH, 8, n) for n in lengths]
    assert [b.readout.weight.shape for b in net.branches] == shapes
    assert net.readout_proj.in_features == READOUT_WIDTH * 5
    x_num, x_cat = _inputs()
    out = net(x_num, x_cat)
    out.sum().backward()
    assert all(b.readout.weight.grad.abs().sum() > 0 for b in net.branches)
    assert net.readout_proj.weight.grad.abs().sum() > 0
    # The readout enters the hidden layer and nothing else: without its
    # projection, the network computes what one without a readout does.
    plain = _net("multihead", streams=streams, feature_readout=False).eval()
    missing, unexpected = plain.load_state_dict(net.state_dict(), strict=False)
    assert not missing and unexpected
    with torch.no_grad():
        assert not torch.allclose(out, plain(x_num, x_cat))
        net.readout_proj.weight.zero_()
        torch.testing.assert_close(net(x_num, x_cat), plain(x_num, x_cat))


@pytest.mark.parametrize("pooling", ["attention", "mean"])
@pytest.mark.parametrize("streams", [None, [[3, 0, 1], [2, 4]]])
def test_network_predicts_what_it_computes_with_autograd(pooling, streams):
    # Predict runs some blocks in place (no autograd): the same numbers.
    torch.manual_seed(0)
    net = _net("self", streams=streams, pooling=pooling).eval()
    x_num, x_cat = _inputs()
    out, weights = net.explain_forward(x_num, x_cat)
    assert out.requires_grad
    with torch.inference_mode():
        predicted, predicted_weights = net.explain_forward(x_num, x_cat)
    torch.testing.assert_close(predicted, out.detach())
    for got, want in zip(predicted_weights["streams"], weights["streams"], strict=True):
        if pooling == "mean":
            assert got["pooling"] is None and want["pooling"] is None
        else:
            torch.testing.assert_close(got["pooling"], want["pooling"])


def _position_major(h: torch.Tensor) -> torch.Tensor:
    """The same ``[B, C, L]`` values, laid out as a contiguous ``[B, L, C]``."""
    return h.transpose(1, 2).contiguous().transpose(1, 2)


# The reference is torch's own padding="same", which warns of even kernels.
_TORCH_SAME_PADDING_WARNING = pytest.mark.filterwarnings(
    "ignore:Using padding='same' with even kernel:UserWarning"
)


@_TORCH_SAME_PADDING_WARNING
@pytest.mark.parametrize("kernel_size", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("n_positions", [1, 2, 7])
def test_conv_on_position_major_input_equals_conv1d(kernel_size, n_positions):
    torch.manual_seed(0)
    conv = torch.nn.Conv1d(6, 6, kernel_size, padding="same")
    h = torch.randn(3, 6, n_positions, requires_grad=True)
    h_pm = _position_major(h.detach()).requires_grad_()
    expected = conv(h)
    out = conv_position_major(h_pm, conv)
    assert is_position_major(out)
    torch.testing.assert_close(out, expected)
    grad_out = torch.randn_like(expected)
    torch.testing.assert_close(
        torch.autograd.grad(out, h_pm, grad_out)[0],
        torch.autograd.grad(expected, h, grad_out)[0],
    )


@_TORCH_SAME_PADDING_WARNING
@pytest.mark.parametrize("kernel_size", [2, 4])  # odd ones call the conv itself
def test_conv_on_channels_first_input_equals_conv1d(kernel_size):
    torch.manual_seed(0)
    conv = torch.nn.Conv1d(6, 6, kernel_size, padding="same")
    h = torch.randn(3, 6, 7)
    torch.testing.assert_close(conv_channels_first(h, conv), conv(h))


@pytest.mark.parametrize("kernel_size", [2, 4])
@pytest.mark.parametrize("position_major", [True, False])
def test_even_kernel_conv_block_does_not_warn(kernel_size, position_major):
    # torch's padding="same" warns of an even kernel once a process: warn
    # always, so that an earlier test's warning cannot hide this one's.
    torch.manual_seed(0)
    block = ConvBlock(
        channels=6, kernel_size=kernel_size, dropout=0.1, activation="gelu"
    )
    h = torch.randn(3, 6, 7)
    h = _position_major(h) if position_major else h
    previous = torch.is_warn_always_enabled()
    torch.set_warn_always(True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            block(h.requires_grad_()).sum().backward()
    finally:
        torch.set_warn_always(previous)


@pytest.mark.parametrize("affine", [True, False])
def test_sample_norm_on_position_major_input_equals_group_norm(affine):
    torch.manual_seed(0)
    norm = SampleNorm(6, affine=affine)
    if affine:
        with torch.no_grad():
            norm.weight.uniform_(0.5, 2.0)
            norm.bias.normal_()
    h = 3 * torch.randn(4, 6, 5) + 1
    out = norm(_position_major(h))
    assert is_position_major(out)
    expected = torch.nn.functional.group_norm(h, 1, norm.weight, norm.bias)
    torch.testing.assert_close(out, expected)


def test_single_head_scores_from_strided_views_equal_the_per_head_form():
    # One head takes q and k as strided views of the fused projection (no
    # copies); it must give the per-head form's scores and gradients exactly.
    torch.manual_seed(0)
    block = ATTENTION_BLOCKS["self"](channels=8, n_heads=1, attention_dim=4)
    seq = torch.randn(5, 7, 8, requires_grad=True)
    scores = block._factored_scores(seq)
    expected = _per_head_scores(block._fused_qk(seq), 1, 4)
    assert torch.equal(scores, expected)
    grad = torch.randn(5, 7, 7)
    assert torch.equal(
        torch.autograd.grad(scores, seq, grad)[0],
        torch.autograd.grad(expected, seq, grad)[0],
    )


def test_affine_free_norms_run_layer_norm_with_constant_affine(monkeypatch):
    # CPU layer_norm without weight and bias takes a slower kernel: the
    # affine-free norms (the readout's and the pool's shared one) must
    # hand it ones and zeros, and get exactly the affine-free numbers.
    torch.manual_seed(0)
    x = 3 * torch.randn(8, 5, 6) + 1
    calls = []
    layer_norm = torch.nn.functional.layer_norm

    def recording(*args, **kwargs):
        calls.append((args, kwargs))
        return layer_norm(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "layer_norm", recording)
    out = SampleNorm(6, affine=False)(x.transpose(1, 2))
    (_, shape, weight, bias, _), _ = calls[-1]
    assert weight is not None and bias is not None
    assert torch.equal(weight, torch.ones(shape))
    assert torch.equal(bias, torch.zeros(shape))
    assert torch.equal(out.transpose(1, 2), layer_norm(x, (5, 6)))
    flat = x.flatten(1)
    assert torch.equal(layer_norm_fast(flat), layer_norm(flat, (30,)))


@pytest.mark.parametrize("name", sorted(ATTENTION_BLOCKS))
def test_network_keeps_blocks_position_major_and_equal_to_channels_first(name):
    # The branch hands the blocks the tokens' [B, L, C] memory: every conv
    # block and attention block must keep it (or a copy creeps back in), and
    # compute what it computes on contiguous [B, C, L] input.
    torch.manual_seed(0)
    net = _net(name, position="each").eval()
    x_num, x_cat = _inputs()
    branch = net.branches[0]
    h = net.tokenizer(x_num, x_cat).transpose(1, 2)
    assert is_position_major(h)
    with torch.no_grad():
        attentions = list(branch.attentions) or [None] * len(branch.convs)
        for conv, attention in zip(branch.convs, attentions, strict=True):
            h_cf = h.contiguous()
            for module in filter(None, (conv, attention)):
                out, out_cf = module(h), module(h_cf)
                assert is_position_major(out), type(module).__name__
                torch.testing.assert_close(out, out_cf)
                h, h_cf = out, out_cf
        pool = AttentionPool(channels=h.shape[1])
        for a, b in zip(pool.pool(h), pool.pool(h.contiguous()), strict=True):
            torch.testing.assert_close(a, b)


def _assert_same_function(got, expected, inputs):
    """Equal outputs, and equal gradients to every input for one random grad."""
    torch.testing.assert_close(got, expected)
    grad = torch.randn_like(expected)
    for got_grad, expected_grad in zip(
        torch.autograd.grad(got, inputs, grad),
        torch.autograd.grad(expected, inputs, grad),
        strict=True,
    ):
        torch.testing.assert_close(got_grad, expected_grad)


def _wide_position_major(batch, channels, n_positions, dtype=torch.float64):
    seq = torch.randn(batch, n_positions, channels, dtype=dtype)
    return seq.transpose(1, 2).requires_grad_(True)


@pytest.mark.parametrize(
    "name, channels, n_heads, attention_dim",
    [
        ("self", 8, 1, 4),
        ("self", 5, 1, 9),  # queries narrower than attention_dim
        ("multihead", 8, 2, 4),  # bilinear scores on the explicit path
        ("multihead", 12, 3, 3),  # q/k scores on the explicit path
    ],
)
@pytest.mark.parametrize("training", [True, False])
def test_fused_attention_on_wide_tables_equals_the_explicit_maps(
    monkeypatch, name, channels, n_heads, attention_dim, training
):
    # From FLASH_MIN_POSITIONS on, self and multihead run torch's fused
    # kernel; it must compute the explicit path's output and gradients.
    torch.manual_seed(0)
    block = ATTENTION_BLOCKS[name](
        channels=channels, n_heads=n_heads, attention_dim=attention_dim
    )
    block.double().train(training)
    x = _wide_position_major(3, channels, 6)
    calls = []
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def recording(*args, **kwargs):
        calls.append(args[0].shape)
        return sdpa(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", recording)
    monkeypatch.setattr(attention_module, "FLASH_MIN_POSITIONS", 7)
    explicit, _ = block.attend(x)
    assert not calls
    monkeypatch.setattr(attention_module, "FLASH_MIN_POSITIONS", 6)
    fused, weights = block.attend(x)
    assert calls and weights is None
    _assert_same_function(fused, explicit, [x, *block.parameters()])


@pytest.mark.parametrize("name", ["self", "multihead"])
def test_wide_tables_keep_explicit_maps_when_asked_or_dropping_weights(
    monkeypatch, name
):
    # explain needs the maps, and the fused path has no attention dropout.
    monkeypatch.setattr(attention_module, "FLASH_MIN_POSITIONS", 2)
    block = ATTENTION_BLOCKS[name](channels=4, n_heads=2, attention_dim=2)
    x = torch.randn(2, 4, 5)
    block.need_weights = True
    _, weights = block.attend(x)
    assert weights.shape == (2, 5, 5)
    block.need_weights = False
    block.dropout = 0.5
    block.train()
    monkeypatch.setattr(
        torch.nn.functional, "scaled_dot_product_attention", _refuse_fused_kernel
    )
    block.attend(x)  # the explicit path with its dropout
    block.eval()
    with pytest.raises(AssertionError, match="fused kernel"):
        block.attend(x)  # no dropout at inference: the fused path


@pytest.mark.parametrize("name", ["self", "multihead"])
def test_wide_tables_keep_explicit_maps_for_channels_much_wider_than_queries(
    monkeypatch, name
):
    # The fused kernel scores at the channels' width: slower beyond 4x.
    monkeypatch.setattr(attention_module, "FLASH_MIN_POSITIONS", 2)
    monkeypatch.setattr(
        torch.nn.functional, "scaled_dot_product_attention", _refuse_fused_kernel
    )
    block = ATTENTION_BLOCKS[name](channels=9, n_heads=2, attention_dim=2)
    block.attend(torch.randn(2, 9, 5))
    block = ATTENTION_BLOCKS[name](channels=8, n_heads=2, attention_dim=2)
    with pytest.raises(AssertionError, match="fused kernel"):
        block.attend(torch.randn(2, 8, 5))


def _refuse_fused_kernel(*args, **kwargs):
    raise AssertionError("the fused kernel ran")


def test_fused_attention_thresholds_count_columns_and_autograd(monkeypatch):
    # The thresholds count the network's positions (columns); without autograd
    # (predict) the lower one applies, and the fused path predicts what the
    # explicit one would.
    torch.manual_seed(0)
    net = _net("self").eval()
    x_num, x_cat = _inputs()
    n_columns = x_num.shape[1] + x_cat.shape[1]
    monkeypatch.setattr(attention_module, "FLASH_MIN_POSITIONS", n_columns + 1)
    monkeypatch.setattr(attention_module, "FLASH_MIN_POSITIONS_INFERENCE", n_columns)
    with torch.inference_mode():
        fused = net(x_num, x_cat)
    monkeypatch.setattr(
        torch.nn.functional, "scaled_dot_product_attention", _refuse_fused_kernel
    )
    explicit = net(x_num, x_cat)  # with autograd: the training threshold
    with pytest.raises(AssertionError, match="fused kernel"), torch.inference_mode():
        net(x_num, x_cat)
    monkeypatch.setattr(attention_module, "FLASH_MIN_POSITIONS", n_columns)
    with pytest.raises(AssertionError, match="fused kernel"):
        net(x_num, x_cat)
    torch.testing.assert_close(fused, explicit.detach(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n_heads", [1, 2, 4])
@pytest.mark.parametrize("training", [True, False])
def test_mha_batch_first_path_equals_torch_module(n_heads, training):
    # The block computes nn.MultiheadAttention's function itself on a
    # batch-first layout of the heads: the same outputs and gradients.
    torch.manual_seed(0)
    block = ATTENTION_BLOCKS["mha"](channels=8, n_heads=n_heads).double()
    block.train(training)
    x = _wide_position_major(3, 8, 6)
    assert block._batch_first_applies(x)
    ours, weights = block.attend(x)
    assert weights is None
    seq = x.transpose(1, 2)
    expected = block.mha(seq, seq, seq, need_weights=False)[0].transpose(1, 2)
    _assert_same_function(ours, expected, [x, *block.parameters()])


def test_mha_leaves_maps_dropout_and_narrow_inference_to_torch_module(monkeypatch):
    block = ATTENTION_BLOCKS["mha"](channels=4, n_heads=2)
    module_calls = []
    forward = block.mha.forward

    def recording(*args, **kwargs):
        module_calls.append(kwargs.get("need_weights"))
        return forward(*args, **kwargs)

    monkeypatch.setattr(block.mha, "forward", recording)
    monkeypatch.setattr(attention_module, "FLASH_MIN_POSITIONS_INFERENCE", 6)
    narrow, wide = torch.randn(2, 4, 5), torch.randn(2, 4, 6)
    block.train()
    block.attend(narrow)  # training: batch-first
    assert module_calls == []
    block.dropout = 0.5
    block.attend(narrow)  # attention dropout: the module's own
    assert module_calls == [False]
    block.dropout = 0.0
    block.eval()
    with torch.inference_mode():
        block.attend(narrow)  # torch's native inference path
        assert module_calls == [False, False]
        block.attend(wide)  # wide: batch-first
        assert module_calls == [False, False]
    block.need_weights = True
    _, weights = block.attend(wide)  # explain's maps: the module's
    assert module_calls == [False, False, True]
    assert weights.shape == (2, 6, 6)
