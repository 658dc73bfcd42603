"""Charts as SVG drawn on the server (docs/ui.md: why no JavaScript charting library).

Each chart is a ``<figure>`` with an inline ``<svg>`` (a ``<title>`` and ``<desc>`` named by
``aria-labelledby``), every bar or point a link to the filtered case list, and the same
figures as a table under ``<details>`` for screen readers, keyboards and print. Only SVG
presentation attributes are used (no ``style``): the pages' Content-Security-Policy allows
no inline styles, and the colours come from the stylesheet's classes where they can.

Texts arrive already in the reader's language; everything put into the markup is escaped.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

from markupsafe import Markup, escape

_ids = itertools.count(1)
WIDTH = 520          # the viewBox width; the SVG scales to its container (width="100%")
BAR_H, GAP = 22, 8   # horizontal bars: height of one bar and the gap between bars
LABEL_W = 130        # room for a unit's or a type's name left of its bar
COLUMN_H = 180       # the plot height of a column / line chart
MAX_LABEL = 12       # characters of a label shown in the SVG (the table has the full name)


@dataclass(frozen=True)
class Point:
    """One bar or point: its label, its value and where clicking it leads (None: no link)."""

    label: str
    value: int
    href: str | None = None
    short: str | None = None  # the label under a point when the full one is too long (months)


def _short(text: str, n: int = MAX_LABEL) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _link(href: str | None, inner: str) -> str:
    """Wrap ``inner`` in an SVG link (``href`` and ``xlink:href``: old browsers read the latter)."""
    if not href:
        return inner
    h = escape(href)
    return f'<a href="{h}" xlink:href="{h}">{inner}</a>'


def _nice_max(value: int) -> int:
    """A round upper bound of the axis (1, 2, 5 × 10ⁿ) at or above ``value``."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def _figure(svg: str, caption: str, table: str, table_title: str) -> Markup:
    return Markup(f'<figure class="chart">{svg}<figcaption>{escape(caption)}</figcaption>'
                  f'<details class="chart-data"><summary>{escape(table_title)}</summary>{table}</details></figure>')


def _table(points: list[Point], label_head: str, value_head: str) -> str:
    rows = "".join(
        f'<tr><th scope="row">{escape(p.label)}</th><td>'
        + (f'<a href="{escape(p.href)}">{p.value}</a>' if p.href else str(p.value)) + "</td></tr>"
        for p in points)
    return (f'<table class="data"><thead><tr><th scope="col">{escape(label_head)}</th>'
            f'<th scope="col">{escape(value_head)}</th></tr></thead><tbody>{rows}</tbody></table>')


def _svg_open(width: int, height: int, title: str, desc: str) -> tuple[str, str]:
    n = next(_ids)
    tid, did = f"chart{n}-title", f"chart{n}-desc"
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'viewBox="0 0 {width} {height}" width="100%" role="group" aria-labelledby="{tid} {did}" '
            f'font-family="inherit" font-size="13">'
            f'<title id="{tid}">{escape(title)}</title><desc id="{did}">{escape(desc)}</desc>')
    return head, "</svg>"


def bar_chart(points: list[Point], title: str, desc: str, label_head: str, value_head: str,
              table_title: str = "数据表") -> Markup:
    """Horizontal bars, one per point, longest label-friendly: units and case types."""
    top = _nice_max(max((p.value for p in points), default=0))
    plot = WIDTH - LABEL_W - 60
    height = max(1, len(points)) * (BAR_H + GAP) + GAP
    head, tail = _svg_open(WIDTH, height, title, desc)
    parts = [head]
    for i, p in enumerate(points):
        y = GAP + i * (BAR_H + GAP)
        w = round(plot * p.value / top) if p.value else 0
        tip = f"<title>{escape(p.label)}：{p.value}</title>"
        bar = (f'<g class="bar">{tip}<text x="{LABEL_W - 6}" y="{y + BAR_H - 6}" text-anchor="end" fill="#1a1a1a">'
               f'{escape(_short(p.label))}</text>'
               f'<rect x="{LABEL_W}" y="{y}" width="{max(w, 2)}" height="{BAR_H}" fill="#b3261e"/>'
               f'<text x="{LABEL_W + max(w, 2) + 6}" y="{y + BAR_H - 6}" fill="#1a1a1a">{p.value}</text></g>')
        parts.append(_link(p.href, bar))
    parts.append(tail)
    return _figure("".join(parts), desc, _table(points, label_head, value_head), table_title)


def line_chart(points: list[Point], title: str, desc: str, label_head: str, value_head: str,
               table_title: str = "数据表") -> Markup:
    """A line through the points (months, oldest first), each point a link with its value above."""
    top = _nice_max(max((p.value for p in points), default=0))
    left, right, above, below = 40, 12, 20, 40
    height = above + COLUMN_H + below
    n = max(1, len(points))
    step = (WIDTH - left - right) / n
    head, tail = _svg_open(WIDTH, height, title, desc)
    parts = [head,
             f'<line x1="{left}" y1="{above + COLUMN_H}" x2="{WIDTH - right}" y2="{above + COLUMN_H}" stroke="#888"/>',
             f'<text x="{left - 6}" y="{above + 4}" text-anchor="end" fill="#555">{top}</text>',
             f'<text x="{left - 6}" y="{above + COLUMN_H}" text-anchor="end" fill="#555">0</text>']
    xy = [(round(left + step * (i + 0.5), 1), round(above + COLUMN_H - COLUMN_H * p.value / top, 1))
          for i, p in enumerate(points)]
    if len(xy) > 1:
        parts.append(f'<polyline points="{" ".join(f"{x},{y}" for x, y in xy)}" fill="none" stroke="#b3261e" '
                     f'stroke-width="2"/>')
    for (x, y), p in zip(xy, points):
        tip = f"<title>{escape(p.label)}：{p.value}</title>"
        # a transparent column under each point makes the whole month a click target
        hit = (f'<rect x="{round(x - step / 2, 1)}" y="{above}" width="{round(step, 1)}" height="{COLUMN_H}" '
               f'fill="#ffffff" fill-opacity="0"/>')
        dot = (f'<g class="point">{tip}{hit}<circle cx="{x}" cy="{y}" r="5" fill="#b3261e"/>'
               f'<text x="{x}" y="{y - 9}" text-anchor="middle" fill="#1a1a1a">{p.value}</text>'
               f'<text x="{x}" y="{above + COLUMN_H + 18}" text-anchor="middle" fill="#555">'
               f'{escape(p.short or _short(p.label, 8))}</text></g>')
        parts.append(_link(p.href, dot))
    parts.append(tail)
    return _figure("".join(parts), desc, _table(points, label_head, value_head), table_title)
