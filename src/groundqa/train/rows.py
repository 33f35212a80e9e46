"""Pre-tokenised rows as a dataset: what the Trainer needs to index and length-group them."""

from __future__ import annotations


class Rows:
    """A list of tokenised rows (``{"input_ids": [...], ...}``) the Trainer can index."""

    def __init__(self, rows: list[dict[str, list[int]]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        return self.rows[i]
