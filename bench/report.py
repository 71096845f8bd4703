"""The results as markdown tables (printed and written to docs/explanation/benchmark-results.md) and a PNG chart."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sections import Results, Row, ScaleRow
from stats import Summary, seconds, seconds_summary

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# docs/explanation/benchmark-results.md is regenerated above this line; whatever follows it is kept as written.
KEEP_MARKER = "<!-- bench/run.py regenerates everything above this line; text below it is kept. -->"


SECTION_ORDER = (
    "Recording overhead",
    "Fresh migrated DB",
    "Cost per task instance",
    "XCom backends",
    "Cold start",
    "Watch mode",
    "pytest session",
    "Example suite, xdist",
    "Whole repository",
)


def _ordered(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda row: SECTION_ORDER.index(row.section))


def _verdict(met: bool | None) -> str:
    return "" if met is None else ("yes" if met else "**no**")


def _ratio(summary: Summary | None) -> str:
    if summary is None:
        return "–"
    return summary.format(digits=4 if summary.median < 0.01 else 3)


def _results_table(rows: list[Row], footnotes: list[str]) -> list[str]:
    columns = ("section", "measurement", "pytest-xcom (wall)", "baseline (wall)", "ratio, wall: median (min–max)",
               "ratio, CPU time", "target", "met (wall / CPU)")  # fmt: skip
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        target = "" if row.target is None else f"≤ {row.target:.2f}"
        met = "" if row.target is None else f"{_verdict(row.met)} / {_verdict(row.cpu_met) or '–'}"
        what = row.what
        if row.note:
            if row.note not in footnotes:
                footnotes.append(row.note)
            what += f" [{footnotes.index(row.note) + 1}]"
        lines.append(
            f"| {row.section} | {what} | {seconds_summary(row.ours)} | {seconds_summary(row.baseline)} "
            f"| {_ratio(row.ratio)} | {_ratio(row.cpu_ratio)} | {target} | {met} |"
        )
    return lines


def _marginals(rows: list[ScaleRow]) -> dict[str, tuple[float, float]]:
    """Per spec: (seconds, MiB) per extra element compared with the next smaller DAG of its kind."""
    marginal: dict[str, tuple[float, float]] = {}
    previous: dict[str, ScaleRow] = {}
    for row in sorted(rows, key=lambda r: r.elements):
        kind = row.spec.partition(":")[0]
        if kind in previous:
            smaller = previous[kind]
            extra = row.elements - smaller.elements
            marginal[row.spec] = (
                (row.seconds.median - smaller.seconds.median) / extra,
                (row.rss_growth_mib - smaller.rss_growth_mib) / extra,
            )
        previous[kind] = row
    return marginal


def _scaling_table(rows: list[ScaleRow]) -> list[str]:
    columns = ("DAG", "elements", "recorded", "harness wall time", "time / element", "marginal time / element",
               "plain dag.test() / element", "harness / plain (wall)", "harness / plain (CPU)", "peak RSS",
               "RSS growth", "marginal RSS / element")  # fmt: skip
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    marginal = _marginals(rows)
    for row in rows:
        if row.spec in marginal:
            extra_seconds, extra_mib = marginal[row.spec]
            extra_time, extra_rss = seconds(extra_seconds), f"{extra_mib * 1024:,.1f} KiB"
        else:
            extra_time = extra_rss = "–"
        plain = "–" if row.plain is None else seconds_summary(row.plain.scaled(1 / row.elements))
        lines.append(
            f"| `{row.spec}` | {row.elements:,} | {row.recorded:,} | {seconds_summary(row.seconds)} "
            f"| {seconds_summary(row.per_element)} | {extra_time} | {plain} | {_ratio(row.ratio)} "
            f"| {_ratio(row.cpu_ratio)} "
            f"| {row.rss_peak_mib:,.0f} MiB | {row.rss_growth_mib:,.1f} MiB | {extra_rss} |"
        )
    return lines


def markdown(results: Results, header: list[str]) -> str:
    footnotes: list[str] = []
    lines = [*header, "", "### Side by side", "", *_results_table(_ordered(results.rows), footnotes), ""]
    lines += [f"{number}. {text}" for number, text in enumerate(footnotes, 1)]
    if results.scaling:
        lines += ["", "### Scaling (harness only)", "", *_scaling_table(results.scaling)]
    if results.notes:
        lines += ["", *[f"- {note}" for note in results.notes]]
    return "\n".join(lines) + "\n"


def write_doc(path: Path, intro: str, tables: str, chart: Path | None) -> None:
    """Regenerate the top of ``path``, keeping the hand-written text after KEEP_MARKER."""
    kept = ""
    if path.exists():
        text = path.read_text()
        if KEEP_MARKER in text:
            kept = text.split(KEEP_MARKER, 1)[1]
    image = f"\n![benchmark chart]({chart.name})\n" if chart is not None else ""
    path.write_text(f"{intro}\n{tables}{image}\n{KEEP_MARKER}{kept}")


def chart(results: Results, path: Path) -> tuple[bool, str]:
    """Draw the chart; returns whether it was written and a message saying so or why not."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False, "chart skipped: matplotlib is not installed (pip install matplotlib)"
    panels = 3 if results.scaling else 2
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.8), layout="constrained")
    _ratios_panel(axes[0], _ordered(results.rows))
    _sessions_panel(axes[1], _ordered(results.rows))
    if results.scaling:
        _scaling_panel(axes[2], results.scaling)
    fig.suptitle("pytest-xcom benchmark")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True, f"chart written to {path}"


def _ratios_panel(ax: Axes, rows: list[Row]) -> None:
    targeted = [row for row in rows if row.target is not None]
    labels = [row.label for row in targeted]
    ys = range(len(targeted))
    medians = [row.ratio.median for row in targeted]
    errors = [
        [row.ratio.median - row.ratio.minimum for row in targeted],
        [row.ratio.maximum - row.ratio.median for row in targeted],
    ]
    colors = ["tab:green" if row.met else "tab:red" for row in targeted]
    ax.barh(ys, medians, xerr=errors, color=colors, alpha=0.8, capsize=3)
    for y, target in zip(ys, [row.target for row in targeted if row.target is not None], strict=False):
        ax.plot([target, target], [y - 0.4, y + 0.4], color="black", linewidth=2)
    with_cpu = [(y, row.cpu_ratio.median) for y, row in zip(ys, targeted, strict=True) if row.cpu_ratio is not None]
    if with_cpu:
        ax.plot([x for _, x in with_cpu], [y for y, _ in with_cpu], "D", color="navy", label="CPU-time ratio")
        ax.legend(fontsize=7, loc="lower right")
    ax.set_xscale("log")
    ax.set_yticks(list(ys), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("ratio pytest-xcom / baseline, wall (bars) and CPU (log; black = target)")
    ax.set_title("Ratios against targets")


def _sessions_panel(ax: Axes, rows: list[Row]) -> None:
    """Absolute times of the rows that are whole processes or DAG runs, ours next to baseline."""
    shown = [row for row in rows if row.ours.median >= 0.01]
    labels = [row.label for row in shown]
    xs = range(len(shown))
    ax.bar([x - 0.2 for x in xs], [row.ours.median for row in shown], width=0.4, label="pytest-xcom")
    ax.bar([x + 0.2 for x in xs], [row.baseline.median for row in shown], width=0.4, label="baseline")
    ax.set_xticks(list(xs), labels, rotation=25, ha="right", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("seconds (median, log)")
    ax.set_title("Wall times")
    ax.legend(fontsize=8)


def _scaling_panel(ax: Axes, rows: list[ScaleRow]) -> None:
    mapped = [row for row in rows if row.spec.startswith("mapped:")]
    others = [row for row in rows if not row.spec.startswith("mapped:")]
    ax.plot([r.elements for r in mapped], [r.seconds.median for r in mapped], "o-", label="mapped: wall time")
    for row in others:
        ax.plot([row.elements], [row.seconds.median], "s", label=f"{row.spec}: wall time")
    if mapped:
        base = mapped[0]
        top = max(r.elements for r in rows)
        ax.plot(
            [base.elements, top],
            [base.seconds.median, base.seconds.median * top / base.elements],
            ":",
            color="grey",
            label="linear from the smallest",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("elements (mapped expansions / chain tasks)")
    ax.set_ylabel("seconds")
    ax.set_title("Scaling through the harness")
    ax.legend(fontsize=8)
    for row in rows:
        ax.annotate(
            f"{seconds(row.per_element.median)}/el, +{row.rss_growth_mib:.0f} MiB",
            (row.elements, row.seconds.median),
            fontsize=7,
            textcoords="offset points",
            xytext=(4, -10),
        )
