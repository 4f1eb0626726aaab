"""Hooks on a fitted network's forward pass, for ``explain``."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import torch

from ._attention_maps import returns_maps


class Recorder:
    """Hooks that record the tokens and each conv block's input, or swap the tokens.

    With ``substitute`` set, the tokenizer's output is replaced by it: the
    integrated-gradient passes run the network from interpolated tokens.
    """

    def __init__(self, module: Any, token_columns: torch.Tensor):
        self.module = module  # an AttentionCNN
        self.token_columns = token_columns
        self.tokens: torch.Tensor | None = None
        self.substitute: torch.Tensor | None = None
        self.conv_inputs: dict[tuple[int, int], torch.Tensor] = {}
        self._attention = [m for m in module.modules() if returns_maps(m)]

    def _tokens_hook(self, mod, inputs, output):
        if self.substitute is not None:
            return self.substitute
        self.tokens = output.detach()
        return output

    def _conv_hook(self, key):
        def hook(mod, inputs):
            if self.substitute is None:
                self.conv_inputs[key] = inputs[0].detach()

        return hook

    def need_weights(self, flag: bool) -> None:
        """Make the attention blocks return their maps (the fused kernels don't)."""
        for m in self._attention:
            m.need_weights = flag

    def run(self, x_num, x_cat, substitute=None):
        """Return the output and weights, from ``substitute`` tokens if given."""
        self.substitute = substitute
        try:
            return self.module.explain_forward(x_num, x_cat)
        finally:
            self.substitute = None

    @contextmanager
    def recording(self):
        """Eval mode with the hooks in place; all undone on exit."""
        module = self.module
        was_training = module.training
        handles = [module.tokenizer.register_forward_hook(self._tokens_hook)]
        for s, branch in enumerate(module.branches):
            for c, conv in enumerate(branch.convs):
                handles.append(conv.register_forward_pre_hook(self._conv_hook((s, c))))
        module.eval()
        try:
            yield self
        finally:
            self.need_weights(False)
            for h in handles:
                h.remove()
            module.train(was_training)
