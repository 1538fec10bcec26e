"""A sandbox of the housing fund centre's legacy interface (``/gjj/interface.do``).

Behaves like the real system in the ways that matter to the plugin: the
request is a form whose values are GBK bytes percent-encoded; it is signed
with MD5 over the sorted fields and the partner's key; answers are GBK text
in the centre's ``KEY=VALUE|...`` line layout with its own status codes
(``0000`` success, ``1xxx`` business refusals, ``7xxx`` bad requests,
``8xxx`` authentication, ``9xxx`` system down), always under HTTP 200 as
such systems do. Business transactions are acted on once per ``lsh``
(the gateway's request id). The business data is in
:mod:`plugins.housing_fund.sample_data`.

SAMPLE DATA: the partner code and key below are published demo credentials.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl

from aiohttp import web

from gateway.contract import FaultKnobs, SandboxSpec, SubmissionLedger, sandbox_application
from plugins.housing_fund import sample_data
from plugins.housing_fund.sample_data import Reply

ORGCODE = "ZDBMFW0303"
SIGN_KEY = "sandbox-gjj-zhangdian-md5-key-not-for-production"
ENCODING = "gbk"
MAX_SKEW = timedelta(minutes=10)
CST = timezone(timedelta(hours=8))

INTERFACE_ERRORS = {
    "7001": "交易代码不存在",
    "7002": "报文格式错误",
    "8001": "签名验证失败",
    "8002": "机构代码未注册",
    "8003": "时间戳超出有效范围",
    "9999": "系统日终批处理中，暂停对外服务，请于次日06:00后重试",
}


def _clean(value: str) -> str:
    """Values never carry the layout's separators (the real system swaps in full-width ones)."""
    return value.replace("|", "｜").replace("\r", " ").replace("\n", " ")


def render(reply: Reply, serial: str) -> web.Response:
    """A reply in the centre's layout: header line, main record, detail rows; GBK under HTTP 200."""
    header = {"RETCODE": reply.code, "RETMSG": reply.message, "ZXLSH": serial}
    lines = ["|".join(f"{k}={_clean(v)}" for k, v in header.items()) + "|"]
    for record in ([reply.record] if reply.record or reply.rows else []) + reply.rows:
        lines.append("|".join(f"{k}={_clean(v)}" for k, v in record.items()) + "|")
    return web.Response(
        status=200,
        body=("\r\n".join(lines) + "\r\n").encode(ENCODING),
        content_type="text/plain",
        charset="GBK",
    )


def _centre_serial() -> str:
    return f"{datetime.now(CST):%Y%m%d%H%M%S}{secrets.randbelow(10**6):06d}"


def _interface_error(code: str, detail: str = "") -> web.Response:
    return render(Reply(code, INTERFACE_ERRORS[code] + (f"：{detail}" if detail else "")), _centre_serial())


def _unavailable(request: web.Request) -> web.Response:
    return _interface_error("9999")


def _garbage(request: web.Request) -> web.Response:
    """What the front server shows when the application behind it throws: a page, HTTP 200."""
    page = (
        "<html><head><title>错误页面</title></head><body><h2>系统错误，请联系管理员</h2>"
        "<pre>java.lang.NullPointerException\n"
        "\tat com.zbgjj.front.TxDispatcher.dispatch(TxDispatcher.java:212)"
        "</pre></body></html>"
    )
    return web.Response(status=200, body=page.encode(ENCODING), content_type="text/html", charset="GBK")


def expected_sign(form: dict[str, str], key: str = SIGN_KEY) -> str:
    """The spec's signature: upper-hex MD5 of GBK ``k=v&...&key=KEY`` over sorted fields."""
    plain = "&".join(f"{k}={form[k]}" for k in sorted(form) if k != "sign" and form[k] != "") + f"&key={key}"
    return hashlib.md5(plain.encode(ENCODING)).hexdigest().upper()


def _parse_form(request: web.Request, body: bytes) -> dict[str, str] | None:
    if request.content_type != "application/x-www-form-urlencoded":
        return None
    try:
        return dict(parse_qsl(body.decode("ascii"), keep_blank_values=True, encoding=ENCODING, errors="strict"))
    except (UnicodeDecodeError, ValueError):
        return None


def _authentication_problem(form: dict[str, str]) -> web.Response | None:
    if form.get("orgcode") != ORGCODE:
        return _interface_error("8002")
    try:
        sent = datetime.strptime(form.get("timestamp", ""), "%Y%m%d%H%M%S").replace(tzinfo=CST)
    except ValueError:
        return _interface_error("8003")
    if abs(datetime.now(CST) - sent) > MAX_SKEW:
        return _interface_error("8003")
    if not hmac.compare_digest(expected_sign(form), form.get("sign", "")):
        return _interface_error("8001")
    return None


def create_app(knobs: FaultKnobs) -> web.Application:
    """The housing fund centre sandbox application."""
    ledger = SubmissionLedger(knobs)
    app = sandbox_application(
        knobs=knobs,
        ledger=ledger,
        unavailable=_unavailable,
        malformed=_garbage,
        name="housing_fund",
    )

    async def interface(request: web.Request) -> web.Response:
        form = _parse_form(request, await request.read())
        if form is None:
            return _interface_error("7002", "请求应为GBK编码的表单")
        refused = _authentication_problem(form)
        if refused is not None:
            return refused
        txcode = form.get("txcode", "")
        if txcode == "9000":
            return render(
                Reply(
                    "0000",
                    "联机测试成功",
                    {"XTMC": "住房公积金综合业务系统对外接口", "BBH": "1.6.3"},
                ),
                _centre_serial(),
            )
        if txcode not in sample_data.QUERIES and txcode not in sample_data.SUBMISSIONS:
            return _interface_error("7001", txcode)
        missing = [f for f in ("lsh", "zjlx", "zjhm", *sample_data.REQUIRED.get(txcode, ())) if not form.get(f)]
        if missing:
            return _interface_error("7002", f"必输项[{','.join(missing)}]缺失")
        identity = sample_data.identity_problem(form)
        if identity is not None:
            return render(identity, _centre_serial())
        try:
            if txcode in sample_data.QUERIES:
                return render(sample_data.QUERIES[txcode](form), _centre_serial())
            serial = form["lsh"]

            def act() -> tuple[Reply, str]:
                return sample_data.SUBMISSIONS[txcode](form, serial), _centre_serial()

            reply, centre_serial = await ledger.submit(serial, act)
        except ValueError:
            return _interface_error("7002", "数值字段格式错误")
        return render(reply, centre_serial)

    app.router.add_post("/gjj/interface.do", interface)
    return app


def spec() -> SandboxSpec:
    """How ``make run`` and the tests start this sandbox."""
    return SandboxSpec(
        agency="housing_fund",
        name="Housing fund centre (GBK form + MD5 signature)",
        create_app=create_app,
        default_port=9104,
        config={"secrets": {"sign_key": SIGN_KEY}, "options": {"orgcode": ORGCODE}},
        rejection={
            "item": "housing_fund.rent-withdrawal",
            "applicant": {"kind": "person", "id_number": "370303200102145629", "name": "刘芳"},
        },
    )
