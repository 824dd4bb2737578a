"""curate's one chart kit: SVG drawn in Python, for `curate report` and the ablation plots.

Each chart is a string of inline SVG: it loads nothing (no script, no font, no CDN), so a report
opens offline and years later, and a test can count its marks (`rect.bar`, `path.line`,
`circle.dot`) in a browser. `report.html` embeds the charts as they are and styles their text
with its CSS; `standalone()` turns one into an SVG file of its own (namespace, white background,
a title), which the ablation runner writes when matplotlib is not installed.

Honest by construction: a chart is as wide as its longest label needs (labels are never cut),
numeric axes carry ticks and a title, `dots` zooms to the data with a labelled axis (a bar's
length only means something from 0, so values on a zoomed axis are points, never bars),
`intervals` colours a difference green or red by which way is better for its metric, and
`color(i)` stays distinct past the 12 hand-picked colours (golden-angle hues).

The kit: `better` (which way a metric improves), `verdict` (its colour), `esc`, `num`, `color`, `svg`, `standalone`, `legend`, `text_width`, `ticks`, and the
charts `bars` (horizontal, one per label), `grouped` (bars per label and series), `columns` (vertical, stacked per label), `histogram`
(stacked bins on a numeric axis, with threshold marks and the dropped side shaded), `lines`
(series over shared axes, with vertical marks), `dots` (values with whiskers on a zoomed axis)
and `intervals` (bars from an origin with confidence-interval whiskers).

Example:
    Path("loss.svg").write_text(standalone(lines({"base": [(0, 5.0), (1000, 4.2)]}, "tokens", "loss"), "Loss"))
"""

from __future__ import annotations

import colorsys
import html
import math
import re

# 12 qualitative colours, neighbours far apart; `color(i)` generates more past them
COLORS = ["#3b6ea5", "#e07b39", "#4a9a5b", "#b8474a", "#7a5ea8", "#8c6d3f", "#c65fa0", "#6f6f6f",
          "#a3a01e", "#23a5b5", "#1f3a66", "#f09c8a"]
GOOD, BAD, NEUTRAL = "#2f8f46", "#c0392b", "#8a8a8a"  # better, worse, not separable from the origin
ZONE = "#fbe3e1"  # the shaded side of a threshold that a rule drops
WIDTH = 640
TITLE_BAND = 28  # pixels above a standalone chart for its title
FONT = 11  # px, as report.html's CSS sets `svg text`; `small` text is 10 px


def better(metric: str) -> str:
    """Which way a metric improves: `"lower"` for losses and perplexities, else `"higher"` (accuracy, CORE)."""
    return "lower" if any(word in metric.lower() for word in ("loss", "ppl", "perplexity", "bpb", "error")) else "higher"


def verdict(low: float, high: float, way: str | None) -> str:
    """The colour of a difference whose 95% CI is [low, high]: GOOD when it lies wholly on the
    `way` side of 0 (`"higher"` or `"lower"` is better), BAD on the other, NEUTRAL across 0."""
    above, below = low > 0, high < 0
    if not (above or below) or way not in ("higher", "lower"):
        return NEUTRAL
    return GOOD if above == (way == "higher") else BAD


def esc(value) -> str:
    return html.escape(str(value))


def num(value) -> str:
    """A number for a label: thousands separated, floats to 4 significant digits below 10,000."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def color(i: int) -> str:
    """The i-th series colour: the palette, then hues 137.5 degrees apart at two lightnesses."""
    if i < len(COLORS):
        return COLORS[i]
    k = i - len(COLORS)
    r, g, b = colorsys.hls_to_rgb((0.07 + k * 0.381966) % 1.0, 0.38 if k % 2 else 0.58, 0.62)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def text_width(text, size: float = FONT) -> float:
    """A generous estimate of rendered width in px (0.62 em a character), so labels are never cut."""
    return 0.62 * size * len(str(text))


def ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About `n` round values (1, 2 or 5 times a power of ten apart) within [lo, hi]."""
    if not hi > lo:
        return [lo]
    raw = (hi - lo) / max(1, n)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + i * step, 12) for i in range(int((hi - first) / step + 1e-9) + 1)]


def svg(width: float, height: float, parts: list[str]) -> str:
    return (f'<svg width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" role="img">'
            + "".join(parts) + "</svg>")


def standalone(chart: str, title: str) -> str:
    """`chart` (from this kit) as an SVG document of its own: a title above, on white."""
    width, height = map(float, re.match(r'<svg width="([\d.]+)" height="([\d.]+)"', chart).groups())
    total = height + TITLE_BAND
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{total:g}" '
            f'font-family="sans-serif" font-size="12">\n<rect width="100%" height="100%" fill="white"/>\n'
            f'<text x="8" y="18" font-size="14">{esc(title)}</text>\n'
            f'<g transform="translate(0,{TITLE_BAND})">{chart}</g>\n</svg>\n')


def legend(names: list, x: float, y: float, colors: list[str] | None = None) -> list[str]:
    return [f'<rect x="{x:.1f}" y="{y + i * 16:.1f}" width="10" height="10" fill="{(colors or [])[i] if colors else color(i)}"/>'
            f'<text x="{x + 14:.1f}" y="{y + i * 16 + 9:.1f}" class="small">{esc(n)}</text>'
            for i, n in enumerate(names)]


def legend_width(names: list) -> float:
    return 24 + max((text_width(n, 10) for n in names), default=0)


def _axis_x(lo, hi, sx, y, label, width) -> list[str]:
    """A horizontal axis at `y`: ticks with values, and its title centred under them."""
    parts = []
    for t in ticks(lo, hi):
        parts.append(f'<path d="M{sx(t):.1f},{y}v4" stroke="#999"/>'
                     f'<text x="{sx(t):.1f}" y="{y + 15}" text-anchor="middle" class="small">{num(_clean(t))}</text>')
    parts.append(f'<text x="{width / 2:.1f}" y="{y + 30}" text-anchor="middle" class="small">{esc(label)}</text>')
    return parts


def _clean(value: float):
    return int(value) if float(value).is_integer() and abs(value) < 1e15 else value


def bars(labels: list, values: list[float], unit: str = "") -> str:
    """Horizontal bars from 0, one per label, with the value written after each bar."""
    row, plot = 22, 300
    left = 12 + max((text_width(label) for label in labels), default=0)
    right = 8 + max((text_width(f"{num(v)}{unit}") for v in values), default=0)
    top = max((v for v in values if v is not None), default=0) or 1
    parts = []
    for i, (label, value) in enumerate(zip(labels, values)):
        y = 5 + i * row
        w = max(1.0, plot * (value or 0) / top)
        parts.append(f'<text x="{left - 6:.1f}" y="{y + 15}" text-anchor="end">{esc(label)}</text>'
                     f'<rect class="bar" x="{left:.1f}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{COLORS[0]}">'
                     f'<title>{esc(label)}: {num(value)}{unit}</title></rect>'
                     f'<text x="{left + w + 4:.1f}" y="{y + 15}">{num(value)}{unit}</text>')
    return svg(max(WIDTH, left + plot + right), row * len(labels) + 10, parts)


def grouped(labels: list, series: dict[str, list[float | None]], unit: str = "%", top: float = 100.0) -> str:
    """Horizontal bars from 0 to `top`, one group per label and one bar per series (a legend)."""
    bar, gap, plot = 12, 8, 300
    left = 12 + max((text_width(label) for label in labels), default=0)
    names = list(series)
    group = bar * len(names) + gap
    parts = []
    for i, label in enumerate(labels):
        y = 4 + i * group
        parts.append(f'<text x="{left - 6:.1f}" y="{y + group / 2 + 1:.1f}" text-anchor="end">{esc(label)}</text>')
        for k, name in enumerate(names):
            value = series[name][i]
            if value is None:
                continue
            w = max(1.0, plot * value / top)
            parts.append(f'<rect class="bar" x="{left:.1f}" y="{y + k * bar}" width="{w:.1f}" height="{bar - 2}" '
                         f'fill="{color(k)}"><title>{esc(label)}, {esc(name)}: {num(value)}{unit}</title></rect>'
                         f'<text x="{left + w + 4:.1f}" y="{y + k * bar + 9}" class="small">{num(value)}{unit}</text>')
    right = 50 + legend_width(names)
    parts += legend(names, left + plot + 50, 4)
    return svg(max(WIDTH, left + plot + right), max(group * len(labels), 16 * len(names)) + 8, parts)


def columns(labels: list, series: dict[str, list[float]], xlabel: str = "") -> str:
    """Vertical columns from 0, the series of a label stacked, with a legend; labels thinned to fit."""
    height, bottom, top_pad, left = 240, 46, 24, 50
    right = 16 + (legend_width(list(series)) if len(series) > 1 else 0)
    totals = [sum(s[i] or 0 for s in series.values()) for i in range(len(labels))]
    top = max(totals, default=0) or 1
    slot = (WIDTH - left - right) / max(1, len(labels))
    every = max(1, math.ceil((max((text_width(x, 10) for x in labels), default=0) + 6) / slot))
    parts = [f'<line x1="{left}" y1="{height - bottom}" x2="{WIDTH - right}" y2="{height - bottom}" stroke="#999"/>',
             f'<text x="{left - 4}" y="{top_pad + 4}" text-anchor="end" class="small">{num(top)}</text>',
             f'<text x="{left - 4}" y="{height - bottom}" text-anchor="end" class="small">0</text>']
    for i, label in enumerate(labels):
        base = height - bottom
        for k, (name, values) in enumerate(series.items()):
            h = (height - bottom - top_pad) * (values[i] or 0) / top
            if h > 0:
                parts.append(f'<rect class="bar" x="{left + i * slot + 1:.1f}" y="{base - h:.1f}" '
                             f'width="{max(1.0, slot - 2):.1f}" height="{h:.1f}" fill="{color(k)}">'
                             f'<title>{esc(label)} {esc(name)}: {num(values[i])}</title></rect>')
            base -= h
        if i % every == 0:
            parts.append(f'<text x="{left + (i + 0.5) * slot:.1f}" y="{height - bottom + 14}" text-anchor="middle" '
                         f'class="small">{esc(label)}</text>')
    parts.append(f'<text x="{(left + WIDTH - right) / 2:.1f}" y="{height - 8}" text-anchor="middle" class="small">'
                 f'{esc(xlabel)}</text>')
    parts += legend(list(series), WIDTH - right + 10, top_pad) if len(series) > 1 else []
    return svg(WIDTH, height, parts)


def histogram(low: float, width: float, series: dict[str, list[int]], xlabel: str,
              marks: list[tuple[float, str]] = (), drop: list[tuple[float | None, float | None]] = (),
              colors: list[str] | None = None) -> str:
    """Stacked bins [low + i*width, low + (i+1)*width) on a numeric axis, with vertical `marks`
    (value, label) and the `drop` spans (from, to; None: the axis end) shaded. A mark beyond the
    data sits at the axis end, its label saying where it really is."""
    height, bottom, top_pad, left = 250, 50, 34, 50
    right = 16 + legend_width(list(series))
    n = max((len(v) for v in series.values()), default=0)
    x0, x1 = low, low + width * max(n, 1)
    top = max((sum(v[i] for v in series.values()) for i in range(n)), default=0) or 1
    plot = WIDTH - left - right

    def sx(x):
        return left + plot * (min(max(x, x0), x1) - x0) / (x1 - x0)

    base = height - bottom
    parts = [f'<rect class="zone" x="{sx(a if a is not None else x0):.1f}" y="{top_pad}" '
             f'width="{max(0.0, sx(b if b is not None else x1) - sx(a if a is not None else x0)):.1f}" '
             f'height="{base - top_pad}" fill="{ZONE}"/>' for a, b in drop]
    parts += [f'<line x1="{left}" y1="{base}" x2="{left + plot}" y2="{base}" stroke="#999"/>',
              f'<text x="{left - 4}" y="{top_pad + 4}" text-anchor="end" class="small">{num(top)}</text>',
              f'<text x="{left - 4}" y="{base}" text-anchor="end" class="small">0</text>']
    for i in range(n):
        y = base
        for k, (name, counts) in enumerate(series.items()):
            h = (base - top_pad) * counts[i] / top
            if h > 0:
                fill = colors[k] if colors else color(k)
                parts.append(f'<rect class="bar" x="{sx(x0 + i * width) + 0.5:.1f}" y="{y - h:.1f}" '
                             f'width="{max(1.0, plot / n - 1):.1f}" height="{h:.1f}" fill="{fill}">'
                             f'<title>[{num(x0 + i * width)}, {num(x0 + (i + 1) * width)}) {esc(name)}: '
                             f'{counts[i]:,}</title></rect>')
                y -= h
    parts += _axis_x(x0, x1, sx, base, xlabel, 2 * left + plot)
    parts += _marks(marks, sx, x0, x1, top_pad, base, left, left + plot)
    parts += legend(list(series), left + plot + 10, top_pad, colors)
    return svg(WIDTH, height, parts)


def _marks(marks, sx, x0, x1, top, base, left, end) -> list[str]:
    """Dashed vertical lines at each mark, labelled above the plot (alternating rows if several)."""
    parts = []
    for i, (x, label) in enumerate(marks):
        where = "" if x0 <= x <= x1 else (" (beyond the data, at the right)" if x > x1 else " (beyond the data, at the left)")
        text = f"{label}{where}"
        px = sx(x)
        anchor = "end" if px + text_width(text, 10) / 2 > end else "start" if px - text_width(text, 10) / 2 < left else "middle"
        parts.append(f'<path class="mark" d="M{px:.1f},{top - 2}V{base}" stroke="#222" stroke-width="1.5" '
                     f'stroke-dasharray="4 3"><title>{esc(label)}</title></path>'
                     f'<text x="{px:.1f}" y="{top - 6 - 12 * (i % 2)}" text-anchor="{anchor}" class="small">{esc(text)}</text>')
    return parts


def lines(series: dict[str, list[tuple[float, float]]], xlabel: str, ylabel: str, height: int = 240,
          y_range: tuple[float, float] | None = None, marks: list[tuple[float, str]] = (),
          dashed: set[str] = frozenset()) -> str:
    """One path per series over shared linear axes (y zoomed to the data, or `y_range`), a
    distinct colour each, ticks on both axes, vertical `marks` (value, label)."""
    names = list(series)
    right = 16 + (legend_width(names) if len(series) > 1 else 0)
    left, bottom, top_pad = 64, 44, 30 if marks else 14
    height = max(height, top_pad + 16 * len(names) + bottom)
    points = [p for s in series.values() for p in s if p[1] is not None]
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = y_range or (min(p[1] for p in points), max(p[1] for p in points))
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)
    plot = WIDTH - left - right

    def sx(x):
        return left + plot * (min(max(x, x0), x1) - x0) / (x1 - x0)

    def sy(y):
        return height - bottom - (height - bottom - top_pad) * (y - y0) / (y1 - y0)

    base = height - bottom
    parts = [f'<path d="M{left},{top_pad}V{base}H{left + plot}" fill="none" stroke="#999"/>',
             f'<text x="14" y="{(top_pad + base) / 2:.1f}" transform="rotate(-90 14 {(top_pad + base) / 2:.1f})" '
             f'text-anchor="middle" class="small">{esc(ylabel)}</text>']
    for t in ticks(y0, y1, 4):
        parts.append(f'<path d="M{left - 4},{sy(t):.1f}h4" stroke="#999"/>'
                     f'<text x="{left - 6}" y="{sy(t) + 3:.1f}" text-anchor="end" class="small">{num(_clean(t))}</text>')
    parts += _axis_x(x0, x1, sx, base, xlabel, 2 * left + plot)
    for k, (name, pts) in enumerate(series.items()):
        pts = [p for p in pts if p[1] is not None]
        d = " ".join(f"{'M' if i == 0 else 'L'}{sx(x):.1f},{sy(y):.1f}" for i, (x, y) in enumerate(pts))
        dash = ' stroke-dasharray="6 3"' if name in dashed else ""
        parts.append(f'<path class="line" d="{d}" fill="none" stroke="{color(k)}" stroke-width="2"{dash}>'
                     f'<title>{esc(name)}</title></path>')
        parts += [f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{color(k)}"/>' for x, y in pts]
    parts += _marks(marks, sx, x0, x1, top_pad, base, left, left + plot)
    parts += legend(names, left + plot + 10, top_pad) if len(series) > 1 else []
    return svg(WIDTH, height, parts)


def dots(labels: list[str], values: list[float], lows: list[float], highs: list[float], xlabel: str,
         colors: list[str] | None = None, reference: float | None = None) -> str:
    """Each value as a dot with its whisker [low, high], on an axis zoomed to the data (ticks and
    title `xlabel` under it): differences of a few percent stay visible, and nothing suggests a
    length from 0. `reference` draws a dashed line (a baseline's value)."""
    row, plot = 24, 360
    left = 12 + max((text_width(label) for label in labels), default=0)
    lo, hi = min(lows + values), max(highs + values)
    pad = (hi - lo) * 0.08 or abs(hi) * 0.01 or 1
    lo, hi = lo - pad, hi + pad
    height = row * len(labels) + 10 + 36

    def sx(v):
        return left + plot * (v - lo) / (hi - lo)

    base = height - 36
    parts = [f'<line x1="{left}" y1="{base}" x2="{left + plot}" y2="{base}" stroke="#999"/>']
    if reference is not None:
        parts.append(f'<path d="M{sx(reference):.1f},0V{base}" stroke="#999" stroke-dasharray="4 3"/>')
    for i, (label, v, a, b) in enumerate(zip(labels, values, lows, highs)):
        y = 6 + i * row + row / 2 - 3
        fill = colors[i] if colors else COLORS[0]
        parts.append(f'<text x="{left - 6:.1f}" y="{y + 4:.1f}" text-anchor="end">{esc(label)}</text>'
                     f'<path class="line" d="M{sx(a):.1f},{y:.1f}H{sx(b):.1f}" stroke="#222" stroke-width="1.5"/>'
                     f'<circle class="dot" cx="{sx(v):.1f}" cy="{y:.1f}" r="5" fill="{fill}">'
                     f'<title>{esc(label)}: {v:.4g} [{a:.4g}, {b:.4g}]</title></circle>')
    parts += _axis_x(lo, hi, sx, base, xlabel, 2 * left + plot)
    return svg(max(WIDTH, left + plot + 24), height, parts)


def intervals(labels: list[str], values: list[float], lows: list[float], highs: list[float], origin: float = 0.0,
              colors: list[str] | None = None, fmt: str = "+.4g", better: str | None = "higher",
              xlabel: str = "") -> str:
    """Horizontal bars from `origin` to each value, with confidence-interval whiskers [low, high].

    With origin 0 the values are differences from a baseline: a bar is green when its interval
    lies on the `better` side of 0 (`"higher"` or `"lower"`: lower loss and perplexity are
    better), red on the other, grey across it. `colors` overrides that (one per bar).
    """
    row, right, axis = 24, 20, 36
    left = 12 + max((text_width(label) for label in labels), default=0)
    plot = max(WIDTH - left - right, 320)
    lo, hi = min(min(lows), origin), max(max(highs), origin)
    hi = hi if hi > lo else lo + 1
    height = row * len(labels) + 10 + axis

    def sx(v):
        return left + plot * (v - lo) / (hi - lo)

    parts = [f'<line x1="{sx(origin):.1f}" y1="0" x2="{sx(origin):.1f}" y2="{height - axis}" stroke="#999"/>']
    for i, (label, d, a, b) in enumerate(zip(labels, values, lows, highs)):
        y = 6 + i * row
        x, w = min(sx(origin), sx(d)), max(1.0, abs(sx(d) - sx(origin)))
        parts.append(f'<text x="{left - 6:.1f}" y="{y + 15}" text-anchor="end">{esc(label)}</text>'
                     f'<rect class="bar" x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{row - 10}" '
                     f'fill="{colors[i] if colors else verdict(a - origin, b - origin, better)}">'
                     f'<title>{esc(label)}: {d:{fmt}} [{a:{fmt}}, {b:{fmt}}]</title></rect>'
                     f'<path class="line" d="M{sx(a):.1f},{y + 9}H{sx(b):.1f}" stroke="#222" stroke-width="1.5"/>')
    parts += _axis_x(lo, hi, sx, height - axis, xlabel, 2 * left + plot)
    return svg(left + plot + right, height, parts)
