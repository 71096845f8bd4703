"""The flow graph of a run: which task read which XComs, laid out in layers with label spots."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pytest_xcom.sizes import human

if TYPE_CHECKING:
    from pytest_xcom.record.events import XComPush
    from pytest_xcom.record.run import XComRun

NODE_H, DUMMY_H, V_GAP, MARGIN = 52, 14, 28, 24
TITLE_PX, SMALL_PX, MONO_EM = 13, 11, 0.62  # monospace glyphs are ~0.6em wide: widths are predictable
LINE_H = 14
STATE_CLASS = {"success": "ok", "failed": "failed", "upstream_failed": "upfailed", "skipped": "skipped"}


def text_width(text: str, px: float) -> float:
    """Width of ``text`` in the report's monospace font (wide East Asian glyphs count twice)."""
    cells = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return cells * px * MONO_EM


def shorten(text: str, limit: int = 36) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


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


def xcom_edges(run: XComRun) -> list[Edge]:
    """One edge per (source, reader) pair with at least one found read; self-reads are left out."""
    reads: dict[tuple[str, str], dict[str, set[int] | None]] = {}
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
    order = {task_id: i for i, task_id in enumerate(run.ordered_task_ids())}
    edges = []
    for (source, target), by_key in sorted(reads.items(), key=lambda kv: (order[kv[0][0]], order[kv[0][1]])):
        keys: dict[str, tuple[int, bool]] = {}
        for key, indexes in sorted(by_key.items()):
            matching = [
                p
                for p in pushed.get((source, key), [])
                if indexes is None or source not in run.mapped_task_ids or p.map_index in indexes
            ]
            keys[key] = (sum(p.counted_size for p in matching), any(p.offloaded for p in matching))
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


@dataclass
class Box:
    """A task node, or a waypoint of an edge that crosses a layer (task_id None)."""

    task_id: str | None
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
        worst: str | None = next((s for s in ("failed", "upstream_failed") if s in states), None)
        worst = worst or (states[0] if states and len(set(states)) == 1 else "mixed")
        counts = ", ".join(f"{s} \u00d7{states.count(s)}" for s in dict.fromkeys(states)) or "no instances"
        return STATE_CLASS.get(worst, "other"), counts
    state = "no status" if raw is None else str(getattr(raw, "value", raw))
    return STATE_CLASS.get(state, "other"), state


def layout(run: XComRun) -> tuple[dict[str, Box], list[Route], float, float]:
    """Columns by layer (longest path), rows by task order; each edge gets ports and a label spot."""
    nodes, edges = run.ordered_task_ids(), xcom_edges(run)
    layer = layers(nodes, edges, run.dependencies)
    out_bytes: dict[str, int] = {}
    for push in run.effective_pushes():
        out_bytes[push.task_id] = out_bytes.get(push.task_id, 0) + push.counted_size
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
        for col, waypoint in zip(crossed, waypoints, strict=True):
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
    for column, height in zip(columns, heights, strict=True):  # y: each column centred on the tallest
        y = MARGIN + 10 + (max(heights) - height) / 2
        for box in column:
            box.y, y = y, y + box.h + V_GAP
    # ports: the edges leaving (entering) a node are spread over its right (left) side
    for box in boxes.values():
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
