"""One bundle body checked whole, before any step runs (一次性告知 across the chain).

Every step's envelope is built from the body -- the applicant, office,
operator, channel and authorisation shared by all, the materials shared by
the steps that have them, each step's own -- and checked exactly as
``POST /v1/requests`` would check it, except for the materials an earlier
step will feed. Problems of one step carry its path
(``steps/<item>/materials/<name>``); a problem of the shared parts is
reported once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.bundles.chains import Chain
from gateway.catalogue.items import Catalogue
from gateway.contract import Problem
from gateway.intake.callers import Caller, authorise
from gateway.intake.envelope import parse_envelope
from gateway.problems import ProblemError, echo

BUNDLE_FIELDS = frozenset(
    {"chain", "applicant", "office", "operator", "channel", "authorisation", "materials", "steps"}
)
SHARED = ("applicant", "office", "operator", "channel", "authorisation")
_STEP_QUALIFIED = ("materials", "pledge", "authorisation/items")


@dataclass(frozen=True)
class CheckedBundle:
    """A body whose every step passed its checks: the stored form each step's envelope is built from."""

    body: dict[str, Any]  # {applicant, office, operator, channel, authorisation, steps: {item: {materials}}}


def _p(path: str, code: str, zh: str, en: str) -> Problem:
    return Problem(path, code, zh, en)


def _qualified(problem: Problem, item: str) -> Problem:
    """A problem of one step, its path under ``steps/<item>/``; a problem of the shared parts as it is."""
    if not problem.path.startswith(_STEP_QUALIFIED):
        return problem
    related = tuple(f"steps/{item}/{r}" for r in problem.related)
    return Problem(f"steps/{item}/{problem.path}", problem.code, problem.message_zh, problem.message_en, related)


def step_envelope(body: Mapping[str, Any], item: str, materials: Mapping[str, Any]) -> dict[str, Any]:
    """The ``POST /v1/requests`` envelope of one step: the shared parts and the step's materials."""
    envelope = {key: body[key] for key in SHARED if body.get(key) is not None}
    return {"item": item, **envelope, "materials": dict(materials)}


def _shape(body: Mapping[str, Any], chain: Chain, problems: list[Problem]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The shared materials and each step's own, with the problems of their shape."""
    for name in sorted(set(body) - BUNDLE_FIELDS):
        shown = echo(name)
        problems.append(_p(shown, "unknown_field", f"未知字段 {shown}", f"{shown} is not a bundle field"))
    shared = body.get("materials", {})
    if not isinstance(shared, Mapping):
        problems.append(_p("materials", "type", "共用申请材料应为对象", "materials must be an object"))
        shared = {}
    steps = body.get("steps", {})
    if not isinstance(steps, Mapping):
        problems.append(
            _p("steps", "type", "各环节材料应为以事项编码为键的对象", "steps must be an object by item code")
        )
        steps = {}
    own: dict[str, Any] = {}
    for key, value in steps.items():
        if key not in chain.items():
            shown = echo(key)
            problems.append(
                _p(f"steps/{shown}", "unknown_step", f"该一链办理没有环节 {shown}", f"{chain.code} has no step {shown}")
            )
        elif (
            not isinstance(value, Mapping)
            or set(value) - {"materials"}
            or not isinstance(value.get("materials", {}), Mapping)
        ):
            problems.append(
                _p(f"steps/{key}", "type", "环节应为 {materials: {...}}", f"steps/{key} must be {{materials: {{...}}}}")
            )
        else:
            own[key] = dict(value.get("materials", {}))
    return dict(shared), own


def check_bundle(
    body: Mapping[str, Any], chain: Chain, catalogue: Catalogue, caller: Caller, *, max_attachment_bytes: int
) -> tuple[CheckedBundle | None, list[Problem]]:
    """Check every step of ``body`` for ``chain`` at once; raises the first step ``caller`` may not request."""
    problems: list[Problem] = []
    shared, own = _shape(body, chain, problems)
    office = body.get("office") if isinstance(body.get("office"), str) else caller.office.code
    channel = body.get("channel") if isinstance(body.get("channel"), str) else caller.channel
    used: set[str] = set()
    seen: set[tuple[str, str]] = set()
    stored: dict[str, Any] = {}
    for step in chain.steps:
        item = catalogue.get(step.item)
        assert item is not None  # a chain is offered only while its items are installed
        try:
            authorise(caller, item, office=str(office), channel=str(channel))
        except ProblemError as denied:
            raise ProblemError(
                denied.kind,
                f"Step {item.code} of the chain: {denied.detail_en}",
                f"环节 {item.code}：{denied.detail_zh}",
                item=item.code,
            ) from None
        fed = step.fed()
        names = {m.name for m in item.materials}
        materials = {k: v for k, v in shared.items() if k in names and k not in fed}
        used.update(k for k in shared if k in names)
        for name, value in own.get(item.code, {}).items():
            if name in fed:
                problems.append(
                    _p(
                        f"steps/{item.code}/materials/{echo(name)}",
                        "fed_by_chain",
                        "该材料由前一环节的办理结果带入，无需填写",
                        "this material comes from an earlier step of the chain; leave it out",
                    )
                )
            else:
                materials[name] = value
        _, found = parse_envelope(
            step_envelope(body, item.code, materials), item, max_attachment_bytes=max_attachment_bytes
        )
        for problem in found:
            parts = problem.path.split("/")
            if len(parts) >= 2 and parts[0] == "materials" and parts[1] in fed:
                continue  # an earlier step provides it; it is checked when that step has run
            qualified = _qualified(problem, item.code)
            if (qualified.path, qualified.code) not in seen:
                seen.add((qualified.path, qualified.code))
                problems.append(qualified)
        stored[item.code] = {"materials": materials}
    for name in sorted(set(shared) - used):
        shown = echo(name)
        problems.append(
            _p(f"materials/{shown}", "unknown_material", f"没有环节使用材料 {shown}", f"no step has a material {shown}")
        )
    if problems:
        return None, problems
    checked = {key: body.get(key) for key in SHARED} | {"steps": stored}
    return CheckedBundle(checked), problems
