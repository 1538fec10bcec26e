"""The national five grades of 好差评, the fixed list of tags, and reading a rating from a body.

A rating names its grade by the English code or by the Chinese words the
national scheme uses (非常满意 ... 非常不满意); the two bad grades open a
follow-up. Tags come from one fixed list (docs/api.md) so that the district
report can count them; anything else a person wants to say goes in the
comment, which is bounded in length and masked before it is kept.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.contract import Problem
from gateway.problems import echo

COMMENT_MAX_CHARS = 500
TAGS_MAX = 5


class Grade(enum.StrEnum):
    """One of the national five grades, best first."""

    VERY_SATISFIED = "very_satisfied"
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"
    VERY_DISSATISFIED = "very_dissatisfied"

    @property
    def zh(self) -> str:
        return _ZH[self]

    @property
    def bad(self) -> bool:
        """A bad rating (差评): it opens a follow-up an operator must close."""
        return self in (Grade.DISSATISFIED, Grade.VERY_DISSATISFIED)


_ZH = {
    Grade.VERY_SATISFIED: "非常满意",
    Grade.SATISFIED: "满意",
    Grade.BASICALLY_SATISFIED: "基本满意",
    Grade.DISSATISFIED: "不满意",
    Grade.VERY_DISSATISFIED: "非常不满意",
}
_BY_WORD = {**{g.value: g for g in Grade}, **{zh: g for g, zh in _ZH.items()}}

#: The tags a rating may carry: code -> Chinese label. Documented in docs/api.md ("Rating a service").
TAGS: dict[str, str] = {
    "done_in_one_visit": "一次办好",
    "fast": "办理快捷",
    "clear_guidance": "告知清楚",
    "helpful_staff": "服务热情",
    "close_to_home": "就近方便",
    "too_slow": "办理太慢",
    "repeated_visits": "多次跑腿",
    "unclear_guidance": "告知不清",
    "poor_attitude": "态度不好",
    "system_trouble": "系统故障",
    "too_many_materials": "材料繁多",
}


@dataclass(frozen=True)
class RatingInput:
    """What a caller sent: a grade, its tags, and a comment (as sent, not yet masked)."""

    grade: Grade
    tags: tuple[str, ...]
    comment: str | None


def _problem(path: str, code: str, zh: str, en: str) -> Problem:
    return Problem(path, code, zh, en)


def read_rating(body: Mapping[str, Any]) -> tuple[RatingInput | None, list[Problem]]:
    """The rating in ``body``, or every problem with it at once (一次性告知)."""
    problems: list[Problem] = []
    for name in sorted(set(body) - {"grade", "tags", "comment"}):
        problems.append(_problem(echo(name), "unknown_field", "不支持的字段", "not a field of a rating"))
    grade = _BY_WORD.get(body["grade"]) if isinstance(body.get("grade"), str) else None
    if "grade" not in body:
        problems.append(_problem("grade", "required", "缺少评价等级", "grade is required"))
    elif grade is None:
        problems.append(
            _problem(
                "grade",
                "not_a_grade",
                "评价等级应为：" + "、".join(_ZH.values()),
                "grade must be one of " + ", ".join(g.value for g in Grade) + " (or the Chinese words)",
            )
        )
    tags = body.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        problems.append(_problem("tags", "not_a_list", "标签应为字符串列表", "tags must be a list of strings"))
        tags = []
    for index, tag in enumerate(tags):
        if tag not in TAGS:
            problems.append(_problem(f"tags/{index}", "unknown_tag", "不在标签清单中", "not one of the listed tags"))
    if len(set(tags)) != len(tags):
        problems.append(_problem("tags", "repeated", "标签重复", "a tag is given twice"))
    if len(tags) > TAGS_MAX:
        problems.append(_problem("tags", "too_many", f"最多 {TAGS_MAX} 个标签", f"at most {TAGS_MAX} tags"))
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, str):
        problems.append(_problem("comment", "not_a_string", "评价内容应为文字", "comment must be a string"))
        comment = None
    if isinstance(comment, str) and len(comment) > COMMENT_MAX_CHARS:
        problems.append(
            _problem(
                "comment",
                "too_long",
                f"评价内容不能超过 {COMMENT_MAX_CHARS} 个字",
                f"comment is longer than {COMMENT_MAX_CHARS} characters",
            )
        )
    if problems or grade is None:
        return None, problems
    text = comment.strip() if isinstance(comment, str) else ""
    return RatingInput(grade, tuple(tags), text or None), []
