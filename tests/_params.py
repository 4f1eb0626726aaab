"""Estimator settings shared by the test modules."""

#: One epoch of a tiny network: for tests of input handling, not of learning.
FAST = {
    "d_token": 8,
    "n_heads": 2,
    "attention_dim": 8,
    "n_blocks": 1,
    "max_epochs": 1,
    "batch_size": 32,
    "early_stopping": False,
    "random_state": 0,
}
