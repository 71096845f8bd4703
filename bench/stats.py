"""Summaries of repeated measurements: median, min and max, and the ratio of two series."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    """Median, min and max of one measured quantity over the repeats."""

    median: float
    minimum: float
    maximum: float
    count: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        if not values:
            raise ValueError("no values to summarize")
        return cls(statistics.median(values), min(values), max(values), len(values))

    def ratio_to(self, other: Summary) -> Summary:
        """Ratio of two independently measured quantities: median/median, min/max, max/min."""
        return Summary(
            self.median / other.median,
            self.minimum / other.maximum,
            self.maximum / other.minimum,
            min(self.count, other.count),
        )

    def scaled(self, factor: float) -> Summary:
        return Summary(self.median * factor, self.minimum * factor, self.maximum * factor, self.count)

    def format(self, unit: str = "", digits: int = 2) -> str:
        """``1.23 (1.10–1.40)``: the median, then the range when there was more than one value."""
        text = f"{self.median:,.{digits}f}{unit}"
        if self.count > 1:
            text += f" ({self.minimum:,.{digits}f}–{self.maximum:,.{digits}f})"
        return text


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Element-wise ratios of two series measured in pairs (same repeat, same process)."""
    if len(numerators) != len(denominators):
        raise ValueError(f"series of different lengths: {len(numerators)} and {len(denominators)}")
    return [n / d for n, d in zip(numerators, denominators, strict=True)]


def seconds(value: float) -> str:
    """A duration with a unit that keeps three significant figures readable."""
    if value < 1e-3:
        return f"{value * 1e6:.0f} µs"
    if value < 1:
        return f"{value * 1e3:.1f} ms"
    return f"{value:.2f} s"


def seconds_summary(summary: Summary) -> str:
    text = seconds(summary.median)
    if summary.count > 1:
        text += f" ({seconds(summary.minimum)}–{seconds(summary.maximum)})"
    return text
