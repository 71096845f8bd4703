"""A self-contained HTML report of recorded runs: a layered SVG flow graph per run, and its tables.

Everything (CSS, SVG) is inline: the file loads nothing over the network when viewed.
"""

from __future__ import annotations

import math
import reprlib
import unicodedata
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any, Optional

from pytest_xcom.sizes import human

if TYPE_CHECKING:
    from pytest_xcom.record import XComPush, XComRun

NODE_H, DUMMY_H, V_GAP, MARGIN = 52, 14, 28, 24
TITLE_PX, SMALL_PX, MONO_EM = 13, 11, 0.62  # monospace glyphs are ~0.6em wide: widths are predictable
LINE_H = 14
STATE_CLASS = {"success": "ok", "failed": "failed", "upstream_failed": "upfailed", "skipped": "skipped"}

_preview = reprlib.Repr()
_preview.maxstring, _preview.maxother, _preview.maxlist, _preview.maxdict, _preview.maxlevel = 60, 60, 4, 4, 2


def e(value: Any) -> str:
    return escape(str(value), quote=True)


def text_width(text: str, px: float) -> float:
    """Width of ``text`` in the report's monospace font (wide East Asian glyphs count twice)."""
    cells = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return cells * px * MONO_EM


def shorten(text: str, limit: int = 36) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# -- the graph behind a run ------------------------------------------------------------------


@dataclass
class Edge:
    """Every found read of ``source``'s XComs by ``target``: key -> (bytes, offloaded)."""

    source: str
    target: str
    keys: dict[str, tuple[int, bool]]

    @property
    def size(self) -> int:
        return sum(size for size, _ in self.keys.values())

    @property
    def offloaded(self) -> bool:
        return any(off for _, off in self.keys.values())

    def label_lines(self) -> list[str]:
        """One line per key, and an "offloaded" line under a key whose value left the DB."""
        lines: list[str] = []
        for key, (size, off) in self.keys.items():
            lines += [f"{key}  {human(size)}"] + (["offloaded"] if off else [])
        return lines


def task_order(run: XComRun) -> list[str]:
    """The DAG's task ids, then any id the record mentions that is not among them."""
    seen = dict.fromkeys(run.task_ids)
    for task_id in [*run.task_states, *(p.task_id for p in run.pushes)]:
        seen.setdefault(task_id)
    for pull in run.pulls:
        seen.setdefault(pull.task_id)
        if pull.found:
            seen.setdefault(pull.source_task_id)
    return list(seen)


def xcom_edges(run: XComRun) -> list[Edge]:
    """One edge per (source, reader) pair with at least one found read; self-reads are left out."""
    reads: dict[tuple[str, str], dict[str, Optional[set[int]]]] = {}
    for pull in run.pulls:
        if not pull.found or pull.source_task_id == pull.task_id:
            continue
        by_key = reads.setdefault((pull.source_task_id, pull.task_id), {})
        indexes = by_key.setdefault(pull.key, set())
        if indexes is not None:  # None: the whole key was read (every map index)
            by_key[pull.key] = None if pull.source_map_index is None else indexes | {pull.source_map_index}
    pushed: dict[tuple[str, str], list[XComPush]] = {}
    for push in run.effective_pushes():
        pushed.setdefault((push.task_id, push.key), []).append(push)
    order = {task_id: i for i, task_id in enumerate(task_order(run))}
    edges = []
    for (source, target), by_key in sorted(reads.items(), key=lambda kv: (order[kv[0][0]], order[kv[0][1]])):
        keys: dict[str, tuple[int, bool]] = {}
        for key, indexes in sorted(by_key.items()):
            matching = [
                p
                for p in pushed.get((source, key), [])
                if indexes is None or source not in run.mapped_task_ids or p.map_index in indexes
            ]
            keys[key] = (sum(p.size for p in matching), any(p.offloaded for p in matching))
        edges.append(Edge(source, target, keys))
    return edges


def layers(nodes: list[str], edges: list[Edge], dependencies: tuple[tuple[str, str], ...] = ()) -> dict[str, int]:
    """Longest path from the sources over the XCom edges and the DAG's own dependencies.

    A cycle (never in a sane record) is broken.
    """
    preds: dict[str, set[str]] = {n: set() for n in nodes}
    for edge in edges:
        preds[edge.target].add(edge.source)
    for upstream, downstream in dependencies:
        if upstream in preds and downstream in preds:
            preds[downstream].add(upstream)
    layer: dict[str, int] = {}
    while len(layer) < len(nodes):
        ready = [n for n in nodes if n not in layer and preds[n] <= layer.keys()]
        if not ready:  # a cycle: take the first pending node, ignoring its pending predecessors
            ready = [next(n for n in nodes if n not in layer)]
        for n in ready:
            layer[n] = 1 + max((layer[p] for p in preds[n] if p in layer), default=-1)
    return layer


# -- layout and SVG ------------------------------------------------------------------------


@dataclass
class Box:
    """A task node, or a waypoint of an edge that crosses a layer (task_id None)."""

    task_id: Optional[str]
    order: float
    w: float = 0.0
    h: float = float(DUMMY_H)
    x: float = 0.0
    y: float = 0.0
    lines: list[str] = field(default_factory=list)
    pushed: int = 0  # bytes of XCom the task pushed

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


@dataclass
class Route:
    """Where an edge is drawn: its boxes, the y where it leaves the source and enters the target."""

    edge: Edge
    boxes: list[Box]
    start_y: float = 0.0
    end_y: float = 0.0
    label: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # centre x, top, width, height

    def points(self) -> list[tuple[float, float]]:
        src, *waypoints, dst = self.boxes
        points = [(src.x + src.w, self.start_y)]
        for waypoint in waypoints:
            points += [(waypoint.x, waypoint.cy), (waypoint.x + waypoint.w, waypoint.cy)]
        return points + [(dst.x - 1, self.end_y)]


def task_state(run: XComRun, task_id: str) -> tuple[str, str]:
    """(CSS class, text) for a task's state; a mapped task's instances are counted by state."""
    raw = run.task_states.get(task_id)
    if task_id in run.mapped_task_ids or isinstance(raw, list):
        states = [str(getattr(s, "value", s)) for s in (raw if isinstance(raw, list) else [])]
        worst: Optional[str] = next((s for s in ("failed", "upstream_failed") if s in states), None)
        worst = worst or (states[0] if states and len(set(states)) == 1 else "mixed")
        counts = ", ".join(f"{s} \u00d7{states.count(s)}" for s in dict.fromkeys(states)) or "no instances"
        return STATE_CLASS.get(worst, "other"), counts
    state = "no status" if raw is None else str(getattr(raw, "value", raw))
    return STATE_CLASS.get(state, "other"), state


def layout(run: XComRun) -> tuple[dict[str, Box], list[Route], float, float]:
    """Columns by layer (longest path), rows by task order; each edge gets ports and a label spot."""
    nodes, edges = task_order(run), xcom_edges(run)
    layer = layers(nodes, edges, run.dependencies)
    out_bytes: dict[str, int] = {}
    for push in run.effective_pushes():
        out_bytes[push.task_id] = out_bytes.get(push.task_id, 0) + push.size
    columns: list[list[Box]] = [[] for _ in range(max(layer.values(), default=0) + 1)]
    boxes: dict[str, Box] = {}
    for i, task_id in enumerate(nodes):
        pushed = out_bytes.get(task_id, 0)
        sub = task_state(run, task_id)[1] + (f" \u00b7 {human(pushed)} out" if pushed else "")
        lines = [shorten(task_id), sub]
        width = max(text_width(lines[0], TITLE_PX) + badge_width(run, task_id) + 8, text_width(sub, SMALL_PX))
        boxes[task_id] = Box(task_id, i, max(width + 28, 120), NODE_H, lines=lines, pushed=pushed)
        columns[layer[task_id]].append(boxes[task_id])
    routes = []
    for edge in edges:
        src, dst = boxes[edge.source], boxes[edge.target]
        crossed = range(layer[edge.source] + 1, layer[edge.target])
        waypoints = [Box(None, src.order + 0.5) for _ in crossed]
        for col, waypoint in zip(crossed, waypoints):
            columns[col].append(waypoint)
        routes.append(Route(edge, [src, *waypoints, dst]))
    # x: columns left to right; a gap is as wide as the labels of the edges that start in it
    gap = [70.0] * len(columns)
    for route in routes:
        w, h = label_size(route.edge)
        route.label = (0.0, 0.0, w, h)
        gap[layer[route.edge.source]] = max(gap[layer[route.edge.source]], w + 36)
    x, heights, gap_x = float(MARGIN), [], []
    for col, column in enumerate(columns):
        column.sort(key=lambda b: b.order)
        col_w = max((b.w for b in column), default=0)
        for box in column:
            box.x = x + (col_w - box.w) / 2
        heights.append(sum(b.h for b in column) + V_GAP * max(len(column) - 1, 0))
        gap_x.append(x + col_w)
        x += col_w + gap[col]
    width = x - gap[-1] + MARGIN
    for column, height in zip(columns, heights):  # y: each column centred on the tallest
        y = MARGIN + 10 + (max(heights) - height) / 2
        for box in column:
            box.y, y = y, y + box.h + V_GAP
    # ports: the edges leaving (entering) a node are spread over its right (left) side
    for task_id, box in boxes.items():
        leaving = sorted((r for r in routes if r.boxes[0] is box), key=lambda r: r.boxes[1].cy)
        entering = sorted((r for r in routes if r.boxes[-1] is box), key=lambda r: r.boxes[-2].cy)
        for k, route in enumerate(leaving):
            route.start_y = box.y + box.h * (k + 1) / (len(leaving) + 1)
        for k, route in enumerate(entering):
            route.end_y = box.y + box.h * (k + 1) / (len(entering) + 1)
    # labels: mid-way along each edge's first hop, inside the gap, pushed down where they would overlap
    for col in range(len(columns)):
        starting = sorted((r for r in routes if layer[r.edge.source] == col), key=lambda r: label_mid(r)[1])
        bottom = -math.inf
        for route in starting:
            (cx, cy), (_, _, w, h) = label_mid(route), route.label
            cx = min(max(cx, gap_x[col] + w / 2 + 12), gap_x[col] + gap[col] - w / 2 - 12)
            top = max(cy - h / 2, bottom + 6)
            route.label, bottom = (cx, top, w, h), top + h
    height = max([MARGIN + 10 + max(heights, default=0)] + [r.label[1] + r.label[3] for r in routes]) + MARGIN
    return boxes, routes, width, height


def label_size(edge: Edge) -> tuple[float, float]:
    lines = edge.label_lines()
    return max(text_width(line, SMALL_PX) for line in lines) + 16, LINE_H * len(lines) + 8


def label_mid(route: Route) -> tuple[float, float]:
    (x0, y0), (x1, y1) = route.points()[:2]
    return (x0 + x1) / 2, (y0 + y1) / 2


def badge_width(run: XComRun, task_id: str) -> float:
    return text_width(badge_text(run, task_id), SMALL_PX) + 12 if task_id in run.mapped_task_ids else 0.0


def badge_text(run: XComRun, task_id: str) -> str:
    states = run.task_states.get(task_id)
    return f"\u00d7{len(states) if isinstance(states, list) else 0}"


def render_svg(run: XComRun, uid: str) -> str:
    boxes, routes, width, height = layout(run)
    parts = [
        f'<svg class="xcom-graph" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="XCom flow of {e(run.dag_id)}"><defs>',
        *(
            f'<marker id="{uid}-{kind}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" '
            f'markerHeight="9" markerUnits="userSpaceOnUse" orient="auto">'
            f'<path d="M0,0 L10,5 L0,10 z" class="arrow-{kind}"/></marker>'
            for kind in ("inline", "offloaded")
        ),
        "</defs>",
    ]
    for route in routes:
        edge = route.edge
        kind = "offloaded" if edge.offloaded else "inline"
        stroke = 1.3 + min(2.0, math.log2(1 + edge.size / 256) * 0.3)
        (x0, y0), *rest = route.points()
        d = f"M{x0:.1f},{y0:.1f}"
        for (xa, ya), (xb, yb) in zip(route.points(), rest):
            d += f" C{(xa + xb) / 2:.1f},{ya:.1f} {(xa + xb) / 2:.1f},{yb:.1f} {xb:.1f},{yb:.1f}"
        parts.append(
            f'<g class="xcom-edge xcom-edge-{kind}" '
            f'data-source="{e(edge.source)}" data-target="{e(edge.target)}">'
            f"<title>{e(edge.source)} \u2192 {e(edge.target)}: {e('; '.join(edge.label_lines()))}</title>"
            f'<path d="{d}" stroke-width="{stroke:.1f}" marker-end="url(#{uid}-{kind})"/></g>'
        )
    for route in routes:
        cx, top, w, h = route.label
        kind = "offloaded" if route.edge.offloaded else "inline"
        parts.append(f'<g class="xcom-label xcom-label-{kind}"><rect x="{cx - w / 2:.1f}" y="{top:.1f}" '
                     f'width="{w:.1f}" height="{h:.1f}" rx="4"/>')
        y = top + 1
        for key, (size, off) in route.edge.keys.items():
            y += LINE_H
            parts.append(f'<text x="{cx:.1f}" y="{y:.1f}" data-key="{e(key)}">'
                         f"{e(key)}  {e(human(size))}</text>")
            if off:
                y += LINE_H
                parts.append(f'<text class="off" x="{cx:.1f}" y="{y:.1f}">offloaded</text>')
        parts.append("</g>")
    parts += [render_node(run, box) for box in boxes.values()]
    parts.append("</svg>")
    return "\n".join(parts)


def render_node(run: XComRun, box: Box) -> str:
    task_id = box.task_id or ""
    css, state = task_state(run, task_id)
    mapped = task_id in run.mapped_task_ids
    tip = f"{task_id}: {state}, " + (f"{human(box.pushed)} of XCom out" if box.pushed else "no XCom pushed")
    classes = f"xcom-node state-{css}" + (" mapped" if mapped else "")
    extra = f' data-expansions="{badge_text(run, task_id)[1:]}"' if mapped else ""
    parts = [f'<g class="{classes}" data-task-id="{e(task_id)}"{extra}><title>{e(tip)}</title>']
    if mapped:  # a stack of cards: one task, many instances
        for dx in (8, 4):
            parts.append(f'<rect class="stack" x="{box.x + dx:.1f}" y="{box.y - dx:.1f}" '
                         f'width="{box.w:.1f}" height="{box.h:.1f}" rx="7"/>')
    parts.append(f'<rect class="card" x="{box.x:.1f}" y="{box.y:.1f}" '
                 f'width="{box.w:.1f}" height="{box.h:.1f}" rx="7"/>')
    parts.append(f'<text class="task-id" x="{box.x + 14:.1f}" y="{box.y + 21:.1f}">{e(box.lines[0])}</text>')
    parts.append(f'<text class="task-sub" x="{box.x + 14:.1f}" y="{box.y + 39:.1f}">{e(box.lines[1])}</text>')
    if mapped:
        bw = badge_width(run, task_id)
        parts.append(f'<g class="badge-mapped"><rect x="{box.x + box.w - bw - 8:.1f}" y="{box.y + 8:.1f}" '
                     f'width="{bw:.1f}" height="17" rx="8.5"/><text x="{box.x + box.w - bw / 2 - 8:.1f}" '
                     f'y="{box.y + 20.5:.1f}">{e(badge_text(run, task_id))}</text></g>')
    parts.append("</g>")
    return "".join(parts)


# -- tables and page -----------------------------------------------------------------------


def instance(task_id: str, map_index: int) -> str:
    return f"{task_id}[{map_index}]" if map_index >= 0 else task_id


def readers_index(run: XComRun) -> dict[tuple[str, str], list[tuple[Optional[int], str]]]:
    """(source task, key) -> (source map index or None, reader instance) for every found read."""
    index: dict[tuple[str, str], list[tuple[Optional[int], str]]] = {}
    for pull in run.pulls:
        if pull.found:
            index.setdefault((pull.source_task_id, pull.key), []).append(
                (pull.source_map_index, instance(pull.task_id, pull.map_index))
            )
    return index


def table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    """``rows`` hold HTML already escaped."""
    header = "".join(f"<th>{e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'


def sorted_pushes(run: XComRun) -> list[XComPush]:
    order = {task_id: i for i, task_id in enumerate(task_order(run))}
    return sorted(run.effective_pushes(), key=lambda p: (order.get(p.task_id, 0), p.map_index, p.key))


def render_run(number: int, test_id: str, run: XComRun) -> str:
    pushes = sorted_pushes(run)
    reads = readers_index(run)
    rows = []
    for p in pushes:
        who = sorted({r for idx, r in reads.get((p.task_id, p.key), []) if idx in (None, p.map_index)})
        rows.append([
            f"<code>{e(p.task_id)}</code>",
            str(p.map_index) if p.map_index >= 0 else "\u2013",
            f"<code>{e(p.key)}</code>",
            f'<span class="num">{e(human(p.size))}</span>',
            f'<span class="num">{e(human(p.stored_size))}</span>',
            f'<span class="off" title="{e(_preview.repr(p.stored))}">yes</span>' if p.offloaded else "no",
            ", ".join(f"<code>{e(r)}</code>" for r in who) or '<span class="unused">nobody</span>',
            f'<code class="value">{e(_preview.repr(p.value))}</code>',
        ])
    total = sum(p.size for p in pushes)
    state_css = "ok" if run.state == "success" else "failed" if run.state == "failed" else "other"
    parts = [
        f'<section class="run" id="run-{number}">',
        f'<h2>{e(run.dag_id)} <span class="badge state-{state_css}">{e(run.state)}</span></h2>',
        f'<p class="meta">test <code>{e(test_id)}</code> \u00b7 run <code>{e(run.run_id)}</code> \u00b7 '
        f"backend <code>{e(run.backend)}</code> \u00b7 {run.duration:.2f} s \u00b7 {len(pushes)} XCom(s), "
        f"{e(human(total))} \u00b7 {len(run.pulls)} read(s)</p>",
        f'<div class="graph">{render_svg(run, f"run{number}")}</div>',
        "<h3>XComs pushed</h3>",
        table(["task", "map index", "key", "size", "stored size", "offloaded", "readers", "value"], rows)
        if rows else '<p class="empty">No XComs pushed.</p>',
    ]
    missing = [p for p in run.pulls if not p.found]
    if missing:
        parts += ["<h3>Reads that found nothing</h3>", table(["reader", "source", "key", "kind"], [
            [f"<code>{e(instance(p.task_id, p.map_index))}</code>", f"<code>{e(p.source_task_id)}</code>",
             f"<code>{e(p.key)}</code>", e(p.kind)] for p in missing])]
    if run.failures:
        parts += ["<h3>Failures</h3>", table(["task", "error"], [
            [f"<code>{e(where)}</code>", f"<pre>{e(text)}</pre>"] for where, text in run.failures.items()
        ], "failures")]
    if run.policy_violations:
        items = "".join(f"<li>{e(v)}</li>" for v in run.policy_violations)
        parts += ["<h3>Policy violations</h3>", f"<ul>{items}</ul>"]
    parts.append("</section>")
    return "\n".join(parts)


def render_summary(entries: list[tuple[str, XComRun]]) -> str:
    effective = [run.effective_pushes() for _, run in entries]
    everything = [(n, run, p) for n, (_, run), pushes in zip(range(1, len(entries) + 1), entries, effective)
                  for p in pushes]
    total = sum(p.size for *_, p in everything)
    stored = sum(p.stored_size for *_, p in everything)
    failed = sum(1 for _, run in entries if run.state != "success")
    largest = sorted(everything, key=lambda item: -item[2].size)[:5]
    parts = [
        '<section class="summary">',
        f'<p class="totals"><b>{len(entries)}</b> run(s) \u00b7 <b>{len(everything)}</b> XCom(s) \u00b7 '
        f"<b>{e(human(total))}</b> serialized, {e(human(stored))} in the metadata DB \u00b7 "
        f'<b class="{"bad" if failed else ""}">{failed}</b> run(s) not successful</p>',
        '<p class="legend"><span class="sw state-ok"></span>success '
        '<span class="sw state-failed"></span>failed <span class="sw state-upfailed"></span>upstream failed '
        '<span class="sw state-other"></span>other <span class="ln"></span>XCom read '
        '<span class="ln off"></span>offloaded XCom read \u00b7 stacked cards: mapped task</p>',
        table(["#", "test", "DAG", "state", "XComs", "bytes"], [
            [f'<a href="#run-{n}">{n}</a>', f"<code>{e(test_id)}</code>", f"<code>{e(run.dag_id)}</code>",
             e(run.state), str(len(pushes)), e(human(sum(p.size for p in pushes)))]
            for n, (test_id, run), pushes in zip(range(1, len(entries) + 1), entries, effective)
        ]),
    ]
    if largest:
        head = ["run", "task", "key", "size", "stored size", "offloaded"]
        parts += ["<h3>Largest XComs</h3>", table(head, [
            [f'<a href="#run-{n}">{e(run.dag_id)}</a>', f"<code>{e(instance(p.task_id, p.map_index))}</code>",
             f"<code>{e(p.key)}</code>", e(human(p.size)), e(human(p.stored_size)),
             "yes" if p.offloaded else "no"]
            for n, run, p in largest
        ])]
    parts.append("</section>")
    return "\n".join(parts)


CSP = "default-src 'none'; style-src 'unsafe-inline'"
CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","DejaVu Sans","Liberation Sans",sans-serif;
 color:#1f2933;background:#f6f7f9;margin:0;padding:24px 32px}
h1{font-size:22px;margin:0 0 12px}h2{font-size:18px;margin:0 0 4px}h3{font-size:14px;margin:18px 0 6px}
code,pre,.value,svg text{font-family:"DejaVu Sans Mono","Liberation Mono",Menlo,Consolas,monospace}
code{font-size:12.5px}pre{margin:0;white-space:pre-wrap;font-size:12px;max-height:18em;overflow:auto}
section{background:#fff;border:1px solid #dde2e8;border-radius:10px;padding:16px 20px;margin:0 0 20px}
.meta{color:#52606d;margin:0 0 10px}.bad{color:#c62828}.empty,.unused{color:#9aa5b1}
table{border-collapse:collapse;font-size:13px;margin:4px 0}
th,td{border-bottom:1px solid #e4e7eb;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600}.num{font-variant-numeric:tabular-nums;white-space:nowrap}
.off{color:#7b1fa2;font-weight:600}.value{color:#52606d}a{color:#3949ab}
.badge{font-size:12px;padding:2px 8px;border-radius:10px;vertical-align:middle;border:1px solid}
.graph{overflow-x:auto;background:#fbfcfd;border:1px solid #e4e7eb;border-radius:8px}
.legend .sw{display:inline-block;width:14px;height:10px;border:2px solid;border-radius:3px;
 margin:0 4px 0 10px}
.legend .ln{display:inline-block;width:28px;border-top:3px solid #5c6bc0;margin:0 4px 3px 12px}
.legend .ln.off{border-top:3px dashed #8e24aa}
.state-ok{background:#e8f5e9;border-color:#2e7d32;color:#1b5e20}
.state-failed{background:#fdecea;border-color:#c62828;color:#b71c1c}
.state-upfailed{background:#fff3e0;border-color:#ef6c00;color:#e65100}
.state-skipped{background:#f3f4f6;border-color:#9aa5b1;color:#616e7c}
.state-other{background:#eef2f7;border-color:#607d8b;color:#37474f}
svg .xcom-node rect{stroke-width:1.6}
svg .state-ok rect{fill:#e8f5e9;stroke:#2e7d32}svg .state-failed rect{fill:#fdecea;stroke:#c62828}
svg .state-upfailed rect{fill:#fff3e0;stroke:#ef6c00}svg .state-skipped rect{fill:#f3f4f6;stroke:#9aa5b1}
svg .state-other rect{fill:#eef2f7;stroke:#607d8b}svg .xcom-node rect.stack{fill:#fff}
svg .task-id{font-size:13px;font-weight:700;fill:#1f2933}svg .task-sub{font-size:11px;fill:#52606d}
svg .state-failed .task-sub{fill:#b71c1c}svg .state-upfailed .task-sub{fill:#e65100}
svg .xcom-edge path{fill:none;stroke:#5c6bc0;opacity:.85}
svg .xcom-edge-offloaded path{stroke:#8e24aa;stroke-dasharray:7 5}
svg .arrow-inline{fill:#5c6bc0}svg .arrow-offloaded{fill:#8e24aa}
svg .xcom-label rect{fill:#fff;stroke:#c5cae9;opacity:.95}svg .xcom-label-offloaded rect{stroke:#ce93d8}
svg .xcom-label text{font-size:11px;fill:#283593;text-anchor:middle}
svg .xcom-label .off{fill:#7b1fa2;font-weight:700}svg .badge-mapped rect{fill:#3949ab;stroke:none}
svg .badge-mapped text{font-size:11px;font-weight:700;fill:#fff;text-anchor:middle}
"""


def render_html(entries: list[tuple[str, XComRun]], *, title: str = "pytest-xcom report") -> str:
    """The whole report: a summary, then per (test node id, run) its flow graph and tables."""
    body = [render_summary(entries)] if entries else ['<p class="empty">No DAG runs were recorded.</p>']
    body += [render_run(n, test_id, run) for n, (test_id, run) in enumerate(entries, 1)]
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # Nothing may load from anywhere: the report must look the same offline.
        f'<meta http-equiv="Content-Security-Policy" content="{e(CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        *body,
        "</body></html>",
    ])
