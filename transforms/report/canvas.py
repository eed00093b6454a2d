"""A chart's frame and its two outputs: the plot area placed in CSS pixels, values and labels placed as the
page places text (thinned, or slanted, never shrunk), and the figure as inline SVG for the report and as a
palette PNG for the Dagster UI. transforms/report/charts.py draws the charts on it.

One SVG unit is one CSS pixel (a figure is width / 72 inches at 72 dpi), so text is the size it is drawn
at; the PNG is the same figure at DPI.
"""

from __future__ import annotations

import base64
import io
import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.textpath import TextToPath
from matplotlib.transforms import offset_copy
from PIL import Image

from transforms.core.palette import COLORS

DPI = 90  # the UI's PNGs: 1.25 image pixels per CSS pixel
HALF, FULL = 563, 1150  # the report's chart widths at full page width (CSS px): a half and a whole column
X_LABEL_PX = 10.5  # month and step labels; axis values are 10 px, the smallest text drawn
SLANT_DEGREES = 35
X_LABEL = "x-label"  # the class of month and step labels in the SVG (the browser test measures them)
_MEASURE = TextToPath()


def text_width(text: str, size: float) -> float:
    """The width of `text` in CSS px at font size `size` (DejaVu Sans, matplotlib's font)."""
    width, _, _ = _MEASURE.get_text_width_height_descent(text, FontProperties(size=size), ismath=False)
    return width


def month_label(month) -> str:
    return month.strftime("%b %y")


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round axis values (steps of 1, 2, 5 × 10^k) covering low … high."""
    if not high > low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    norm = raw / magnitude
    step = (1 if norm < 1.5 else 2 if norm < 3 else 5 if norm < 7 else 10) * magnitude
    ticks, value = [], math.floor(low / step) * step
    while value <= high + step * 1e-9:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value += step
    if ticks[-1] < high:
        ticks.append(ticks[-1] + step)
    return ticks


# ------------------------------------------------------------------------------------------ the frame

@dataclass
class Chart:
    """One figure with one plot area placed in CSS px, and the tooltips of its bars and dots."""

    figure: Figure
    ax: object
    width: int
    height: int
    margin: dict[str, float]
    lo: float = 0.0
    hi: float = 1.0
    base_height: int = 0  # the height without the caption band (the UI's PNGs carry a caption on top)
    tips: dict[str, tuple[str, float]] = field(default_factory=dict)  # gid -> (tooltip, corner radius)

    def tip(self, artist, text: str, radius: float = 0.0):
        """Give `artist` a tooltip in the SVG (and round a bar's corners by `radius` px)."""
        gid = f"tip{len(self.tips)}"
        artist.set_gid(gid)
        self.tips[gid] = (text, radius)
        return artist

    def svg(self, name: str, label: str) -> str:
        return figure_svg(self, name, label)

    def png(self) -> bytes:
        return png_bytes(self.figure)


def frame(*, width: int, height: int, slots: int, y_min: float, y_max: float, y_format: Callable[[float], str],
          x_labels: Sequence[str], margin: dict | None = None, y_floor: float | None = None,
          all_x_labels: bool = False, max_x_labels: int = 12, caption: str | None = None) -> Chart:
    """A chart's frame: y grid and values, x slots with their labels thinned (or slanted) to fit."""
    m = {"top": 14, "right": 12, "bottom": 26, "left": 62} | (margin or {})
    slot_w = (width - m["left"] - m["right"]) / max(slots, 1)
    every, slant = max(1, math.ceil(len(x_labels) / max_x_labels)), False
    if x_labels:
        widest = max(text_width(label, X_LABEL_PX) for label in x_labels) + 6
        if all_x_labels:
            slant = widest > slot_w
        else:
            every = max(every, math.ceil(widest / slot_w))
        if slant:
            extra = math.ceil(widest * math.sin(math.radians(SLANT_DEGREES)))
            m["bottom"] += extra
            height += extra
    base_height = height
    if caption:
        m["top"] += 22
        height += 22
    figure = Figure(figsize=(width / 72, height / 72), dpi=72, facecolor="white")
    if caption:
        figure.text(m["left"] / width, 1 - 16 / height, caption, fontsize=12, color=COLORS["net"],
                    ha="left", va="baseline")
    ax = figure.add_axes((m["left"] / width, m["bottom"] / height, (width - m["left"] - m["right"]) / width,
                          (height - m["top"] - m["bottom"]) / height))
    ax.set_axis_off()  # no matplotlib axis: the values and labels below are placed as the page placed them
    ticks = nice_ticks(y_min, y_max)
    lo = y_floor if y_floor is not None else ticks[0]
    hi = ticks[-1]
    ax.set_ylim(lo, hi if hi > lo else lo + 1)
    ax.set_xlim(-0.5, max(slots, 1) - 0.5)
    shown = [t for t in ticks if t >= lo]
    for t in shown:
        ax.axhline(t, color=COLORS["grid"], linewidth=1, zorder=0)
        # the value 6 px left of the plot, its baseline 4 px below the grid line
        ax.text(0, t, y_format(t), transform=offset_copy(ax.get_yaxis_transform(), figure, x=-6, y=-4, units="points"),
                ha="right", va="baseline", fontsize=10, color=COLORS["muted"])
    for i in range(0, len(x_labels), every):  # the label's baseline 15 px under the plot
        label = ax.text(i, 0, x_labels[i], transform=offset_copy(ax.get_xaxis_transform(), figure, y=-15, units="points"),
                        ha="right" if slant else "center", va="baseline", fontsize=X_LABEL_PX,
                        color=COLORS["muted"], rotation=SLANT_DEGREES if slant else 0, rotation_mode="anchor")
        label.set_gid(X_LABEL)
    return Chart(figure, ax, width, height, m, lo=lo, hi=hi, base_height=base_height)


def _legend(chart: Chart, items: list[dict]) -> None:
    """Keys along the top margin, left to right from the plot's left edge (baseline 12 px from the top): a
    square for bars, a short line for lines; each item {label, color, line: bool, width, dash}."""
    figure, width, height = chart.figure, chart.width, chart.height
    x, baseline = chart.margin["left"], 12 + (chart.height - chart.base_height)
    for item in items:
        if item.get("line"):
            figure.add_artist(Line2D([x / width, (x + 16) / width], [1 - (baseline - 4) / height] * 2,
                                     transform=figure.transFigure, color=item["color"],
                                     linewidth=item.get("width", 2), dashes=item.get("dash", ())))
            text_x = x + 20
        else:
            figure.add_artist(Rectangle((x / width, 1 - (baseline + 1) / height), 10 / width, 10 / height,
                                        transform=figure.transFigure, color=item["color"], linewidth=0))
            text_x = x + 14
        figure.text(text_x / width, 1 - baseline / height, item["label"], fontsize=10.5, color=COLORS["text"],
                    ha="left", va="baseline")
        x = text_x + text_width(item["label"], 10.5) + 6


def _dots(chart: Chart, values: Sequence[float], color: str, tooltip: Callable[[int, float], str]) -> None:
    for i, v in enumerate(values):
        if v is not None and math.isfinite(v):
            dot = chart.ax.add_line(Line2D([i], [v], marker="o", markersize=5, color=color, linestyle="none",
                                           zorder=4))
            chart.tip(dot, tooltip(i, v))


def _bar(chart: Chart, x: float, bottom: float, height: float, width: float, color: str, tooltip: str,
         radius: float = 0.0) -> None:
    """A bar centred on slot x, from `bottom` up by `height` (negative: down), with its tooltip."""
    bar = chart.ax.add_patch(Rectangle((x - width / 2, bottom), width, height, color=color, linewidth=0, zorder=2))
    chart.tip(bar, tooltip, radius)


def _floats(values: Sequence) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


# ------------------------------------------------------------------------------------------ SVG and PNG

SVG_NS = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


def figure_svg(chart: Chart, name: str, label: str) -> str:
    """The chart as an <svg> element to inline in HTML: one unit per CSS px, text as text (the page's font),
    x labels of class `x-label`, bars as <rect> and bars and dots with a <title> tooltip; no clip path, no
    style sheet, no metadata, ids prefixed with `name` so that several charts share a page."""
    out = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": name}):
        chart.figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None}, facecolor="none")
    root = ET.fromstring(out.getvalue())
    for element in root.iter():
        element.tag = element.tag.removeprefix(SVG_NS)
    _drop(root, lambda e: e.tag in ("metadata", "clipPath", "style"))
    _drop(root, lambda e: e.tag == "defs" and len(e) == 0)
    _drop(root, lambda e: e.tag == "g" and e.get("id") in ("patch_1",))  # the figure's white background
    for group in root.iter("g"):
        gid = group.get("id", "")
        if gid == X_LABEL:
            for text in group.iter("text"):
                text.set("class", X_LABEL)
        if gid in chart.tips:
            tooltip, radius = chart.tips[gid]
            for path in group.findall("path"):
                _as_rect(path, radius)
            title = ET.Element("title")
            title.text = tooltip
            group.insert(0, title)
    for element in root.iter():
        element.attrib.pop("clip-path", None)
        if "d" in element.attrib:
            element.set("d", " ".join(element.get("d").split()))
        if element.tag == "text":
            _plain_text(element)
        if element.tag == "use":
            element.set("href", "#" + name + "-" + element.attrib.pop(XLINK_HREF).removeprefix("#"))
        identifier = element.attrib.pop("id", None)
        if identifier and element.tag == "path":  # a marker's shape, which <use> elements point to
            element.set("id", f"{name}-{identifier}")
    _flatten(root)
    for attribute in ("version", "width", "height"):
        root.attrib.pop(attribute, None)
    root.attrib = {"class": "drawn", "width": str(chart.width), "height": str(round(chart.height)),
                   "role": "img", "aria-label": label, **root.attrib}
    ET.indent(root, space="")
    return ET.tostring(root, encoding="unicode", short_empty_elements=True)


def _drop(root: ET.Element, unwanted: Callable[[ET.Element], bool]) -> None:
    for parent in list(root.iter()):
        for child in list(parent):
            if unwanted(child):
                parent.remove(child)


def _flatten(parent: ET.Element) -> None:
    """Drop empty groups and unwrap groups that only hold one element and say nothing themselves."""
    for child in list(parent):
        _flatten(child)
        if child.tag == "g" and not child.attrib and len(child) <= 1:
            index = list(parent).index(child)
            parent.remove(child)
            if len(child):
                parent.insert(index, child[0])


def _as_rect(path: ET.Element, radius: float) -> None:
    """An axis-aligned rectangle's path ("M x y L x y L x y L x y z") as a <rect> (corners rounded)."""
    numbers = [float(n) for n in path.get("d", "").replace("M", " ").replace("L", " ").replace("z", " ").split()]
    xs, ys = numbers[0::2], numbers[1::2]
    path.tag = "rect"
    path.attrib.pop("d")
    x, y = min(xs), min(ys)
    path.set("x", f"{x:g}")
    path.set("y", f"{y:g}")
    path.set("width", f"{max(xs) - x:g}")
    path.set("height", f"{max(ys) - y:g}")
    if radius:
        path.set("rx", f"{radius:g}")


def _plain_text(text: ET.Element) -> None:
    """The page's font, and no transform on level text (matplotlib writes rotate(-0 …) on every label)."""
    style = [rule.strip() for rule in text.get("style", "").split(";") if rule.strip()]
    text.set("style", "; ".join(rule for rule in style if not rule.startswith("font-family")))
    if text.get("transform", "").startswith("rotate(-0 "):
        text.attrib.pop("transform")


def png_bytes(*figures: Figure, colors: int = 96) -> bytes:
    """Figures stacked top to bottom as one palette PNG (a few dozen KB instead of a few hundred)."""
    images = []
    for figure in figures:
        figure.set_dpi(DPI)
        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        images.append(Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
                      .convert("RGB"))
        figure.set_dpi(72)
    sheet = Image.new("RGB", (max(i.width for i in images), sum(i.height for i in images)), "white")
    top = 0
    for image in images:
        sheet.paste(image, (0, top))
        top += image.height
    palette = sheet.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    return out.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
