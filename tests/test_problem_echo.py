"""What an error quotes back of caller input: numbers masked, unprintable characters replaced, cut short."""

from __future__ import annotations

from gateway.problems import ECHO_LIMIT, echo


def test_printable_text_is_quoted_as_it_is() -> None:
    assert echo("tax.payment-record") == "tax.payment-record"
    assert echo("张三 的 申请") == "张三 的 申请"


def test_control_and_other_unprintable_characters_become_the_replacement_character() -> None:
    assert echo("line\nbreak\ttab\x00nul\u202eturn") == "line\ufffdbreak\ufffdtab\ufffdnul\ufffdturn"


def test_an_id_number_is_masked_and_a_long_value_cut_at_the_limit() -> None:
    assert echo("id 370303199001011234 given") == "id 3703**********1234 given"
    assert echo("x" * (ECHO_LIMIT + 50)) == "x" * ECHO_LIMIT + "…"
    assert echo(12345) == "12345"  # not text: its repr
