"""The flow graph of a run drawn as inline SVG."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pytest_xcom.reporting.graph import LINE_H, Box, badge_text, badge_width, layout, task_state
from pytest_xcom.reporting.markup import e
from pytest_xcom.sizes import human

if TYPE_CHECKING:
    from pytest_xcom.record.run import XComRun


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
        for (xa, ya), (xb, yb) in zip(route.points(), rest, strict=False):
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
        parts.append(
            f'<g class="xcom-label xcom-label-{kind}"><rect x="{cx - w / 2:.1f}" y="{top:.1f}" '
            f'width="{w:.1f}" height="{h:.1f}" rx="4"/>'
        )
        y = top + 1
        for key, (size, off) in route.edge.keys.items():
            y += LINE_H
            parts.append(f'<text x="{cx:.1f}" y="{y:.1f}" data-key="{e(key)}">{e(key)}  {e(human(size))}</text>')
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
            parts.append(
                f'<rect class="stack" x="{box.x + dx:.1f}" y="{box.y - dx:.1f}" '
                f'width="{box.w:.1f}" height="{box.h:.1f}" rx="7"/>'
            )
    parts.append(
        f'<rect class="card" x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" height="{box.h:.1f}" rx="7"/>'
    )
    parts.append(f'<text class="task-id" x="{box.x + 14:.1f}" y="{box.y + 21:.1f}">{e(box.lines[0])}</text>')
    parts.append(f'<text class="task-sub" x="{box.x + 14:.1f}" y="{box.y + 39:.1f}">{e(box.lines[1])}</text>')
    if mapped:
        bw = badge_width(run, task_id)
        parts.append(
            f'<g class="badge-mapped"><rect x="{box.x + box.w - bw - 8:.1f}" y="{box.y + 8:.1f}" '
            f'width="{bw:.1f}" height="17" rx="8.5"/><text x="{box.x + box.w - bw / 2 - 8:.1f}" '
            f'y="{box.y + 20.5:.1f}">{e(badge_text(run, task_id))}</text></g>'
        )
    parts.append("</g>")
    return "".join(parts)
