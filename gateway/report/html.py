"""The district report as one self-contained HTML page: tables to read, SVG charts to look at.

No script, no external file, no font download: the page opens the same
from a USB stick on an office PC. Charts are drawn here (:mod:`~gateway.report.svg`)
where a comparison is easier seen than read -- requests per office and
channel, the spread of ratings, the commonest refusal reasons; every
figure also stands in a table. A figure this release cannot give says so
in words, never as a zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from gateway.ratings.grades import Grade
from gateway.report.figures import DistrictFigures, OfficeFigures, rate
from gateway.report.indicators import INDICATORS, LIST_SIZE, applies, value_of
from gateway.report.svg import GRADE_COLOURS, bars, stacked

CHANNELS = {
    "window": "综合窗口",
    "village_station": "村级便民服务站",
    "kiosk": "自助终端",
    "partner_outlet": "合作网点",
    "helper": "帮办代办",
    "online": "网上",
}
LEVELS = {"town": "镇便民服务中心", "street_office": "街道便民服务中心", "village_station": "村级便民服务站"}
TOP = 10

_STYLE = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Zen Hei","Microsoft YaHei",sans-serif;margin:24px 32px;color:#1d2329}
h1{font-size:24px;margin:0 0 4px}h2{font-size:20px;margin:32px 0 8px;border-bottom:2px solid #1f6fb2}
h3{font-size:16px;margin:20px 0 6px}p.meta{color:#56606a;margin:0 0 16px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid #c9d1d8;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef3f7}td.n{text-align:right;font-variant-numeric:tabular-nums}
.na{color:#8a5a00;font-style:italic}.cannot{color:#56606a;font-size:12px}
svg.chart{display:block;margin:6px 0 12px}
"""


def _number(value: int | float | None, unit: str, why: str | None = None) -> str:
    if value is None:
        return f'<span class="na">{escape(why or "no data this month")}</span>'
    if unit == "rate":
        return f"{value * 100:.1f}%"
    return str(value)


def _rate(part: int | None, whole: int | None) -> str:
    return _number(rate(part, whole), "rate", "—")


def _summary(district: DistrictFigures) -> str:
    on_time_why = district.unavailable.get("on_time")
    head = (
        "<tr><th>机构 office</th><th>级别</th><th>受理</th><th>办结率</th><th>办成率</th><th>按时办结率</th>"
        "<th>退回补正</th><th>评价</th><th>好评率</th><th>未办结回访</th><th>待投递(outbox)</th><th>死信</th></tr>"
    )
    rows = []
    for office in district.offices.values():
        on_time = (
            f'<span class="na">{escape(on_time_why)}</span>'
            if on_time_why
            else _rate(office.on_time, office.with_due_date)
        )
        rows.append(
            f"<tr><td>{escape(office.name)}<br><small>{escape(office.code)}</small></td>"
            f"<td>{escape(LEVELS.get(office.level, office.level))}</td><td class=n>{office.received}</td>"
            f"<td class=n>{_rate(office.finished, office.received)}</td>"
            f"<td class=n>{_rate(office.completed, office.finished)}</td><td class=n>{on_time}</td>"
            f"<td class=n>{office.refusals}</td><td class=n>{office.rated}</td>"
            f"<td class=n>{_rate(office.good_ratings, office.rated)}</td><td class=n>{office.follow_ups_open_now}</td>"
            f"<td class=n>{sum(office.outbox_now.values())}</td><td class=n>{office.dead_letters}</td></tr>"
        )
    return f'<table id="summary">{head}{"".join(rows)}</table>'


def _indicators(office: OfficeFigures, district: DistrictFigures, catalogue: Mapping[str, int]) -> str:
    out = [
        '<table class="indicators"><tr><th>一级指标</th><th>二级指标</th><th>网关可计量 measured</th>'
        "<th>网关无法计量 not measurable from gateway data</th></tr>"
    ]
    for indicator in INDICATORS:
        if not applies(indicator, office):
            continue
        measures = []
        for measure in indicator.measures:
            value, why = value_of(measure, office, district, catalogue)
            measures.append(
                f'<div data-measure="{escape(measure.key)}">{escape(measure.label_zh)} '
                f"<small>({escape(measure.label_en)})</small>: <b>{_number(value, measure.unit, why)}</b></div>"
            )
        note = indicator.not_measured
        if indicator.key == "one_window" and office.level in LIST_SIZE:
            note += f" The annex's list for this level: {LIST_SIZE[office.level]} items."
        out.append(
            f"<tr><td>{escape(indicator.group_zh)}</td><td>{escape(indicator.name_zh)}<br>"
            f"<small>{escape(indicator.name_en)}</small></td><td>{''.join(measures)}</td>"
            f'<td class="cannot">{escape(note)}</td></tr>'
        )
    out.append("</table>")
    return "".join(out)


def _by_item_channel(office: OfficeFigures) -> str:
    channels = sorted({channel for _, channel in office.by_item_channel})
    if not channels:
        return "<p>No requests this month.</p>"
    head = "".join(f"<th>{escape(CHANNELS.get(c, c))}<br><small>{escape(c)}</small></th>" for c in channels)
    rows = []
    for item, total in sorted(office.by_item().items(), key=lambda kv: (-kv[1], kv[0])):
        cells = "".join(f"<td class=n>{office.by_item_channel.get((item, c), 0)}</td>" for c in channels)
        rows.append(f"<tr><td>{escape(item)}</td>{cells}<td class=n><b>{total}</b></td></tr>")
    return f'<table class="by-item"><tr><th>事项 item</th>{head}<th>合计</th></tr>{"".join(rows)}</table>'


def _top(title: str, counts: Mapping[str, int], empty: str) -> str:
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
    if not top:
        return f"<h3>{escape(title)}</h3><p>{escape(empty)}</p>"
    rows = "".join(f"<tr><td><code>{escape(k)}</code></td><td class=n>{n}</td></tr>" for k, n in top)
    return f"<h3>{escape(title)}</h3>{bars(title, top)}<table><tr><th>reason</th><th>requests</th></tr>{rows}</table>"


def _ratings(office: OfficeFigures) -> str:
    rows = [(f"{g.zh} {g.value}", office.grades.get(g.value, 0)) for g in Grade]
    chart = bars("Ratings by grade", rows, colours=GRADE_COLOURS, keys=[g.value for g in Grade]) if office.rated else ""
    tags = ", ".join(f"{escape(t)} ×{n}" for t, n in office.tags.most_common()) or "—"
    return (
        f"<h3>好差评 ratings</h3>{chart or '<p>No ratings this month.</p>'}"
        f"<p>Tags: {tags}. Follow-ups opened this month: {office.follow_ups_opened}, of which closed: "
        f"{office.follow_ups_closed}; open now (any month): {office.follow_ups_open_now}.</p>"
    )


def _delivery(office: OfficeFigures) -> str:
    waiting = ", ".join(f"{escape(a)} {n}" for a, n in sorted(office.outbox_now.items())) or "nothing"
    statuses = ", ".join(f"{escape(s)} {n}" for s, n in sorted(office.by_status.items())) or "—"
    bundles = ", ".join(f"{escape(s)} {n}" for s, n in sorted(office.bundles.items()))
    purged = f" Requests purged since (proxy handling no longer known): {office.purged}." if office.purged else ""
    return (
        f"<h3>投递 delivery</h3><p>Requests of the month by status: {statuses}. Dead letters: "
        f"{office.dead_letters}. In the outbox now (any month): {waiting}."
        + (f" Bundles of the month by status: {bundles}." if bundles else "")
        + f"{purged}</p>"
    )


def render_html(district: DistrictFigures, catalogue: Mapping[str, int] | None = None) -> str:
    """The whole report as one HTML document."""
    catalogue = catalogue or {}
    month = district.month
    channels = sorted({c for o in district.offices.values() for c in o.by_channel()})
    per_office = [(o.name, dict(o.by_channel())) for o in district.offices.values()]
    body = [
        f"<h1>镇村便民服务月报 · District service report {escape(month.label)}</h1>",
        f'<p class="meta">Requests received {escape(month.label)} (China Standard Time), laid against the annex '
        "《镇村便民服务\u201c三个三模式\u201d建设指导标准》. "
        f"Made {escape(district.made_at.isoformat(timespec='seconds'))}; "
        "outbox and open follow-ups as of then.</p>",
        "<h2>各机构概览 Offices at a glance</h2>",
        _summary(district),
        stacked("Requests per office and channel", per_office, channels) if channels else "",
    ]
    if district.unavailable:
        items = "".join(f"<li><b>{escape(k)}</b>: {escape(v)}</li>" for k, v in sorted(district.unavailable.items()))
        body.append(f'<h3>Not available yet</h3><ul class="na">{items}</ul>')
    for office in district.offices.values():
        body += [
            f'<section id="office-{escape(office.code)}"><h2>{escape(office.name)} '
            f"<small>{escape(office.code)} · {escape(LEVELS.get(office.level, office.level))}</small></h2>",
            "<h3>指标 indicators</h3>",
            _indicators(office, district, catalogue),
            "<h3>按事项和渠道 requests by item and channel</h3>",
            _by_item_channel(office),
            _ratings(office),
            _top("退回补正原因 top refusal reasons at intake (path:code)", office.refusal_problems, "No refusals."),
            _top("部门不予办理原因 agency rejection reasons", office.rejection_reasons, "No rejections."),
            _delivery(office),
            "</section>",
        ]
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>便民服务月报 {escape(month.label)}</title><style>{_STYLE}</style></head><body>"
        + "".join(body)
        + "</body></html>"
    )
