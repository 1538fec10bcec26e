"""What the housing fund sandbox knows: accounts, loans and the business rules of each transaction.

Every answer is derived from the ID number (hash-seeded), so the same
applicant always sees the same account. Each function takes the decoded
form and returns a :class:`Reply`; the protocol (GBK, signature, status
codes, line layout) is :mod:`plugins.housing_fund.sandbox`'s job.

SAMPLE DATA: every person, employer, account, amount and number is invented.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

# People and organisations the sandbox knows by name (实名核验): a wrong name is refused.
KNOWN_NAMES = {
    "370303199001011239": "张伟",
    "370303198503120027": "王秀英",
    "370303200102145629": "刘芳",
    "91370303MA3C4XY85N": "淄博房镇鑫源商贸有限公司",
}
# 刘芳 has an unsettled housing fund loan, so her rent withdrawal is refused (1203).
OPEN_LOAN_HOLDERS = {"370303200102145629"}
# Has never had a housing fund account (1001).
NO_ACCOUNT = {"370303196207054417"}

EMPLOYERS = (
    "淄博房镇鑫源商贸有限公司",
    "淄博东村精工机械有限公司",
    "淄博新华泰物流有限公司",
    "张店区房镇镇便民服务中心",
)
MONTHLY_RENT_CAP = 1200.0  # 张店分中心租房提取月度限额（样例）
REFUSALS = {
    "1001": "未查询到该证件号码对应的住房公积金个人账户",
    "1002": "姓名与证件号码不一致",
    "1202": "租赁期限不合法：租赁截止日期应晚于起始日期",
    "1203": "申请人名下有未结清的住房公积金贷款，不符合租房提取条件",
    "1204": "缺少本人及配偶名下无房产证明，且未签署告知承诺书",
    "1302": "缴存比例应在5%至12%之间",
}


@dataclass(frozen=True)
class Reply:
    """A transaction's answer before it is put on the wire."""

    code: str
    message: str
    record: dict[str, str] = field(default_factory=dict)
    rows: list[dict[str, str]] = field(default_factory=list)


def refuse(code: str) -> Reply:
    return Reply(code, REFUSALS[code])


def seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:6], "big")


def _money(value: float) -> str:
    return f"{value:.2f}"


def _months_back(count: int, today: date | None = None) -> list[str]:
    """The ``count`` months before this one, newest first, as ``YYYYMM``."""
    day = (today or date.today()).replace(day=1)
    out = []
    for _ in range(count):
        day = (day - timedelta(days=1)).replace(day=1)
        out.append(day.strftime("%Y%m"))
    return out


def identity_problem(form: dict[str, str]) -> Reply | None:
    """The real-name check every business transaction passes first (实名核验)."""
    id_number = form.get("zjhm", "")
    known = KNOWN_NAMES.get(id_number)
    given = form.get("xingming") or form.get("dwmc") or ""
    if known is not None and given != known:
        return refuse("1002")
    if id_number in NO_ACCOUNT:
        return refuse("1001")
    return None


def account(id_number: str, name: str) -> dict[str, str]:
    """The personal account of ``id_number`` (main record of 2001 and 1101)."""
    s = seed(id_number, "account")
    base = 3000 + s % 9000
    opened = date(2012 + s % 9, 1 + s % 12, 1 + s % 28)
    return {
        "GRZH": f"3703{s % 10**8:08d}",
        "XINGMING": name,
        "DWMC": EMPLOYERS[s % len(EMPLOYERS)],
        "ZHZT": "正常",
        "JCJS": _money(base),
        "JCBL": "12%",
        "YJCE": _money(base * 0.24),
        "ZHYE": _money(8000 + s % 90000 + (s >> 20) % 100 / 100),
        "JZNY": _months_back(1)[0],
        "KHRQ": opened.strftime("%Y%m%d"),
    }


def attachment_kinds(form: dict[str, str]) -> set[str]:
    """The kinds of the attachments sent (``fjsl`` of them, each ``fjlx<n>``)."""
    count = int(form.get("fjsl") or 0)
    return {form.get(f"fjlx{n}", "") for n in range(1, count + 1) if form.get(f"fjnr{n}")}


def _deposit_rows(record: dict[str, str], months: int) -> list[dict[str, str]]:
    return [{"NY": month, "JCLX": "汇缴", "FSE": record["YJCE"]} for month in _months_back(months)]


def account_query(form: dict[str, str]) -> Reply:
    """2001 个人账户信息查询."""
    record = account(form["zjhm"], form.get("xingming", ""))
    months = min(max(int(form.get("mxys") or 12), 1), 36)
    rows = _deposit_rows(record, months) if form.get("mxbz") == "1" else []
    return Reply("0000", "交易成功", record, rows)


def loan_query(form: dict[str, str]) -> Reply:
    """2002 贷款记录查询: 刘芳 has one open loan; others none or one settled loan."""
    id_number = form["zjhm"]
    s = seed(id_number, "loan")
    loans = []
    if id_number in OPEN_LOAN_HOLDERS:
        loans.append(
            {
                "HTBH": f"ZDGJJ2023{s % 10**6:06d}",
                "DKJE": "400000.00",
                "DKQX": "240",
                "DKLL": "2.85%",
                "DKYE": _money(360000 + s % 20000),
                "FFRQ": "20230615",
                "DKZT": "正常还款",
                "FWZL": "淄博市张店区房镇镇华光路366号3号楼2单元1102室",
            }
        )
    elif s % 2:
        loans.append(
            {
                "HTBH": f"ZDGJJ2016{s % 10**6:06d}",
                "DKJE": "200000.00",
                "DKQX": "120",
                "DKLL": "3.25%",
                "DKYE": "0.00",
                "FFRQ": "20160420",
                "DKZT": "已结清",
                "FWZL": "淄博市张店区新村西路88号5号楼1单元302室",
            }
        )
    wanted = form.get("dkzt") or "全部"
    loans = [loan for loan in loans if wanted in ("全部", loan["DKZT"])]
    return Reply("0000", "交易成功", {"XINGMING": form.get("xingming", ""), "DKBS": str(len(loans))}, loans)


def employer_query(form: dict[str, str]) -> Reply:
    """2003 单位缴存情况查询."""
    s = seed(form["zjhm"], "employer")
    employees = 5 + s % 80
    average = 3500 + s % 3000
    return Reply(
        "0000",
        "交易成功",
        {
            "DWZH": f"1370303{s % 10**6:06d}",
            "DWMC": form.get("dwmc", ""),
            "DWZT": "正常缴存",
            "JCRS": str(employees),
            "HJJE": _money(employees * average * 0.24),
            "JCBL": "12%",
            "CXNY": form.get("cxny", ""),
            "JZNY": _months_back(1)[0],
        },
    )


def deposit_certificate(form: dict[str, str], serial: str) -> Reply:
    """1101 缴存证明开具: the account record, its recent deposits and a certificate number."""
    record = account(form["zjhm"], form.get("xingming", ""))
    months = min(max(int(form.get("zmys") or 12), 1), 60)
    opened = date(int(record["KHRQ"][:4]), int(record["KHRQ"][4:6]), 1)
    consecutive = (date.today().year - opened.year) * 12 + date.today().month - opened.month - 1
    record |= {
        "ZMBH": f"张公积证字〔{date.today().year}〕第{seed(serial) % 10**6:06d}号",
        "ZMYT": form.get("zmyt", ""),
        "KJRQ": date.today().strftime("%Y%m%d"),
        "LXJCYS": str(max(consecutive, 0)),
    }
    return Reply("0000", "交易成功", record, _deposit_rows(record, min(months, 12)))


def rent_withdrawal(form: dict[str, str], serial: str) -> Reply:
    """1201 租房提取: refused for an open loan; otherwise twelve months of rent up to the cap."""
    if form["zjhm"] in OPEN_LOAN_HOLDERS:
        return refuse("1203")
    if "WFZM" not in attachment_kinds(form) and form.get("cnbz") != "1":
        return refuse("1204")
    if form.get("zljzrq", "") <= form.get("zlqsrq", ""):
        return refuse("1202")
    balance = float(account(form["zjhm"], "")["ZHYE"])
    amount = min(min(float(form.get("yzj") or 0), MONTHLY_RENT_CAP) * 12, balance)
    card = form.get("skkh", "")
    return Reply(
        "0000",
        "交易成功",
        {
            "TQDH": f"TQ{date.today():%Y%m%d}{seed(serial) % 10**8:08d}",
            "TQLX": "租赁住房提取",
            "TQJE": _money(amount),
            "SKKH": card[:4] + "*" * max(len(card) - 8, 0) + card[-4:],
            "YJDZRQ": (date.today() + timedelta(days=3)).strftime("%Y%m%d"),
            "ZHYE": _money(balance - amount),
        },
    )


def employer_registration(form: dict[str, str], serial: str) -> Reply:
    """1301 单位缴存登记: opens (or confirms) the employer's account, as the query numbers it."""
    if not 5 <= int(form.get("jcbl") or 0) <= 12:
        return refuse("1302")
    s = seed(form["zjhm"], "employer")
    return Reply(
        "0000",
        "交易成功",
        {
            "DWZH": f"1370303{s % 10**6:06d}",
            "DWMC": form.get("dwmc", ""),
            "KHRQ": date.today().strftime("%Y%m%d"),
            "JCBL": f"{form['jcbl']}%",
            "SCJCNY": form.get("scjcny", ""),
            "GJYH": "中国建设银行淄博张店支行",
            **({"SBDWBH": form["sbdwbh"]} if form.get("sbdwbh") else {}),
        },
    )


def account_transfer(form: dict[str, str], serial: str) -> Reply:
    """1401 异地转移接续: the balance from the other centre is credited to the local account."""
    record = account(form["zjhm"], form.get("xingming", ""))
    moved = 5000 + seed(form.get("ygrzh", ""), form["zjhm"]) % 40000
    return Reply(
        "0000",
        "交易成功",
        {
            "ZYDH": f"ZY{date.today().year}{seed(serial) % 10**10:010d}",
            "ZCZX": form.get("zczx", ""),
            "ZRJE": _money(moved),
            "ZT": "转移接续已完成",
            "GRZH": record["GRZH"],
            "ZHYE": _money(float(record["ZHYE"]) + moved),
        },
    )


QUERIES: dict[str, Callable[[dict[str, str]], Reply]] = {
    "2001": account_query,
    "2002": loan_query,
    "2003": employer_query,
}
SUBMISSIONS: dict[str, Callable[[dict[str, str], str], Reply]] = {
    "1101": deposit_certificate,
    "1201": rent_withdrawal,
    "1301": employer_registration,
    "1401": account_transfer,
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "2003": ("cxny",),
    "1101": ("zmyt",),
    "1201": ("yzj", "zlqsrq", "zljzrq", "skkh"),
    "1301": ("fddbr", "fddbrzjhm", "jcbl", "jcrs", "scjcny"),
    "1401": ("zczx", "ygrzh"),
}
