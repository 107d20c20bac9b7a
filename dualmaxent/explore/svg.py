"""Small SVG charts for the explorer: lines, points, log axes, an image underlay, contours.

matplotlib takes 100 to 400 ms to draw one of the explorer's panels on this 2-core machine
(laying out the tick labels of log axes dominates), more than the whole budget of a slider move
(0.3 s). These charts are strings: a panel costs about a millisecond, and the browser draws it.
They plot arrays they are given and compute nothing else.
"""

from __future__ import annotations

import base64
import html
import struct
import zlib

import numpy as np

__all__ = ["Series", "chart", "png_data_uri"]

_FONT = "font-family:DejaVu Sans,Arial,sans-serif"


class Series:
    """One curve or point cloud: ``x``, ``y`` arrays, a colour, a legend label, and how to draw
    it (``"line"``, ``"points"`` or ``"both"``; ``dash`` a SVG dash pattern)."""

    def __init__(self, x, y, color="#1f77b4", label="", mode="line", dash="", size=2.5,
                 opacity=1.0):
        self.x = np.asarray(x, dtype=np.float64).ravel()
        self.y = np.asarray(y, dtype=np.float64).ravel()
        self.color, self.label, self.mode, self.dash = color, label, mode, dash
        self.size, self.opacity = size, opacity


def _ticks(lo: float, hi: float, log: bool) -> list[float]:
    if log:
        a, b = int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi)))
        step = max(1, (b - a) // 6 + 1)
        return [10.0 ** e for e in range(a, b + 1, step) if lo <= 10.0 ** e <= hi]
    span = hi - lo
    raw = span / 5 if span > 0 else 1.0
    mag = 10.0 ** np.floor(np.log10(raw))
    step = min((s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw), default=raw)
    first = np.ceil(lo / step) * step
    return [float(v) for v in np.arange(first, hi + step * 1e-9, step)]


def _label(v: float, log: bool, step: float = 0.0) -> str:
    if log:
        e = int(round(np.log10(v)))
        return f"1e{e}" if abs(e) > 2 else f"{v:g}"
    if abs(v) < 1e-9 * step:  # a tick at zero computed as -1e-17: not "-0"
        return "0"
    return f"{v:.4g}" if abs(v) >= 1e-3 else f"{v:.1e}"


def _limits(values: list[np.ndarray], log: bool, given):
    if given is not None:
        return float(given[0]), float(given[1])
    v = np.concatenate([a[np.isfinite(a) & ((a > 0) if log else True)] for a in values]
                       or [np.array([1.0])])
    if v.size == 0:
        v = np.array([1.0])
    lo, hi = float(v.min()), float(v.max())
    if log:
        lo, hi = (lo / 1.5, hi * 1.5) if lo < hi else (lo / 10, hi * 10)
    else:
        pad = 0.05 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.05
        lo, hi = lo - pad, hi + pad
    return lo, hi


def chart(series, *, title="", xlabel="", ylabel="", xlog=False, ylog=False, xlim=None,
          ylim=None, width=360, height=250, diagonal=False, hlines=(), underlay="",
          legend="upper right") -> str:
    """An SVG chart of ``series`` (a list of :class:`Series`).

    ``hlines`` are ``(y, color, dash, label)`` horizontal lines; ``diagonal`` draws ``y = x``;
    ``underlay`` is a data URI of an image stretched over the plot area (the map). ``legend``
    is ``"upper right"``, ``"upper left"`` (inside the plot) or ``"outside"`` (a margin on the
    right, the chart ``width`` growing by it).
    """
    left, right, top, bottom = 62, 12, 24, 44
    labelled = [s.label for s in series if s.label] + [h[3] for h in hlines if h[3]]
    if legend == "outside" and labelled:
        # the legend in a margin of its own, right of the plot: curves that cross the whole
        # plot (the bracket's) leave no corner free
        right += 34 + 7 * max(len(t) for t in labelled)
        width += 34 + 7 * max(len(t) for t in labelled)
    pw, ph = width - left - right, height - top - bottom
    xs = [s.x for s in series]
    ys = [s.y for s in series] + [np.array([h[0]]) for h in hlines]
    x0, x1 = _limits(xs, xlog, xlim)
    y0, y1 = _limits(ys, ylog, ylim)
    fx = (lambda v: np.log10(v)) if xlog else (lambda v: v)
    fy = (lambda v: np.log10(v)) if ylog else (lambda v: v)
    X0, X1, Y0, Y1 = fx(x0), fx(x1), fy(y0), fy(y1)

    def px(v):
        with np.errstate(all="ignore"):
            return left + (fx(np.asarray(v, dtype=np.float64)) - X0) / (X1 - X0 or 1) * pw

    def py(v):
        with np.errstate(all="ignore"):
            return top + ph - (fy(np.asarray(v, dtype=np.float64)) - Y0) / (Y1 - Y0 or 1) * ph

    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
           f"viewBox='0 0 {width} {height}' style='{_FONT};font-size:11px'>"]
    out.append(f"<defs><clipPath id='c{id(series)}'><rect x='{left}' y='{top}' width='{pw}' "
               f"height='{ph}'/></clipPath></defs>")
    if underlay:
        out.append(f"<image href='{underlay}' x='{left}' y='{top}' width='{pw}' height='{ph}' "
                   "preserveAspectRatio='none'/>")
    for t in _ticks(x0, x1, xlog):
        p = float(px(t))
        out.append(f"<line x1='{p:.1f}' x2='{p:.1f}' y1='{top}' y2='{top + ph}' stroke='#eee'/>"
                   f"<text x='{p:.1f}' y='{top + ph + 14}' text-anchor='middle'>"
                   f"{_label(t, xlog, x1 - x0)}</text>")
    for t in _ticks(y0, y1, ylog):
        p = float(py(t))
        out.append(f"<line x1='{left}' x2='{left + pw}' y1='{p:.1f}' y2='{p:.1f}' stroke='#eee'/>"
                   f"<text x='{left - 4}' y='{p + 4:.1f}' text-anchor='end'>"
                   f"{_label(t, ylog, y1 - y0)}</text>")
    out.append(f"<rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='none' "
               "stroke='#999'/>")
    clip = f"clip-path='url(#c{id(series)})'"
    if diagonal:
        lo, hi = max(x0, y0), min(x1, y1)
        out.append(f"<line x1='{float(px(lo)):.1f}' y1='{float(py(lo)):.1f}' "
                   f"x2='{float(px(hi)):.1f}' y2='{float(py(hi)):.1f}' stroke='#666' "
                   f"stroke-dasharray='4 3' {clip}/>")
    for y, color, dash, _ in hlines:
        out.append(f"<line x1='{left}' x2='{left + pw}' y1='{float(py(y)):.1f}' "
                   f"y2='{float(py(y)):.1f}' stroke='{color}' stroke-dasharray='{dash}' {clip}/>")
    for s in series:
        ok = np.isfinite(s.x) & np.isfinite(s.y)
        if xlog:
            ok &= s.x > 0
        if ylog:
            ok &= s.y > 0
        X, Y = px(s.x[ok]), py(s.y[ok])
        if s.mode in ("line", "both") and X.size > 1:
            pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(X, Y))
            out.append(f"<polyline points='{pts}' fill='none' stroke='{s.color}' "
                       f"stroke-width='1.6' stroke-dasharray='{s.dash}' {clip}/>")
        if s.mode in ("points", "both"):
            out.append(f"<g fill='{s.color}' fill-opacity='{s.opacity}' {clip}>" + "".join(
                f"<circle cx='{a:.1f}' cy='{b:.1f}' r='{s.size}'/>" for a, b in zip(X, Y))
                + "</g>")
    labels = [(s.color, s.dash, s.label) for s in series if s.label]
    labels += [(c, d, lab) for _, c, d, lab in hlines if lab]
    for i, (color, dash, label) in enumerate(labels):
        y = top + 12 + 14 * i
        x = (left + pw + 10 if legend == "outside" else
             left + pw - 150 if legend == "upper right" else left + 8)
        out.append(f"<line x1='{x}' x2='{x + 18}' y1='{y - 4}' y2='{y - 4}' stroke='{color}' "
                   f"stroke-width='2' stroke-dasharray='{dash}'/><text x='{x + 22}' y='{y}' "
                   f"style='paint-order:stroke;stroke:white;stroke-width:3px'>"
                   f"{html.escape(label)}</text>")
    out.append(f"<text x='{left + pw / 2}' y='{height - 8}' text-anchor='middle'>"
               f"{html.escape(xlabel)}</text>")
    out.append(f"<text transform='translate(14,{top + ph / 2}) rotate(-90)' "
               f"text-anchor='middle'>{html.escape(ylabel)}</text>")
    out.append(f"<text x='{left}' y='{top - 8}' style='font-size:12px;font-weight:bold'>"
               f"{html.escape(title)}</text></svg>")
    return "".join(out)


def png_data_uri(rgb: np.ndarray) -> str:
    """A data URI of the RGB image ``rgb`` (floats in [0, 1], shape (h, w, 3), first row at
    the *bottom*, as ``imshow(origin="lower")``), encoded as PNG with zlib."""
    img = (np.clip(rgb[::-1], 0, 1) * 255).astype(np.uint8)
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
