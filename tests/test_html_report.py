"""The HTML report: unit tests on hand-built records, and a headless Chromium rendering of one."""

from __future__ import annotations

import html.parser
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pytest_xcom.record import XComPull, XComPush, XComRun
from pytest_xcom.reporting.graph import layers, layout, xcom_edges
from pytest_xcom.reporting.html import render_html
from pytest_xcom.sizes import human, json_size

# -- building records by hand ----------------------------------------------------------------


def push(
    task_id: str, value: Any, key: str = "return_value", map_index: int = -1, stored: Any = None
) -> XComPush:
    """A push as the recorder makes it; ``stored`` given: the backend offloaded it and kept that."""
    size = json_size(value)
    offloaded = stored is not None
    return XComPush(
        task_id=task_id,
        map_index=map_index,
        key=key,
        value=value,
        size=size,
        stored=stored if offloaded else value,
        stored_size=json_size(stored) if offloaded else size,
        offloaded=offloaded,
        json_serializable=True,
        type_name=type(value).__name__,
    )


def pull(
    reader: str, source: str, key: str = "return_value", *, map_index: int = -1,
    source_map_index: int | None = None, kind: str = "argument", found: bool = True,
) -> XComPull:
    return XComPull(reader, map_index, source, source_map_index, key, kind, found)


def make_run(
    task_ids: tuple[str, ...], pushes: list[XComPush], pulls: list[XComPull], **kwargs: Any
) -> XComRun:
    states: dict[str, Any] = {t: "success" for t in task_ids}
    states.update(kwargs.pop("task_states", {}))
    return XComRun(
        dag_id=kwargs.pop("dag_id", "demo"),
        run_id="manual__2024-01-01T00:00:00+00:00",
        logical_date=None,
        state=kwargs.pop("state", "success"),
        task_states=states,
        failures=kwargs.pop("failures", {}),
        pushes=pushes,
        pulls=pulls,
        deletes=[],
        task_ids=task_ids,
        **kwargs,
    )


FAILURE = """Traceback (most recent call last):
  File "dags/orders.py", line 61, in report
    raise ValueError(f"expected 4 columns, got {len(columns)}")
ValueError: expected 4 columns, got 5
"""


def realistic_run() -> XComRun:
    """extract -> transform (mapped x3) -> load -> report; multiple_outputs, offloading, a failure."""
    cities = ["Lyon", "Oslo", "Quito"]
    records = [{"id": i, "city": city, "amount": 10.5 * (i + 1)} for i, city in enumerate(cities)]
    raw = "order_id,city,amount\n" + "".join(f"{i},city-{i % 40},{i * 1.25:.2f}\n" for i in range(9000))
    cleaned = [{**r, "amount_eur": round(r["amount"] * 0.92, 2), "valid": True} for r in records]
    pushes = [
        push("extract", records),
        push("extract", raw, key="raw_csv", stored="s3://xcom-bucket/demo/extract/raw_csv.json"),
        *(push("transform", row, map_index=i) for i, row in enumerate(cleaned)),
        push("load", {"table": "analytics.orders", "rows": 3}),
        push("summarize", 3, key="row_count"),
        push("summarize", ["id", "city", "amount", "amount_eur"], key="columns"),
        push("summarize", {"row_count": 3, "columns": ["id", "city", "amount", "amount_eur"]}),
        push("archive", "s3://archive/orders/2024-01-01.csv.gz"),
    ]
    pulls = [
        *(pull("transform", "extract", map_index=i) for i in range(3)),
        *(pull("load", "transform", source_map_index=i) for i in range(3)),
        pull("summarize", "extract"),
        pull("archive", "extract", "raw_csv", kind="explicit"),
        pull("report", "load"),
        pull("report", "summarize", "row_count", kind="explicit"),
        pull("report", "summarize", "columns", kind="explicit"),
    ]
    return make_run(
        ("extract", "transform", "load", "summarize", "archive", "report", "notify"),
        pushes,
        pulls,
        dag_id="orders_daily",
        state="failed",
        task_states={"transform": ["success"] * 3, "report": "failed", "notify": "upstream_failed"},
        mapped_task_ids=frozenset({"transform"}),
        failures={"report": FAILURE},
        duration=2.31,
    )


def small_run() -> XComRun:
    return make_run(
        ("a", "b"), [push("a", {"x": 1})], [pull("b", "a")], dag_id="small", state="success",
    )


# -- unit tests --------------------------------------------------------------------------------


class Nodes(html.parser.HTMLParser):
    """Collects the data-task-id of every element whose class list holds xcom-node."""

    def __init__(self) -> None:
        super().__init__()
        self.task_ids: list[str] = []
        self.edges: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if "xcom-node" in classes:
            self.task_ids.append(a["data-task-id"] or "")
        if "xcom-edge" in classes:
            self.edges.append((a["data-source"] or "", a["data-target"] or "", a["class"] or ""))


def parse(page: str) -> Nodes:
    parser = Nodes()
    parser.feed(page)
    return parser


def test_every_task_is_a_node_even_without_xcom_traffic() -> None:
    page = render_html([("tests/test_dag.py::test_orders", realistic_run())])
    assert parse(page).task_ids == list(realistic_run().task_ids)
    assert "notify" in realistic_run().task_ids  # a task with no XCom traffic at all


def test_edges_follow_found_reads_with_key_and_size() -> None:
    run = realistic_run()
    page = render_html([("t::orders", run)])
    edges = {(s, t) for s, t, _ in parse(page).edges}
    assert edges == {
        ("extract", "transform"), ("transform", "load"), ("extract", "summarize"),
        ("extract", "archive"), ("load", "report"), ("summarize", "report"),
    }
    # a mapped source: the edge's size is the sum over its map indexes
    assert f"return_value  {human(run.size('transform'))}" in page
    assert f'data-key="row_count">row_count  {human(run.size("summarize", "row_count"))}' in page
    assert 'data-key="columns"' in page


def test_reads_that_found_nothing_and_self_reads_draw_no_edge() -> None:
    run = make_run(("a", "b"), [push("a", 1)], [pull("b", "a", "missing", found=False), pull("a", "a")])
    page = render_html([("t::x", run)])
    assert parse(page).edges == []
    assert "Reads that found nothing" in page


def test_offloaded_value_is_a_dashed_edge_labelled_offloaded() -> None:
    page = render_html([("t::orders", realistic_run())])
    offloaded = [(s, t) for s, t, cls in parse(page).edges if "xcom-edge-offloaded" in cls]
    assert offloaded == [("extract", "archive")]
    assert "stroke-dasharray" in page
    label = r'data-key="raw_csv">raw_csv  [\d.]+ KiB</text>\s*<text class="off" [^>]*>offloaded</text>'
    assert re.search(label, page)


def test_mapped_task_shows_its_expansion_count_and_failures_are_coloured() -> None:
    page = render_html([("t::orders", realistic_run())])
    assert '<g class="xcom-node state-ok mapped" data-task-id="transform" data-expansions="3">' in page
    assert re.search(r'data-task-id="transform".*?<g class="badge-mapped">.*?>\u00d73</text>', page)
    assert "success \u00d73" in page  # the instances' states, counted
    assert '<g class="xcom-node state-failed" data-task-id="report">' in page
    assert '<g class="xcom-node state-upfailed" data-task-id="notify">' in page
    assert "ValueError: expected 4 columns, got 5" in page  # the failures table


def test_layers_are_longest_paths_with_task_order_for_ties() -> None:
    run = realistic_run()
    assert layers(list(run.task_ids), xcom_edges(run)) == {
        "extract": 0, "notify": 0, "transform": 1, "summarize": 1, "archive": 1, "load": 2, "report": 3,
    }


def test_a_mapped_source_read_at_some_indexes_counts_only_those() -> None:
    pushes = [push("m", "x" * 98, map_index=i) for i in range(3)]  # 100 bytes each as JSON
    run = make_run(
        ("m", "one"), pushes, [pull("one", "m", source_map_index=1)],
        task_states={"m": ["success"] * 3}, mapped_task_ids=frozenset({"m"}),
    )
    [edge] = xcom_edges(run)
    assert edge.keys == {"return_value": (100, False)}


def test_layout_never_overlaps_nodes_or_labels() -> None:
    run = realistic_run()
    boxes, routes, width, height = layout(run)
    stack = {task_id: 8 if task_id in run.mapped_task_ids else 0 for task_id in boxes}  # cards behind
    rects = [(b.x, b.y - stack[t], b.w + stack[t], b.h + stack[t]) for t, b in boxes.items()]
    rects += [(cx - w / 2, top, w, h) for cx, top, w, h in (r.label for r in routes)]
    for i, (x, y, w, h) in enumerate(rects):
        assert 0 <= x and x + w <= width and 0 <= y and y + h <= height
        for x2, y2, w2, h2 in rects[i + 1:]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y, (rects[i], (x2, y2, w2, h2))


def test_odd_records_still_render() -> None:
    """No task ids, a read from a task the DAG lacks, a read cycle, a mapped task with no instances."""
    odd = make_run((), [push("a", 1), push("b", 2)], [pull("b", "a"), pull("a", "b"), pull("c", "ghost")])
    empty = make_run(("m",), [], [], task_states={"m": []}, mapped_task_ids=frozenset({"m"}))
    page = render_html([("t::odd", odd), ("t::empty", empty)])
    assert parse(page).task_ids == ["a", "b", "c", "ghost", "m"]
    assert 'data-expansions="0"' in page and "no instances" in page


def test_pushes_table_and_summary() -> None:
    page = render_html([("t::orders", realistic_run()), ("t::small", small_run())], title="CI report")
    assert "<title>CI report</title>" in page
    assert "<b>2</b> run(s)" in page
    assert "Largest XComs" in page
    for header in ("task", "map index", "key", "size", "stored size", "offloaded", "readers"):
        assert f"<th>{header}</th>" in page
    assert "<code>transform[0]</code>, <code>transform[1]</code>, <code>transform[2]</code>" in page


def test_user_data_is_escaped() -> None:
    evil = "<script>alert('x')</script>"
    run = make_run(
        (evil, "b&c"),
        [push(evil, '</td><img src=x onerror="alert(1)">', key='k"ey')],
        [pull("b&c", evil, 'k"ey')],
        dag_id="<b>dag</b>",
        failures={evil: "<boom>"},
        state="failed",
        task_states={evil: "failed"},
    )
    page = render_html([("t::<i>test</i>", run)], title="<h1>")
    assert "<script" not in page
    assert "<img" not in page and "<b>dag</b>" not in page and "<i>test</i>" not in page
    assert parse(page).task_ids == [evil, "b&c"]  # the parser unescapes attribute values
    assert "&lt;script&gt;" in page and "k&quot;ey" in page


def test_page_is_self_contained() -> None:
    page = render_html([("t::orders", realistic_run()), ("t::small", small_run())])
    assert not re.search(r"""(src|href|xlink:href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "http://" not in page and "https://" not in page
    assert "@import" not in page and "url(http" not in page
    assert "Content-Security-Policy" in page


def test_no_runs_still_renders() -> None:
    assert "No DAG runs were recorded" in render_html([])


# -- real headless browser -----------------------------------------------------------------


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
            f"--user-data-dir={profile}", *args,
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )


def screenshot(binary: str, page: Path, png: Path, profile: Path, size: str = "1400,1000") -> None:
    result = run_chromium(binary, profile, f"--screenshot={png}", f"--window-size={size}", page.as_uri())
    assert png.exists(), f"chromium wrote no screenshot:\n{result.stderr[-2000:]}"


def test_chromium_renders_one_node_per_task(tmp_path: Path) -> None:
    binary = chromium()
    if binary is None:
        pytest.skip("no chromium binary on PATH (apt-get install -y chromium)")
    run = realistic_run()
    page = tmp_path / "report.html"
    page.write_text(render_html([("tests/test_orders.py::test_daily", run)]), encoding="utf-8")

    result = run_chromium(binary, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = parse(result.stdout)
    assert dom.task_ids == list(run.task_ids), json.dumps(dom.task_ids)
    assert len(dom.edges) == 6

    png = tmp_path / "report.png"
    screenshot(binary, page, png, tmp_path / "profile2")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000
