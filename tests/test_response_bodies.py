"""JSON answers are written by orjson; what it refuses is written, or refused, as json.dumps always did."""

import json
from datetime import UTC, datetime

import pytest

from gateway.api.responses import json_body


def test_an_answer_reads_back_as_the_body_with_chinese_left_readable() -> None:
    body = {"id": "01M94NH2DQDJESH8FNC5FTRT29", "name": {"zh": "开具个人完税证明"}, "n": [1, 2.5, None, True]}
    written = json_body(body)
    assert json.loads(written) == body and "开具个人完税证明".encode() in written


def test_integers_past_64_bits_are_written_whole() -> None:
    assert json.loads(json_body({"count": 2**70})) == {"count": 2**70}


def test_values_json_has_no_form_for_are_refused_as_before() -> None:
    with pytest.raises(TypeError):
        json_body({"at": datetime(2026, 1, 2, tzinfo=UTC)})
    with pytest.raises(UnicodeEncodeError):
        json_body({"text": "a\udc80"})
