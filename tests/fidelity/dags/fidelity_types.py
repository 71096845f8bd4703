"""A tiny table type that Airflow's serde cannot serialize: the "pandas without pyarrow" stand-in.

It has no ``serialize``/``deserialize`` methods, is neither a dataclass, attrs class nor pydantic
model, and is not registered with serde, so ``airflow.sdk.serde.serialize`` raises on it. Only
the backend in ``fidelity_backends.FrameCsvXCom`` knows how to store it (as CSV text, which, like
a CSV round trip of a DataFrame, brings every cell back as a string).
"""

from __future__ import annotations

import csv
import io


class Frame:
    def __init__(self, columns, rows):
        self.columns = list(columns)
        self.rows = [tuple(row) for row in rows]

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return out.getvalue()

    @classmethod
    def from_csv(cls, text: str) -> Frame:
        header, *rows = list(csv.reader(io.StringIO(text)))
        return cls(header, rows)

    def __eq__(self, other):
        return isinstance(other, Frame) and (self.columns, self.rows) == (other.columns, other.rows)

    def __repr__(self) -> str:
        return f"Frame(columns={self.columns!r}, rows={self.rows!r})"
