"""The contract tests every agency plugin must pass, as a class to subclass.

::

    from gateway.testing import AgencyContract

    class TestDemoContract(AgencyContract):
        agency = "demo"

Each test starts the plugin's own sandbox on loopback and calls the adapter
through the gateway's extranet client, so what passes here behaves the same
behind the gateway. The tests are synchronous (each runs its own event
loop), so they need no pytest-asyncio configuration in the plugin's project.
``docs/plugins.md`` ("The contract test kit") says what each one proves and
how to read its failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import pytest

from gateway.contract import (
    AgencyProtocolError,
    AgencyTimeout,
    AgencyUnavailable,
    Completed,
    Health,
    IntakeRequest,
    Item,
    Outcome,
    Pending,
    Problem,
    Reason,
    Rejected,
)
from gateway.errors import PluginFault
from gateway.heap import settled_heap
from gateway.personal_data.identifiers import credit_code_problem, phone_problem, resident_id_problem
from gateway.testing.harness import AgencyHarness, KitError, PluginUnderTest, captured_logs, find_agency
from gateway.testing.samples import ORGANISATION, PERSON, SAMPLE_PHONE, SampleError, envelope_for, intake_for

T = TypeVar("T")


_TARGETS: dict[tuple[str, tuple[int, ...]], PluginUnderTest] = {}
_GUIDE_TEXTS = ("name_en", "conditions_zh", "legal_basis", "steps")


class AgencyContract:
    """Subclass as ``Test<Name>Contract`` and set :attr:`agency`; pytest collects the inherited tests."""

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.onewindow_contract]
    agency: ClassVar[str] = ""
    #: Plugin modules or objects to register besides the installed entry points.
    plugins: ClassVar[Sequence[object]] = ()
    #: Sandbox options for the kit (``SandboxSpec.options``), e.g. a short decision delay.
    sandbox_options: ClassVar[Mapping[str, Any]] = {}
    #: The agency's own options for the kit (``call.options``, over the sandbox's demo configuration).
    agency_options: ClassVar[Mapping[str, Any]] = {}
    #: A hook or adapter call holding the event loop this long fails the plugin (the gateway's default).
    block_threshold_s: ClassVar[float] = 0.1
    #: The per-attempt timeout in the stall test: the adapter must give up by then.
    stall_timeout_s: ClassVar[float] = 0.5
    #: How long a Pending outcome may take to become final, polled at most every second.
    max_settle_s: ClassVar[float] = 15.0

    # -- plumbing -------------------------------------------------------------

    @classmethod
    def target(cls) -> PluginUnderTest:
        """The agency under test, found once per class."""
        key = (cls.agency, tuple(id(p) for p in cls.plugins))
        if key not in _TARGETS:
            _TARGETS[key] = find_agency(cls.agency, cls.plugins)
        return _TARGETS[key]

    def harness(self, **agency_settings: Any) -> AgencyHarness:
        """A fresh sandbox and extranet for one test."""
        return AgencyHarness(
            self.target(),
            options=self.sandbox_options,
            agency_options=self.agency_options,
            max_settle_s=self.max_settle_s,
            block_threshold_s=self.block_threshold_s,
            **agency_settings,
        )

    def run(self, scenario: Callable[[AgencyHarness], Awaitable[T]], **agency_settings: Any) -> T:
        """Run ``scenario(harness)`` in its own event loop with a fresh sandbox."""

        async def main() -> T:
            async with self.harness(**agency_settings) as harness:
                return await scenario(harness)

        return asyncio.run(main())

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """One test per catalogue item (``item_code``) and per application item (``application_code``)."""
        for name, keep in (("item_code", lambda i: True), ("application_code", lambda i: i.kind == "application")):
            if name not in metafunc.fixturenames:
                continue
            try:
                codes: list[Any] = [i.code for i in self.target().items if keep(i)]
            except KitError:
                codes = [None]  # the test itself reports why the plugin cannot be loaded
            if not codes:
                codes = [pytest.param(None, marks=pytest.mark.skip(reason="the catalogue has no application items"))]
            metafunc.parametrize(name, codes, ids=lambda c: str(c) if c else "unloadable")

    def _first_item(self) -> str:
        return self.target().items[0].code

    # -- the catalogue --------------------------------------------------------

    def test_catalogue_is_valid_and_every_guide_is_complete(self) -> None:
        """The core loads the catalogue; every item has a full guide and every material a sample the core accepts."""
        target = self.target()
        assert target.items, f"{target.adapter.catalogue} declares no items"
        gaps = []
        for item in target.items:
            gaps += [f"{item.code}: {name} is empty" for name in _GUIDE_TEXTS if not getattr(item, name)]
            for material in item.materials:
                if not material.description_en:
                    gaps.append(f"{item.code}: material {material.name!r} has no description_en")
                if material.sample is None:
                    gaps.append(f"{item.code}: material {material.name!r} has no sample")
            if not item.examples:
                gaps.append(f"{item.code}: has no [[items.examples]] (an example request the gateway accepts)")
        assert not gaps, "incomplete service guides:\n  " + "\n  ".join(gaps)
        refused = []
        for item in target.items:
            envelopes = [envelope_for(item)]
            for example in item.examples:
                envelope = envelope_for(item, applicant=example.applicant, materials=example.materials)
                envelopes.append({**envelope, "materials": dict(example.materials), "pledge": example.pledge})
            for envelope in envelopes:
                try:
                    request = intake_for(item, envelope, "kit-catalogue")
                except SampleError as exc:
                    refused.append(str(exc))
                    continue
                problems = asyncio.run(_plugin_problems(target, item, request))
                refused += [f"{item.code}: {p.path}: {p.message_en}" for p in problems]
        assert not refused, "samples or examples the gateway would refuse at the window:\n  " + "\n  ".join(refused)

    def test_sandbox_config_provides_every_required_setting(self) -> None:
        """``required_secrets``/``required_options`` are satisfied by the sandbox's demo configuration."""
        from gateway.agencies.installed import missing_settings
        from gateway.agencies.sandboxes import with_sandbox_config
        from gateway.config import load_settings

        target = self.target()
        settings = with_sandbox_config(load_settings(environ={}), [target.spec])
        problems = missing_settings(target.plugin, target.adapter, settings)
        assert not problems, "; ".join(problems) + " -- add them to SandboxSpec.config"

    # -- outcomes -------------------------------------------------------------

    def test_item_samples_produce_a_valid_outcome(self, item_code: str) -> None:
        """The item's samples for a standard applicant end Completed (JSON, sealable) or Rejected with reasons."""
        item = self.target().item(item_code)

        async def scenario(kit: AgencyHarness) -> tuple[Outcome, Outcome]:
            request = kit.request(item)
            first = await kit.submit(request)
            return first, await kit.settle(request, first)

        first, final = self.run(scenario)
        if isinstance(first, Pending) and not item.long_running:
            pytest.fail(f"{item_code} answered Pending but its catalogue entry is not long_running = true")
        check_final(item_code, final)

    def test_rejection_example_is_rejected_with_reasons(self) -> None:
        """The sandbox's ``rejection`` example ends Rejected with business reasons (through Pending if need be)."""
        outcome = self.run(lambda kit: kit.run(kit.rejection_request()))
        assert isinstance(outcome, Rejected), f"the rejection example ended {outcome!r}, not Rejected"
        check_final(self.target().spec.rejection["item"], outcome)

    # -- the agency misbehaving -----------------------------------------------

    @pytest.mark.parametrize("fault", ["maintenance", "reset_rate"])
    def test_agency_down_is_agency_unavailable(self, fault: str) -> None:
        """A maintenance answer (its own 503 format) or a reset connection is AgencyUnavailable, so it is retried."""
        caught = self.run(
            lambda kit: _failure(kit, {fault: True if fault == "maintenance" else 1.0}, self._first_item())
        )
        assert isinstance(caught, AgencyUnavailable), (
            f"with {fault} the adapter raised {caught!r}; an agency that is down must be AgencyUnavailable "
            "(raise it for the agency's 5xx/maintenance answers)"
        )

    def test_a_stalled_answer_is_agency_timeout(self) -> None:
        """An agency that never answers is given up after the configured timeout, as AgencyTimeout."""
        caught = self.run(
            lambda kit: _failure(kit, {"stall_rate": 1.0, "stall_seconds": 60.0}, self._first_item()),
            read_timeout_s=self.stall_timeout_s,  # the session's own timeout first: an adapter must not swallow it
            total_timeout_s=2 * self.stall_timeout_s,
        )
        assert isinstance(caught, AgencyTimeout), (
            f"a stalled agency made the adapter raise {caught!r}; let timeouts propagate (do not catch them)"
        )

    def test_garbage_is_agency_protocol_error(self) -> None:
        """An answer the adapter cannot read is AgencyProtocolError, never a crash or a made-up outcome."""
        caught = self.run(lambda kit: _failure(kit, {"malformed_rate": 1.0}, self._first_item()))
        assert isinstance(caught, AgencyProtocolError), (
            f"garbage from the agency made the adapter return or raise {caught!r}, not AgencyProtocolError"
        )

    # -- doing things once, safely --------------------------------------------

    def test_a_repeated_submission_is_acted_on_once(self, application_code: str) -> None:
        """Two submissions under one dedupe key: the sandbox acts once and both get the same answer."""

        async def scenario(kit: AgencyHarness) -> tuple[Outcome, Outcome, dict[str, Any], bool]:
            request = kit.request(application_code)
            first, second = await kit.submit(request), await kit.submit(request)
            return first, second, kit.ledger.stats(), kit.ledger.seen(request.request_id)

        first, second, stats, seen = self.run(scenario)
        assert seen, (
            f"the sandbox never acted on {application_code} under the gateway's dedupe key: send call.dedupe_key "
            "to the agency and wrap the sandbox's submission in ledger.submit(key, act)"
        )
        assert stats["effective_submissions"] == 1 and not stats["acted_more_than_once"], (
            f"the sandbox acted more than once: {stats} (does the adapter send call.dedupe_key every time?)"
        )
        assert _same_answer(first, second), f"the repeat was answered {second!r}, the first {first!r}"

    def test_logs_mask_personal_data(self, capfd: pytest.CaptureFixture[str]) -> None:
        """Nothing logged while every item runs contains an ID number, phone number or applicant name in clear."""

        async def scenario(kit: AgencyHarness) -> list[IntakeRequest]:
            requests = []
            for item in kit.target.items:
                applicant = {**(PERSON if "person" in item.applicant_kinds else ORGANISATION), "phone": SAMPLE_PHONE}
                requests.append(kit.request(item, applicant=applicant))
            if kit.target.spec.rejection:  # its absence is test_rejection_example_is_rejected_with_reasons's business
                requests.append(kit.rejection_request())
            for request in requests:
                await kit.run(request)
            return requests

        with captured_logs("debug") as stream:
            requests = self.run(scenario)
        printed = capfd.readouterr()
        output = "\n".join((stream.getvalue(), printed.out, printed.err))
        leaks = sorted({value for request in requests for value in _personal(request) if value in output})
        assert not leaks, (
            f"logged in clear: {leaks}. Log codes and item names, not applicants; the masking catches ID and "
            "phone patterns and name fields (name=...), not a name inside free text"
        )

    def test_validate_answers_a_list_and_leaves_other_agencies_items_alone(self) -> None:
        """``onewindow_validate`` returns a list of Problem for every item, and none for other agencies' items."""
        target = self.target()

        async def faults() -> list[str]:
            guard, found = target.guard(), []
            for item in target.installed_items:
                try:
                    request = intake_for(item, envelope_for(item), "kit-validate")
                    await guard.validate_by(target.plugin, item, request)
                except SampleError:
                    continue  # another plugin's samples are its own business
                except PluginFault as fault:
                    found.append(str(fault))
            return found

        found = asyncio.run(faults())
        assert not found, (
            "the gateway answers these 502 plugin-failed (its own items) or ignores them (other agencies' items):\n  "
            + "\n  ".join(sorted(set(found)))
        )

    def test_no_hook_or_call_holds_the_event_loop(self) -> None:
        """Every hook and adapter call -- start-up, validate on every installed item, submit, poll, health,
        request_finished, shutdown -- gives the event loop back within ``block_threshold_s``."""
        target = self.target()

        async def scenario(kit: AgencyHarness) -> list[str]:
            assert kit.settings is not None
            guard, gateway = target.guard(kit.watch), KitGateway(kit.settings)
            await _quietly(guard.each("onewindow_startup", stop_on_fault=False, only=target.plugin, gateway=gateway))
            for item in target.installed_items:
                with contextlib.suppress(SampleError, PluginFault):
                    await guard.validate_by(target.plugin, item, intake_for(item, envelope_for(item), "kit-loop"))
            for item in target.items:
                request = kit.request(item)
                outcome = await _quietly(kit.run(request))
                await _quietly(
                    guard.each(
                        "onewindow_request_finished",
                        stop_on_fault=False,
                        only=target.plugin,
                        item=item,
                        request_id=request.request_id,
                        status="completed" if isinstance(outcome, Completed) else "rejected",
                        outcome=outcome if isinstance(outcome, Completed | Rejected) else None,
                    )
                )
            await _quietly(kit.health())
            gateway.stopping = True
            await _quietly(guard.each("onewindow_shutdown", stop_on_fault=False, only=target.plugin, gateway=gateway))
            return [str(hold) for hold in kit.holds]

        with settled_heap():
            holds = self.run(scenario)
        assert not holds, (
            "these calls held the event loop, stalling every other request the gateway serves meanwhile: "
            + "; ".join(holds)
            + ". Await I/O through call.session; move CPU-heavy work to a thread (await asyncio.to_thread(...))"
        )

    def test_health_answers(self) -> None:
        """``health()`` reaches the sandbox and says it is usable."""
        health = self.run(lambda kit: kit.health())
        assert isinstance(health, Health), f"health() returned {health!r}, not a Health"
        assert health.ok, f"health() says the healthy sandbox is not usable: {health.detail!r}"


async def _plugin_problems(target: PluginUnderTest, item: Item, request: IntakeRequest) -> list[Problem]:
    """The plugins' own validation (``onewindow_validate``) of a sample request, as the gateway runs it."""
    try:
        return await target.guard().validate(item, request)
    except PluginFault as fault:  # the gateway answers 502 plugin-failed
        return [Problem("", "plugin_failed", str(fault), str(fault))]


@dataclass
class KitGateway:
    """What ``onewindow_startup``/``onewindow_shutdown`` receive under the kit: the contract's ``GatewayView``."""

    settings: Any
    stopping: bool = False


async def _quietly(call: Awaitable[T]) -> T | None:
    """``call``'s result, or None when it raises: the loop-blocking test is about time, other tests about errors."""
    try:
        return await call
    except Exception:
        return None


async def _failure(kit: AgencyHarness, knobs: dict[str, Any], code: str) -> BaseException | Outcome:
    """What submitting ``code`` raises (or, wrongly, returns) with ``knobs`` set."""
    kit.knobs.update(knobs)
    try:
        return await kit.submit(kit.request(code))
    except Exception as exc:
        return exc


def check_final(item_code: str, outcome: Any) -> None:
    """A final outcome the gateway can settle: a sealable Completed, or a Rejected with reasons."""
    if isinstance(outcome, Completed):
        try:
            json.dumps(dict(outcome.document), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            pytest.fail(f"{item_code}: the Completed document is not JSON data: {exc}")
        from signing.jose.jcs import canonicalize

        canonicalize(dict(outcome.document))  # what sealing needs (RFC 8785)
        assert outcome.reference is None or isinstance(outcome.reference, str), (
            f"{item_code}: Completed.reference must be a string or None, not {outcome.reference!r}"
        )
    elif isinstance(outcome, Rejected):
        assert outcome.reasons, f"{item_code}: Rejected without reasons; the window must tell the applicant why"
        for reason in outcome.reasons:
            assert isinstance(reason, Reason) and reason.code and reason.message_zh.strip(), (
                f"{item_code}: every reason needs a code and a Chinese message, got {reason!r}"
            )
    else:
        pytest.fail(f"{item_code}: the adapter returned {outcome!r}, not Completed, Rejected or Pending")


def _same_answer(first: Outcome, second: Outcome) -> bool:
    if type(first) is not type(second):
        return False
    if isinstance(first, Completed):
        return first.reference == second.reference
    if isinstance(first, Pending):
        return first.ticket == second.ticket  # type: ignore[union-attr]
    return [r.code for r in first.reasons] == [r.code for r in second.reasons]  # type: ignore[union-attr]


def _personal(request: IntakeRequest) -> set[str]:
    """The values of ``request`` that must never appear in a log line in clear."""
    applicant = request.applicant
    values = {applicant.id_number, applicant.name, applicant.phone or ""}
    for value in request.materials.values():
        identifier = isinstance(value, str) and any(
            check(value) is None for check in (resident_id_problem, credit_code_problem, phone_problem)
        )
        if identifier:
            values.add(value)
    return {v for v in values if len(v) >= 2}
