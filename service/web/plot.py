"""The speedup plot of a task page as SVG geometry: GPU-timed accepted kernels in verification order.

x: the kernel's place in verification order (oldest left); y: speedup over eager PyTorch on a linear
axis from 0, with a dashed line at 1× (as fast as eager). One colour per hardware; a step line per
hardware follows the best speedup so far. Only GPU timings are plotted: there is no plot at all
when nothing is GPU-timed (the page says so instead of drawing zeros).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kernels_store.browse import SpeedupPoint
from service.leaderboard import generator_label
from service.web.templating import speedup, when

PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")
"""Okabe–Ito colours (distinguishable with colour-blindness); more hardware than this reuse them."""
WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 14, 44
"""Margins: where the axes are drawn."""
PAD = 12
"""Space between the axes and the first and last kernel."""


@dataclass(frozen=True, kw_only=True)
class PlotArea:
    """An SVG plot's size and the edges of the area inside its margins (what the pages draw axes on)."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int


def plot_area(width: int, height: int, left: int, right: int, top: int, bottom: int) -> dict[str, int]:
    """A ``PlotArea``'s fields for a plot of this size with these margins."""
    edges = {"left": left, "top": top, "right": width - right, "bottom": height - bottom}
    return {"width": width, "height": height, **edges}


AREA = plot_area(WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM)


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Series:
    label: str
    color: str
    dots: list[Dot]
    best_path: str
    """SVG path data of the running best (a step line)."""


@dataclass(frozen=True)
class SpeedupPlot(PlotArea):
    series: list[Series]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    baseline_y: float
    shown: int
    total: int


def nice_step(span: float, most_ticks: int = 6) -> float:
    """A 1, 2, 2.5 or 5 × 10^k step giving at most ``most_ticks`` intervals over ``span``."""
    raw = span / most_ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def _fmt(value: float) -> str:
    return f"{value:g}×"


def speedup_plot(points: list[SpeedupPoint], total: int) -> SpeedupPlot | None:
    """The plot of ``points`` (oldest first; ``total``: how many exist), or None when there are none."""
    if not points:
        return None
    finite = [p for p in points if math.isfinite(p.speedup_eager)]
    top_value = max([1.0, *(p.speedup_eager for p in finite)])
    step = nice_step(top_value * 1.05)
    y_max = step * math.ceil(top_value * 1.05 / step)
    n = len(points)

    def x_of(index: int) -> float:
        return LEFT + PAD + (WIDTH - LEFT - RIGHT - 2 * PAD) * (0.5 if n == 1 else index / (n - 1))

    def y_of(value: float) -> float:
        value = min(value, y_max) if math.isfinite(value) else y_max
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / y_max)

    colors: dict[str, str] = {}
    dots: dict[str, list[Dot]] = {}
    paths: dict[str, list[str]] = {}
    best: dict[str, float] = {}
    names: dict[str, str] = {}
    for index, point in enumerate(points):
        hw = point.hardware_fingerprint
        colors.setdefault(hw, PALETTE[len(colors) % len(PALETTE)])
        names[hw] = point.device_name or hw
        x, y = x_of(index), y_of(point.speedup_eager)
        title = (
            f"#{point.candidate_id} {speedup(point.speedup_eager)} "
            f"{generator_label(point.origin, point.origin_detail)} {when(point.created_at)}"
        )
        dots.setdefault(hw, []).append(Dot(round(x, 1), round(y, 1), title))
        if hw not in best:
            best[hw] = point.speedup_eager
            paths[hw] = [f"M{x:.1f},{y:.1f}"]
        elif point.speedup_eager > best[hw]:
            best[hw] = point.speedup_eager
            paths[hw].append(f"H{x:.1f}V{y:.1f}")
        else:
            paths[hw].append(f"H{x:.1f}")
    series = [
        Series(label=f"{names[hw]} ({hw[:8]})", color=colors[hw], dots=dots[hw], best_path="".join(paths[hw]))
        for hw in colors
    ]
    y_ticks = [Tick(round(y_of(k * step), 1), _fmt(round(k * step, 6))) for k in range(round(y_max / step) + 1)]
    first = total - n + 1  # the plot shows the latest ``n`` of ``total`` timed kernels
    x_ticks = [Tick(round(x_of(0), 1), f"#{first} · {when(points[0].created_at)}")]
    if n > 1:
        x_ticks.append(Tick(round(x_of(n - 1), 1), f"#{total} · {when(points[-1].created_at)}"))
    return SpeedupPlot(
        series=series, x_ticks=x_ticks, y_ticks=y_ticks, baseline_y=round(y_of(1.0), 1), shown=n, total=total, **AREA
    )
