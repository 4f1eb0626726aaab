"""scikit-learn's own estimator checks, over several configurations."""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_tabattn import AttentionCNNClassifier, AttentionCNNRegressor, TabularEncoder

# Enough epochs to clear the checks' accuracy (0.83) and R^2 (0.5) bars.
CHECK_PARAMS = {
    "d_token": 8,
    "n_heads": 2,
    "attention_dim": 8,
    "n_blocks": 1,
    "max_epochs": 40,
    "batch_size": 32,
    "lr": 1e-2,
    "early_stopping": False,
    "random_state": 0,
}

_NN_XFAILS = {
    "check_sample_weight_equivalence_on_dense_data": (
        "Integer weights are not equivalent to repeated rows for a network "
        "trained by stochastic mini-batches: the batches differ."
    ),
    "check_sample_weight_equivalence_on_sparse_data": (
        "Integer weights are not equivalent to repeated rows for a network "
        "trained by stochastic mini-batches: the batches differ."
    ),
}

ESTIMATORS = [
    AttentionCNNClassifier(attention="none", **CHECK_PARAMS),
    AttentionCNNClassifier(attention="multihead", **CHECK_PARAMS),
    AttentionCNNClassifier(attention="row", **CHECK_PARAMS),
    AttentionCNNRegressor(attention="none", **CHECK_PARAMS),
    AttentionCNNRegressor(attention="multihead", **CHECK_PARAMS),
    AttentionCNNRegressor(attention="row", **CHECK_PARAMS),
    TabularEncoder(),
]


def _expected_failed_checks(estimator):
    if isinstance(estimator, TabularEncoder):
        return {}
    return _NN_XFAILS


# A float32 network rounds a row's output differently when the row is alone
# than inside a larger batch, or at another position of its batch (BLAS
# blocking): ~1e-7 relative, just above these checks' float64 tolerance of
# 1e-7, and machine-dependent (the order check passed on 2026-11-22's machine
# and failed by 2.4e-7 on 2026-11-23's), so it is neither a pass nor a reliable
# strict xfail. tests/test_estimators.py::test_predictions_do_not_depend
# _on_the_batch checks both properties at float32 tolerance for every block.
_FLOAT32_TOLERANCE_CHECKS = {
    "check_methods_subset_invariance",
    "check_methods_sample_order_invariance",
}


def _listed(mark: pytest.MarkDecorator) -> pytest.MarkDecorator:
    """``mark`` with its parameter sets in a list.

    scikit-learn < 1.7 passes the checks to ``parametrize`` as a generator,
    which pytest 9 deprecates (an error under this suite's warning filters).
    """
    argnames, argvalues = mark.args
    return pytest.mark.parametrize(argnames, list(argvalues), **mark.kwargs)


@_listed(
    parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
)
def test_sklearn_compatible_estimator(estimator, check):
    name = getattr(check, "func", check).__name__
    if name in _FLOAT32_TOLERANCE_CHECKS and not isinstance(estimator, TabularEncoder):
        pytest.skip("float32 batch rounding; tested at float32 tolerance elsewhere")
    check(estimator)
