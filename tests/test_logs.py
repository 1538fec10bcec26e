"""Every log line has personal data masked and the request id bound."""

import io
import json
from datetime import UTC, datetime

import structlog

from gateway.observability.logs import configure_logging, get_logger, sensitive


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_id_numbers_phones_and_names_are_masked_everywhere() -> None:
    out = io.StringIO()
    configure_logging("debug", stream=out)
    log = get_logger(component="test")
    log.info(
        "applicant 370303199001011239 called from 13805330123",
        name="张伟",
        nested={"id": "91370303MA3C4XY85N", "list": ["370303198503120027"]},
    )
    (line,) = lines(out)
    text = json.dumps(line, ensure_ascii=False)
    for secret in ("370303199001011239", "13805330123", "91370303MA3C4XY85N", "370303198503120027", "张伟"):
        assert secret not in text
    assert line["name"] == "张*"


def test_the_current_applicants_name_is_masked_even_in_free_text() -> None:
    out = io.StringIO()
    configure_logging("info", stream=out)
    with sensitive(["王秀英"]):
        get_logger().info("agency said: 王秀英 has no record")
    get_logger().info("after the request: 王秀英")
    first, second = lines(out)
    assert "王秀英" not in first["event"] and "王**" in first["event"]
    assert "王秀英" in second["event"]  # outside the request the name is not known to be personal


def test_exceptions_are_masked_too() -> None:
    out = io.StringIO()
    configure_logging("info", stream=out)
    try:
        raise ValueError("bad id 370303199001011239")
    except ValueError:
        get_logger().exception("failed")
    assert "370303199001011239" not in out.getvalue()


def test_bound_request_id_appears_on_every_line() -> None:
    out = io.StringIO()
    configure_logging("info", stream=out)
    structlog.contextvars.bind_contextvars(request_id="01JABCDEF")
    try:
        get_logger().info("one")
        get_logger().info("two")
    finally:
        structlog.contextvars.clear_contextvars()
    assert [line["request_id"] for line in lines(out)] == ["01JABCDEF", "01JABCDEF"]


def test_values_json_has_no_form_for_still_make_a_line() -> None:
    """orjson refuses integers past 64 bits and lone surrogates: the line is written by the standard encoder."""
    out = io.StringIO()
    configure_logging("info", stream=out)

    class Odd:
        def __repr__(self) -> str:
            return "<odd>"

    get_logger().info("big", count=2**70, text="a\udc80b", when=datetime(2026, 1, 2, tzinfo=UTC), odd=Odd())
    get_logger().info("plain", name="张伟", count=3)
    big, plain = out.getvalue().splitlines()
    assert json.loads(big)["count"] == 2**70 and json.loads(big)["text"] == "a\udc80b"
    assert json.loads(big)["when"] == repr(datetime(2026, 1, 2, tzinfo=UTC)) and json.loads(big)["odd"] == "<odd>"
    assert json.loads(plain) == {"name": "张*", "count": 3, "event": "plain", "level": "info"} | {
        "timestamp": json.loads(plain)["timestamp"]
    }
    assert "张*" in plain  # UTF-8 as it is, not \\u escapes


def test_the_gateways_digests_are_written_whole_and_anything_else_masked() -> None:
    """A digest with a phone-like run of digits stays whole under a digest key; text that looks so does not."""
    out = io.StringIO()
    configure_logging("info", stream=out)
    digest = "hmac-sha256:f372a9dbb9223e16895283276c1a8ab742df457ff468f0a778bc77d016b647be"  # 16895283276: a "phone"
    near = "sha256:13805330123"  # under a digest key, but no digest: a caller's text
    get_logger().info("event", request_digest=digest, result_digest=near, note=digest, items={"x_digest": digest})
    (line,) = lines(out)
    assert line["request_digest"] == digest
    assert line["items"] == {"x_digest": digest}
    assert "13805330123" not in line["result_digest"]
    assert "16895283276" not in line["note"]  # the same text under another key is masked as text


class _Writes(io.StringIO):
    """A stream that counts its ``write`` calls (each is a system call on the process's stderr)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def write(self, text: str) -> int:
        self.calls.append(text)
        return super().write(text)


def test_a_log_line_and_its_newline_go_out_in_one_write() -> None:
    """Several lines per request: a line written in two pieces costs a second system call each time."""
    out = _Writes()
    configure_logging("info", stream=out)
    get_logger(component="test").info("request.completed", request_id="r1")
    (written,) = out.calls
    assert written.endswith("\n") and json.loads(written)["event"] == "request.completed"
