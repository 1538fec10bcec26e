"""The policy annex's indicator table, and what the gateway can and cannot measure of each indicator.

The annex (《张店区镇村便民服务"三个三模式"建设指导标准》) evaluates a town
or street centre by its "三个一", a village station by its "三个办", and
every office by the "三项创新". The gateway sees requests, refusals,
ratings, seals and deliveries -- not staff rosters, rooms, devices or
agreements -- so each indicator lists the figures the gateway measures
(:class:`Measure`, computed from :class:`OfficeFigures`) and says plainly
what of it the gateway cannot measure. A measure whose data this release
does not record names the reason instead of showing a number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gateway.report.figures import DistrictFigures, OfficeFigures, rate

CENTRES = ("town", "street_office")
STATIONS = ("village_station",)
EVERY_OFFICE = ("town", "street_office", "village_station")
#: The annex's list sizes: items a town (135) or street (118) centre must handle (目录清单).
LIST_SIZE = {"town": 135, "street_office": 118}

Value = int | float | None
Compute = Callable[[OfficeFigures, DistrictFigures, Mapping[str, int]], Value]


@dataclass(frozen=True)
class Measure:
    """One figure of an indicator: ``unit`` is ``count`` or ``rate`` (0..1); ``needs`` names the data it needs."""

    key: str
    label_zh: str
    label_en: str
    unit: str
    compute: Compute
    needs: str | None = None


@dataclass(frozen=True)
class Indicator:
    """One second-level indicator of the annex, for the office levels it applies to."""

    key: str
    group_zh: str
    name_zh: str
    name_en: str
    levels: tuple[str, ...]
    measures: tuple[Measure, ...]
    not_measured: str


def _count(get: Callable[[OfficeFigures], int]) -> Compute:
    return lambda office, _district, _catalogue: get(office)


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "staff",
        '镇级便民服务中心实行"三个一"',
        "人员一口管理",
        "Staff managed in one place",
        CENTRES,
        (
            Measure(
                "operators_active",
                "受理过申请的窗口人员",
                "window staff who accepted requests",
                "count",
                _count(lambda o: len(o.operators)),
            ),
        ),
        "Staffing levels, people at their posts, who manages and appraises them, the centre's dedicated "
        "manager: personnel facts the gateway does not hold. It only sees the operator id each request names "
        "(首问负责).",
    ),
    Indicator(
        "one_window",
        '镇级便民服务中心实行"三个一"',
        "事项一窗通办",
        "Every item at one window",
        CENTRES,
        (
            Measure("received", "受理申请", "requests received", "count", _count(lambda o: o.received)),
            Measure("items_handled", "办理事项数", "items handled", "count", _count(lambda o: len(o.by_item()))),
            Measure(
                "items_open",
                "目录中本级可受理事项",
                "catalogue items this office level may accept",
                "count",
                lambda o, _d, catalogue: catalogue.get(o.level),
                needs="catalogue",
            ),
            Measure(
                "finished_rate", "办结率", "finished / received", "rate", lambda o, _d, _c: rate(o.finished, o.received)
            ),
            Measure(
                "completed_rate",
                "办成率",
                "completed / finished",
                "rate",
                lambda o, _d, _c: rate(o.completed, o.finished),
            ),
            Measure(
                "on_time_rate",
                "按时办结率",
                "finished by the due date / finished with a due date",
                "rate",
                lambda o, _d, _c: rate(o.on_time, o.with_due_date),
                needs="on_time",
            ),
            Measure(
                "refusals",
                "一次性告知（退回补正）",
                "refused at intake, every problem told at once",
                "count",
                _count(lambda o: o.refusals),
            ),
            Measure(
                "bundles",
                "一链办理",
                "chained items (bundles) received",
                "count",
                _count(lambda o: sum(o.bundles.values())),
                needs="bundles",
            ),
            Measure(
                "bundles_completed",
                "一链办结",
                "bundles completed, every step sealed",
                "count",
                _count(lambda o: o.bundles["completed"]),
                needs="bundles",
            ),
            Measure("rated", "参与评价", "ratings given", "count", _count(lambda o: o.rated)),
            Measure(
                "rating_coverage",
                "评价率",
                "ratings / finished requests",
                "rate",
                lambda o, _d, _c: rate(o.rated, o.finished),
            ),
            Measure(
                "good_rating_rate",
                "好评率",
                "good ratings / ratings",
                "rate",
                lambda o, _d, _c: rate(o.good_ratings, o.rated),
            ),
            Measure(
                "follow_ups_opened",
                "差评回访（本月）",
                "follow-ups opened by bad ratings",
                "count",
                _count(lambda o: o.follow_ups_opened),
            ),
            Measure(
                "follow_ups_open_now",
                "差评回访未办结",
                "follow-ups still open now",
                "count",
                _count(lambda o: o.follow_ups_open_now),
            ),
        ),
        "Whether every item of the list (town 135, street 118) is stationed at the centre, more items devolved, "
        "service guides and manuals compiled, government affairs made public, staff trained, performance "
        "appraised: the gateway sees only the items its catalogue holds and the requests made for them.",
    ),
    Indicator(
        "one_seal",
        '镇级便民服务中心实行"三个一"',
        "审批一枚印章",
        "One seal for approvals",
        CENTRES,
        (Measure("sealed_results", "电子印章盖章结果", "results sealed", "count", _count(lambda o: o.completed)),),
        "The physical seals, blank certificates and how they are kept. Every completed request's result is "
        "sealed electronically with the seal its item requires (docs/seals.md): the count is the completed requests.",
    ),
    Indicator(
        "nearby",
        '村级便民服务站实行"三个办"',
        '一般事项"就近办"',
        "Common items handled nearby",
        STATIONS,
        (
            Measure("received", "受理申请", "requests received", "count", _count(lambda o: o.received)),
            Measure("items_handled", "办理事项数", "items handled", "count", _count(lambda o: len(o.by_item()))),
            Measure(
                "finished_rate", "办结率", "finished / received", "rate", lambda o, _d, _c: rate(o.finished, o.received)
            ),
            Measure("rated", "参与评价", "ratings given", "count", _count(lambda o: o.rated)),
            Measure(
                "good_rating_rate",
                "好评率",
                "good ratings / ratings",
                "rate",
                lambda o, _d, _c: rate(o.good_ratings, o.rated),
            ),
        ),
        'The station\'s "六有一能" standard, its premises and its site on the provincial service portal. That the '
        "station reaches the extranet shows in its requests arriving at all.",
    ),
    Indicator(
        "self_service",
        '村级便民服务站实行"三个办"',
        '高频事项"自助办"',
        "Frequent items by self-service",
        EVERY_OFFICE,
        (
            Measure(
                "kiosk_requests",
                "自助终端受理",
                "requests at kiosks",
                "count",
                _count(lambda o: o.by_channel()["kiosk"]),
            ),
            Measure(
                "kiosk_off_hours",
                "非工作时间自助受理",
                "kiosk requests outside 08:30-17:30 on weekdays (24小时不打烊)",
                "count",
                _count(lambda o: o.self_service_off_hours),
            ),
        ),
        "Which devices are installed and kept working, and the help given at them; public holidays are not "
        "told apart from working days in the off-hours count.",
    ),
    Indicator(
        "proxy",
        '村级便民服务站实行"三个办"',
        '复杂事项"帮代办"',
        "Complex items handled by helpers",
        EVERY_OFFICE,
        (
            Measure(
                "helper_requests",
                "帮办员终端受理",
                "requests from helpers' tablets",
                "count",
                _count(lambda o: o.by_channel()["helper"]),
            ),
            Measure(
                "proxy_handled",
                "帮办代办（授权）",
                "requests handled under an applicant's authorisation",
                "count",
                _count(lambda o: o.proxy_handled),
                needs="proxy",
            ),
        ),
        "The helpers' team and training, AB roles, free home visits, off-hours and holiday appointments: they "
        "show only as requests a helper's tablet made.",
    ),
    Indicator(
        "partner_outlets",
        '基层便民服务机制推行"三项创新"',
        '实施"政务+金融（邮、商）"服务',
        "Government services at bank, post and market outlets",
        EVERY_OFFICE,
        (
            Measure(
                "outlet_requests",
                "合作网点受理",
                "requests at partner outlets",
                "count",
                _count(lambda o: o.by_channel()["partner_outlet"]),
            ),
            Measure(
                "outlet_items",
                "合作网点可查询办理事项",
                "items queried or handled at partner outlets",
                "count",
                _count(lambda o: len({item for (item, channel) in o.by_item_channel if channel == "partner_outlet"})),
            ),
        ),
        "The cooperation agreements, the outlets' equipment and staff. The annex's table names only this one "
        "of the three innovations; the other two are not in it, so the report cannot lay anything against them.",
    ),
)


def applies(indicator: Indicator, office: OfficeFigures) -> bool:
    """Whether the annex evaluates ``office`` by ``indicator``."""
    return office.level in indicator.levels


def value_of(
    measure: Measure, office: OfficeFigures, district: DistrictFigures, catalogue: Mapping[str, int]
) -> tuple[Value, str | None]:
    """The measure's value, or None with the reason it is not available."""
    if measure.needs == "catalogue" and not catalogue:
        return None, "the catalogue was not loaded"
    if measure.needs is not None and measure.needs in district.unavailable:
        return None, district.unavailable[measure.needs]
    return measure.compute(office, district, catalogue), None
