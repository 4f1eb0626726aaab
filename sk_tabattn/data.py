"""Fast batches for skorch: slices of whole tensors, no per-row collate.

skorch's default ``DataLoader`` indexes a dataset row by row and collates every
batch in Python; for a small tabular network that overhead rivals the compute.
:class:`TabularDataset` holds whole tensors and :class:`TensorBatchIterator`
yields ``index_select`` (shuffled) or view (ordered) slices of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .encoding import EncodedTable

Batch = tuple[dict[str, torch.Tensor], torch.Tensor | None]


class TabularDataset(Dataset):
    """Whole-tensor dataset of encoded rows, targets and sample weights.

    Parameters
    ----------
    table : EncodedTable
        Encoded inputs.
    y : ndarray or None, default=None
        Targets (int64 class indices, or float32 values).
    sample_weight : ndarray or None, default=None
        Per-row weights, passed to the loss with the inputs.
    """

    def __init__(
        self,
        table: EncodedTable,
        y: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ):
        # torch.as_tensor shares memory with the (already copied) arrays.
        self.inputs = {
            "x_num": torch.as_tensor(table.x_num),
            "x_cat": torch.as_tensor(table.x_cat),
        }
        if sample_weight is not None:
            self.inputs["sample_weight"] = torch.as_tensor(
                sample_weight, dtype=torch.float32
            )
        self.y = None if y is None else torch.as_tensor(y)

    def __len__(self) -> int:
        return len(self.inputs["x_num"])

    def __getitem__(self, i: int) -> Batch:
        # Row access, for code that uses a plain DataLoader on this dataset.
        return {k: v[i] for k, v in self.inputs.items()}, (
            torch.empty(0) if self.y is None else self.y[i]
        )

    def take(self, index: torch.Tensor) -> Batch:
        """Rows ``index`` (a LongTensor) of every tensor, in one gather each."""
        xs = {k: v.index_select(0, index) for k, v in self.inputs.items()}
        return xs, None if self.y is None else self.y.index_select(0, index)

    def slice(self, start: int, stop: int) -> Batch:
        """Rows ``start:stop`` as views (no copy)."""
        xs = {k: v[start:stop] for k, v in self.inputs.items()}
        return xs, None if self.y is None else self.y[start:stop]

    def never_missing(self) -> torch.Tensor:
        """Which columns have no missing value in these rows, in token order.

        A BoolTensor of shape ``(n_numeric + n_categorical,)``: no NaN in a
        numeric column, no index 0 (missing or unknown) in a categorical one.
        """
        x_num, x_cat = self.inputs["x_num"], self.inputs["x_cat"]
        return torch.cat([~torch.isnan(x_num).any(dim=0), (x_cat != 0).all(dim=0)])

    def seen_categories(self, cardinalities: Sequence[int]) -> torch.Tensor:
        """Which category indices these rows hold, column after column.

        A BoolTensor of shape ``(sum(cardinalities),)``, laid out as the
        tokenizer's embedding table: entry ``offset_j + i`` tells whether
        categorical column ``j`` has index ``i`` in some row.
        """
        x_cat = self.inputs["x_cat"]
        parts = [
            torch.bincount(x_cat[:, j], minlength=size) > 0
            for j, size in enumerate(cardinalities)
        ]
        return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.bool)

    def numeric_medians(self) -> np.ndarray:
        """Each numeric column's median value in these rows, missing values aside.

        The lower of the two middle values for an even count, so a value of
        the column itself; 0 for a column missing in every row. float32, of
        shape ``(n_numeric,)``.
        """
        x_num = self.inputs["x_num"].numpy()
        medians = np.zeros(x_num.shape[1], dtype=np.float32)
        observed = ~np.isnan(x_num).all(axis=0)
        if observed.any():
            medians[observed] = np.nanquantile(
                x_num[:, observed], 0.5, axis=0, method="lower"
            )
        return medians


class TensorBatchIterator:
    """Iterate over a :class:`TabularDataset` in batches; skorch's ``iterator_*``.

    Parameters
    ----------
    dataset : TabularDataset
        The data.
    batch_size : int
        Rows per batch.
    shuffle : bool, default=False
        Draw one permutation per pass (from torch's global generator, which the
        estimator seeds) and gather each batch from it. When shuffling, a last
        batch of a single row is merged into the one before, since a one-row
        batch gives a noisy step and breaks batch statistics.
    """

    def __init__(self, dataset: TabularDataset, batch_size: int, shuffle: bool = False):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle

    def _bounds(self) -> list[tuple[int, int]]:
        n, bs = len(self.dataset), self.batch_size
        starts = list(range(0, n, bs))
        bounds = [(s, min(s + bs, n)) for s in starts]
        if self.shuffle and len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
            bounds[-2:] = [(bounds[-2][0], n)]
        return bounds

    def __len__(self) -> int:
        return len(self._bounds())

    def __iter__(self) -> Iterator[Batch]:
        if not self.shuffle:
            for start, stop in self._bounds():
                yield self.dataset.slice(start, stop)
            return
        order = torch.randperm(len(self.dataset))
        for start, stop in self._bounds():
            yield self.dataset.take(order[start:stop])
