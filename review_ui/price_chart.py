"""A product's price chart as inline SVG: observed prices and claimed reference prices over time.

    from review_ui.price_chart import price_chart_svg
    svg = price_chart_svg(store.price_observations(url), highlight=set(hit["captures"]))

Pure function, no I/O: the observations are `Store.price_observations` rows (or any mappings with
`at`, `price`, `references` [{label, amount}], `capture_id`). The result is a self-contained
`<svg>` element with no script and no external reference; every text is escaped, so it can be put
into a page as is (mark it safe in the template). Times are shown in China time (+08:00).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from html import escape

CST = dt.timezone(dt.timedelta(hours=8), "+08:00")
WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 44
PRICE_COLOUR = "#1f5fbf"
REFERENCE_COLOURS = ("#c0392b", "#8e44ad", "#d35400", "#7f8c8d")


def _at(value) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    else:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(CST)


def _money(value: float) -> str:
    return f"¥{value:g}" if float(value) == int(value) else f"¥{value:.2f}"


def _empty(title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="price-chart" role="img" width="{WIDTH}" height="60" '
        f'viewBox="0 0 {WIDTH} 60" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        '<text x="12" y="34" font-size="14" fill="#555">暂无价格记录</text></svg>'
    )


def price_chart_svg(
    observations: Iterable[Mapping], highlight: Iterable[int] | None = None, title: str = "价格走势"
) -> str:
    """Inline SVG of observed prices (line and points) and claimed references (dashed), per label.

    `highlight`: capture ids drawn as larger rings (the captures that prove a series hit).
    """
    marked = {int(c) for c in highlight or []}
    points = []
    for obs in observations:
        try:
            at = _at(obs["at"])
        except (KeyError, TypeError, ValueError):
            continue
        refs = [r for r in obs.get("references") or [] if r.get("amount") is not None]
        if obs.get("price") is None and not refs:
            continue
        points.append((at, obs.get("price"), refs, obs.get("capture_id")))
    if not points:
        return _empty(title)
    points.sort(key=lambda p: p[0])
    amounts = [p[1] for p in points if p[1] is not None] + [r["amount"] for p in points for r in p[2]]
    low, high = min(amounts), max(amounts)
    span = high - low or max(high, 1) * 0.2
    y_min, y_max = max(0.0, low - span * 0.15), high + span * 0.15
    t0, t1 = points[0][0].timestamp(), points[-1][0].timestamp()
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: dt.datetime) -> float:
        return LEFT + (plot_w / 2 if t1 == t0 else (at.timestamp() - t0) / (t1 - t0) * plot_w)

    def y(amount: float) -> float:
        return TOP + (y_max - amount) / (y_max - y_min) * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="price-chart" role="img" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#ccc"/>',
    ]
    for amount in sorted({low, high}):
        out.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(amount):.1f}" y2="{y(amount):.1f}" stroke="#eee"/>'
            f'<text x="{LEFT - 6}" y="{y(amount) + 4:.1f}" font-size="11" text-anchor="end" fill="#555">'
            f"{escape(_money(amount))}</text>"
        )
    days = sorted({p[0].date() for p in points})
    shown_days = days if len(days) <= 8 else days[:: max(1, len(days) // 7)]
    for day in shown_days:
        at = min(p[0] for p in points if p[0].date() == day)
        out.append(
            f'<text x="{x(at):.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11" text-anchor="middle" fill="#555">'
            f"{escape(day.strftime('%m-%d'))}</text>"
        )
    # claimed references, one dashed series per label
    labels = list(dict.fromkeys(r["label"] or "原价" for p in points for r in p[2]))
    legend = [("实际售价", PRICE_COLOUR, "")]
    for i, label in enumerate(labels):
        colour = REFERENCE_COLOURS[i % len(REFERENCE_COLOURS)]
        legend.append((f"标示{label}", colour, "5 4"))
        pts = [(p[0], r["amount"], p[3]) for p in points for r in p[2] if (r["label"] or "原价") == label]
        if len(pts) > 1:
            path = " ".join(f"{x(a):.1f},{y(v):.1f}" for a, v, _c in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-dasharray="5 4"/>')
        for a, v, cid in pts:
            tip = f"{a:%Y-%m-%d %H:%M} 标示{label} {_money(v)}" + (
                f"（采集 #{cid}）" if cid is not None else ""
            )
            out.append(
                f'<rect x="{x(a) - 3:.1f}" y="{y(v) - 3:.1f}" width="6" height="6" fill="{colour}">'
                f"<title>{escape(tip)}</title></rect>"
            )
    priced = [p for p in points if p[1] is not None]
    if len(priced) > 1:
        path = " ".join(f"{x(p[0]):.1f},{y(p[1]):.1f}" for p in priced)
        out.append(f'<polyline points="{path}" fill="none" stroke="{PRICE_COLOUR}" stroke-width="2"/>')
    for at, price, _refs, cid in priced:
        ring = cid is not None and int(cid) in marked
        tip = f"{at:%Y-%m-%d %H:%M} 实际售价 {_money(price)}" + (
            f"（采集 #{cid}）" if cid is not None else ""
        )
        out.append(
            f'<circle cx="{x(at):.1f}" cy="{y(price):.1f}" r="{6 if ring else 3.5}" fill="{PRICE_COLOUR}"'
            + (' stroke="#f1c40f" stroke-width="3"' if ring else "")
            + f"><title>{escape(tip)}</title></circle>"
        )
    for i, (name, colour, dash) in enumerate(legend):
        lx = LEFT + i * 130
        out.append(
            f'<line x1="{lx}" x2="{lx + 22}" y1="14" y2="14" stroke="{colour}" stroke-width="2"'
            + (f' stroke-dasharray="{dash}"' if dash else "")
            + f'/><text x="{lx + 28}" y="18" font-size="12" fill="#333">{escape(name)}</text>'
        )
    out.append("</svg>")
    return "".join(out)
