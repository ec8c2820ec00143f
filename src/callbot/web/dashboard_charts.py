"""Server-side SVG charts for the dashboard: offline, no JavaScript, readable by screen readers
(each chart has a title and a description; the same figures are in a table under it)."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

from callbot.analytics.figures import WEEKDAYS, DayRow

# Colour-blind-safe palette (Okabe-Ito), contrast >= 3:1 on white for graphical objects.
RESOLVED, TRANSFERRED, ABANDONED, OTHER = "#0072B2", "#D55E00", "#6B6B6B", "#009E73"


def _svg(width: int, height: int, title: str, desc: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{escape(title)}" class="chart">'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>{''.join(body)}</svg>"
    )


def calls_per_day(days: list[DayRow], width: int = 960, height: int = 240) -> Markup:
    """Stacked bars per day: resolved by the bot, transferred, abandoned, other outcomes."""
    left, bottom, top = 44, 28, 10
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max((d.calls for d in days), default=0) or 1
    bar = plot_w / max(len(days), 1)
    body = []
    for frac in (0, 0.5, 1):
        y = top + plot_h * (1 - frac)
        body.append(
            f'<line x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ccc"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
            f"{round(peak * frac)}</text>"
        )
    label_every = max(1, len(days) // 12)
    for i, d in enumerate(days):
        x = left + i * bar
        y = top + plot_h
        other = d.calls - d.resolved - d.transferred - d.abandoned
        for value, colour in (
            (d.resolved, RESOLVED),
            (d.transferred, TRANSFERRED),
            (d.abandoned, ABANDONED),
            (other, OTHER),
        ):
            if value <= 0:
                continue
            h = plot_h * value / peak
            y -= h
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bar - 1, 0.5):.1f}" height="{h:.1f}" '
                f'fill="{colour}"/>'
            )
        body.append(
            f"<g><title>{d.day:%d/%m/%Y} : {d.calls} appels, {d.resolved} résolus par le bot, "
            f"{d.transferred} transférés, {d.abandoned} abandonnés</title>"
            f'<rect x="{x:.1f}" y="{top}" width="{bar:.1f}" height="{plot_h}" fill="transparent"/></g>'
        )
        if i % label_every == 0:
            body.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - 10}" text-anchor="middle" font-size="11">'
                f"{d.day:%d/%m}</text>"
            )
    total = sum(d.calls for d in days)
    return _svg(
        width,
        height,
        "Appels par jour",
        f"{total} appels sur {len(days)} jours, au plus {peak if total else 0} en un jour. "
        "Bleu : résolus par le bot ; orange : transférés ; gris : abandonnés ; vert : autres.",
        body,
    )


def heatmap(grid: list[list[int]], width: int = 960, height: int = 230) -> Markup:
    """Calls per hour of the week (local time), darker = more calls."""
    left, top = 80, 22
    cell_w, cell_h = (width - left - 8) / 24, (height - top - 4) / 7
    peak = max((n for row in grid for n in row), default=0) or 1
    body = [
        f'<text x="{left + h * cell_w + cell_w / 2:.1f}" y="14" text-anchor="middle" '
        f'font-size="11">{h}h</text>'
        for h in range(0, 24, 2)
    ]
    for d, row in enumerate(grid):
        y = top + d * cell_h
        body.append(
            f'<text x="{left - 6}" y="{y + cell_h / 2 + 4:.1f}" text-anchor="end" font-size="12">'
            f"{WEEKDAYS[d]}</text>"
        )
        for h, n in enumerate(row):
            # Light-to-dark blue; an empty hour stays near-white.
            level = n / peak
            light = round(97 - 62 * level)
            body.append(
                f'<rect x="{left + h * cell_w:.1f}" y="{y:.1f}" width="{cell_w - 1:.1f}" '
                f'height="{cell_h - 1:.1f}" fill="hsl(210, 80%, {light}%)">'
                f"<title>{WEEKDAYS[d]} {h}h–{h + 1}h : {n} appels</title></rect>"
            )
    return _svg(
        width,
        height,
        "Appels par heure de la semaine",
        f"Carte de chaleur, heure locale ; maximum {peak if any(map(any, grid)) else 0} appels "
        "sur un créneau d'une heure.",
        body,
    )


def hbars(items: list[tuple[str, int]], title: str, colour: str = TRANSFERRED, width: int = 460) -> Markup:
    """Horizontal bars with their labels and values (transfer reasons, satisfaction...)."""
    row_h, left = 26, 220
    height = max(row_h * len(items) + 8, 30)
    peak = max((n for _, n in items), default=0) or 1
    body = []
    for i, (label, n) in enumerate(items):
        y = 4 + i * row_h
        w = (width - left - 60) * n / peak
        body.append(
            f'<text x="{left - 8}" y="{y + 16}" text-anchor="end" font-size="12">{escape(label)}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" fill="{colour}"/>'
            f'<text x="{left + w + 6:.1f}" y="{y + 16}" font-size="12">{n}</text>'
        )
    if not items:
        body.append('<text x="8" y="20" font-size="12">Aucune donnée sur la période.</text>')
    desc = " ; ".join(f"{label} : {n}" for label, n in items) or "aucune donnée"
    return _svg(width, height, title, desc, body)
