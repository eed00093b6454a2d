"""The one palette: the colours of the MRR movements, lines, text and the retention scale, for the charts
(Dagster UI and report), the report's stylesheet and heatmaps, the UI's trend lines and the simulator's chart.
"""

from __future__ import annotations

COLORS = {
    # one colour per MRR movement; "total" is opening and closing MRR
    "total": "#455a64",
    "new": "#2e7d32",
    "expansion": "#66bb6a",
    "reactivation": "#00897b",
    "contraction": "#ef6c00",
    "churned": "#c62828",
    "fx": "#7e57c2",
    # lines and the page's accent; good and bad changes
    "line": "#1565c0",
    "good": "#2e7d32",
    "bad": "#c62828",
    # the charts' ink: text, axis labels, grid lines, reference lines, the zero line, the net-change line
    "text": "#3e4c59",
    "muted": "#7b8794",
    "grid": "#e6e9ed",
    "reference": "#9aa5b1",
    "zero": "#616e7c",
    "net": "#1f2933",
}

# The retention scale, pale red (nobody kept) to deep green (everyone, or more); cells saturate at `top`.
RETENTION_STOPS = ["#fbe9e7", "#ffcc80", "#a5d6a7", "#1b5e20"]
RETENTION_INK = ("#212121", "#fff")  # the number on a pale cell, on a dark one


def _rgb(hex_color: str) -> tuple[int, int, int]:
    return int(hex_color[1:3], 16), int(hex_color[3:5], 16), int(hex_color[5:7], 16)


_STOPS_RGB = [_rgb(c) for c in RETENTION_STOPS]


def retention_color(value: float | None, top: float) -> str:
    """The heatmap's colour for a retention value, interpolated between RETENTION_STOPS ("" for no value)."""
    if value is None:
        return ""
    stops = _STOPS_RGB
    t = min(max(value / top, 0.0), 1.0) * (len(stops) - 1)
    i = min(int(t), len(stops) - 2)
    f = t - i
    r, g, b = (round(a + (c - a) * f) for a, c in zip(stops[i], stops[i + 1], strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def retention_ink(value: float, top: float) -> str:
    """White on the dark end of the scale, near-black elsewhere."""
    return RETENTION_INK[1] if value > 0.75 * top else RETENTION_INK[0]
