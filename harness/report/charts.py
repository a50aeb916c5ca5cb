"""Inline SVG charts for the report: horizontal bars, stacked bars, histograms and badges.

Pure functions from numbers and labels to SVG markup. Every label is escaped here (labels come from
records, which come from repositories); nothing is fetched, nothing is scripted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 560
LABEL_W = 170  # the narrowest label column
MAX_LABEL_W = 260  # the widest: longer labels are cut with an ellipsis (full text in a tooltip)
CHAR_W = 6.6  # a generous width of one 11px character, so a label never runs off the left edge
ROW_H = 18
STAGE_COLOURS = {
    "none": "#b91c1c",
    "fetch": "#ea580c",
    "build": "#f59e0b",
    "import": "#eab308",
    "smoke": "#65a30d",
    "reproduce": "#15803d",
}
SERIES = ("#2563eb", "#f97316")  # CPU, GPU


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    note: str = ""  # text after the bar (defaults to the formatted value)
    colour: str = SERIES[0]


def _text(x: float, y: float, text: str, *, anchor: str = "start", cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}>{escape(text)}</text>'


def label_width(labels: Sequence[str]) -> float:
    """The label column wide enough for the longest label, between LABEL_W and MAX_LABEL_W."""
    longest = max((len(label) for label in labels), default=0)
    return min(MAX_LABEL_W, max(LABEL_W, longest * CHAR_W + 12))


def _label(x: float, y: float, label: str, width: float) -> str:
    """A right-aligned label that fits ``width`` pixels: cut with an ellipsis, full text as a tooltip."""
    fits = max(1, int((width - 12) // CHAR_W))
    if len(label) <= fits:
        return _text(x, y, label, anchor="end", cls="lbl")
    short = label[: fits - 1].rstrip() + "\u2026"
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="end" class="lbl"><title>{escape(label)}</title>'
        f"{escape(short)}</text>"
    )


def _svg(height: float, body: list[str], title: str) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'width="{WIDTH}" height="{height:.0f}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    )
    return Markup(head + "".join(body) + "</svg>")


def hbar_chart(
    title: str,
    bars: Sequence[Bar],
    fmt: Callable[[float], str],
    markers: Sequence[tuple[float, str]] = (),
) -> Markup:
    """One bar per item, longest scaled to the plot width; optional vertical reference lines."""
    top = 22 if markers else 6
    label_w = label_width([b.label for b in bars])
    plot_w = WIDTH - label_w - 70
    peak = max([b.value for b in bars] + [m[0] for m in markers] + [1e-9])
    body: list[str] = []
    height = top + ROW_H * len(bars) + 6
    for i, bar in enumerate(bars):
        y = top + i * ROW_H
        w = max(1.0, plot_w * bar.value / peak)
        body.append(_label(label_w - 6, y + 12, bar.label, label_w))
        body.append(
            f'<rect x="{label_w:.1f}" y="{y + 3}" width="{w:.1f}" height="{ROW_H - 6}" '
            f'fill="{bar.colour}" rx="2"><title>{escape(bar.label)}: {escape(fmt(bar.value))}</title></rect>'
        )
        body.append(_text(label_w + w + 4, y + 12, bar.note or fmt(bar.value), cls="val"))
    for value, label in markers:
        x = label_w + plot_w * value / peak
        body.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 4}" class="marker"/>')
        body.append(_text(x, top - 8, label, anchor="middle", cls="mlbl"))
    return _svg(height, body, title)


def stacked_chart(title: str, rows: Sequence[tuple[str, dict[str, int]]], order: Sequence[str]) -> Markup:
    """One stacked bar per row (e.g. per attack family), segments in ``order`` (e.g. stage reached)."""
    legend_h = 22
    label_w = label_width([label for label, _ in rows])
    plot_w = WIDTH - label_w - 40
    most = max([sum(c.values()) for _, c in rows] + [1])
    body: list[str] = []
    x = 4.0
    for key in order:
        body.append(
            f'<rect x="{x:.1f}" y="4" width="10" height="10" fill="{STAGE_COLOURS.get(key, "#999")}"/>'
        )
        body.append(_text(x + 14, 13, key, cls="lbl"))
        x += 20 + 7.2 * len(key)
    for i, (label, counts) in enumerate(rows):
        y = legend_h + i * (ROW_H + 4)
        body.append(_label(label_w - 6, y + 13, label, label_w))
        x = float(label_w)
        for key in order:
            n = counts.get(key, 0)
            if not n:
                continue
            w = plot_w * n / most
            body.append(
                f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{ROW_H - 2}" '
                f'fill="{STAGE_COLOURS.get(key, "#999")}"><title>{escape(label)}: {n} reached '
                f"{escape(key)}</title></rect>"
            )
            if w >= 14:
                body.append(_text(x + w / 2, y + 14, str(n), anchor="middle", cls="inbar"))
            x += w
        body.append(_text(x + 4, y + 14, str(sum(counts.values())), cls="val"))
    return _svg(legend_h + len(rows) * (ROW_H + 4) + 4, body, title)


def histograms(title: str, series: Sequence[tuple[str, Sequence[float | None]]]) -> Markup:
    """Small multiples: one 0-10 histogram (bins of 2 points, plus n/a) per named series."""
    bins = ["0-2", "2-4", "4-6", "6-8", "8-10", "n/a"]
    panel_w = (WIDTH - 10) / max(1, len(series))
    plot_h = 90
    top = 34
    body: list[str] = []
    counts_all = []
    for _, values in series:
        counts = [0] * len(bins)
        for v in values:
            counts[5 if v is None else min(4, int(v // 2))] += 1
        counts_all.append(counts)
    most = max([max(c) for c in counts_all] + [1])
    for p, ((name, _), counts) in enumerate(zip(series, counts_all, strict=True)):
        x0 = 5 + p * panel_w
        body.append(_text(x0 + panel_w / 2, 14, name, anchor="middle", cls="ttl"))
        bw = (panel_w - 16) / len(bins)
        for i, n in enumerate(counts):
            h = plot_h * n / most
            x = x0 + 8 + i * bw
            colour = "#cbd5e1" if bins[i] == "n/a" else score_colour(i * 2 + 1)
            body.append(
                f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{bw - 2:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{escape(name)} {bins[i]}: {n}</title></rect>'
            )
            if n:
                body.append(_text(x + bw / 2, top + plot_h - h - 3, str(n), anchor="middle", cls="val"))
            body.append(_text(x + bw / 2, top + plot_h + 13, bins[i], anchor="middle", cls="axis"))
    return _svg(top + plot_h + 20, body, title)


def paired_chart(
    title: str, pairs: Sequence[tuple[str, float, float]], fmt: Callable[[float], str]
) -> Markup:
    """Two bars per item (CPU and GPU runtime), with a legend."""
    bars: list[Bar] = []
    for label, cpu, gpu in pairs:
        bars.append(Bar(f"{label} (CPU)", cpu, colour=SERIES[0]))
        bars.append(
            Bar(
                f"{label} (GPU)",
                gpu,
                note=f"{fmt(gpu)} - {cpu / gpu:.2f}x" if gpu else fmt(gpu),
                colour=SERIES[1],
            )
        )
    return hbar_chart(title, bars, fmt)


def score_colour(score: float) -> str:
    if score >= 8:
        return "#15803d"
    if score >= 6:
        return "#65a30d"
    if score >= 4:
        return "#eab308"
    if score >= 2:
        return "#ea580c"
    return "#b91c1c"


def badge(label: str, score: float | None) -> str:
    """A shields-style SVG badge, e.g. ``usability | 7.5/10`` (a standalone SVG document)."""
    value = "n/a" if score is None else f"{score:g}/10"
    colour = "#9ca3af" if score is None else score_colour(score)
    lw, vw = 7 * len(label) + 12, 7 * len(value) + 12
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{lw + vw}" height="20" role="img" '
        f'aria-label="{escape(label)}: {escape(value)}"><title>{escape(label)}: {escape(value)}</title>'
        f'<rect width="{lw}" height="20" fill="#555"/>'
        f'<rect x="{lw}" width="{vw}" height="20" fill="{colour}"/>'
        f'<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{lw / 2}" y="14">{escape(label)}</text>'
        f'<text x="{lw + vw / 2}" y="14">{escape(value)}</text>'
        "</g></svg>\n"
    )


def stage_sparkline(points: Sequence[tuple[str, str]], width_each: int = 9) -> Markup:
    """One small square per evaluation, oldest first, coloured by the stage it reached.

    ``points`` are (stage reached, tooltip) pairs.
    """
    width = width_each * len(points)
    cells = "".join(
        f'<rect x="{i * width_each}" y="1" width="{width_each - 2}" height="8" '
        f'fill="{STAGE_COLOURS.get(stage, "#999")}"><title>{escape(tip)}</title></rect>'
        for i, (stage, tip) in enumerate(points)
    )
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="spark" width="{width}" height="10" '
        f'viewBox="0 0 {width} 10" role="img" aria-label="stage reached per evaluation">{cells}</svg>'
    )


def line_sparkline(values: Sequence[float | None], label: str, width: int = 120, height: int = 24) -> Markup:
    """A small line of numbers over time (gaps where a value is missing), last value marked."""
    known = [v for v in values if v is not None]
    if len(known) < 2:
        return Markup("")
    lo, hi = min(known), max(known)
    span = (hi - lo) or 1.0
    step = (width - 6) / max(1, len(values) - 1)
    pts = [
        (3 + i * step, height - 3 - (height - 6) * (v - lo) / span)
        for i, v in enumerate(values)
        if v is not None
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
    x, y = pts[-1]
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="spark" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>'
        f'<polyline points="{path}" fill="none" stroke="#2563eb" stroke-width="1.5"/>'
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#2563eb"/></svg>'
    )
