"""One agency plugin against its own sandbox, called exactly as the gateway calls it.

The contract kit and a plugin author's own tests both need the same thing:
the installed plugin found through the ``onewindow`` entry points, its
sandbox serving on loopback, and every call made through
:class:`gateway.agencies.extranet.Extranet` with the settings the gateway would use
(the sandbox's demo credentials, the gateway's deadline, ``call.request``
set on submit and poll). :class:`AgencyHarness` is that, as an async
context manager; nothing in it is a mock.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pluggy
import structlog

from gateway.agencies.extranet import Extranet
from gateway.agencies.guard import DEFAULT_BLOCK_THRESHOLD_S, HookGuard, LoopHold, PluginWatch
from gateway.agencies.installed import check_adapter
from gateway.agencies.plugin_manager import error_detail, hook_results_by_plugin, plugin_manager
from gateway.agencies.sandboxes import sandbox_specs, with_sandbox_config
from gateway.catalogue.files import load_items
from gateway.catalogue.items import Item
from gateway.config import IDENTITY_KEYS, Settings, load_settings
from gateway.contract import Agency, AgencyIdentity, Health, IntakeRequest, Outcome, Pending
from gateway.errors import CatalogueError, PluginError
from gateway.intake.request_ids import new_ulid
from gateway.observability.logs import configure_logging
from gateway.personal_data.identifiers import credit_code_check_char
from gateway.sandbox import FaultKnobs, RunningSandbox, SandboxSpec, SubmissionLedger, start_sandbox
from gateway.testing.samples import envelope_for, intake_for


class KitError(AssertionError):
    """The plugin cannot be tested as it stands; the message says what to change."""


@dataclass(frozen=True)
class PluginUnderTest:
    """An installed agency: the plugin that registers it, its adapter, sandbox and catalogue items.

    ``owners`` maps every installed agency to its plugin and ``installed_items``
    holds every installed agency's items, so the plugin's hooks can be run
    on other agencies' items as the gateway runs them.
    """

    plugin: str
    adapter: Agency
    spec: SandboxSpec
    items: tuple[Item, ...]
    pm: pluggy.PluginManager
    owners: Mapping[str, str] = field(default_factory=dict)
    installed_items: tuple[Item, ...] = ()

    def guard(self, watch: PluginWatch | None = None) -> HookGuard:
        """The gateway's hook boundary over the installed plugins, as the gateway builds it."""
        return HookGuard(self.pm, owners=self.owners, watch=watch)

    def item(self, code: str) -> Item:
        """The catalogue item ``code`` of this agency."""
        for item in self.items:
            if item.code == code:
                return item
        raise KitError(f"agency {self.adapter.code!r} has no catalogue item {code!r}")


_KIT_CREDIT_BODY = "11000000MB0000000"  # region 000000: no real organisation
KIT_CREDIT_CODE = _KIT_CREDIT_BODY + credit_code_check_char(_KIT_CREDIT_BODY)


def kit_settings(code: str) -> Settings:
    """The sample district's settings, naming agency ``code`` with a test identity when it does not name it.

    A district names every agency it runs (``[agencies.<code>]``); a plugin
    under test is not one of the sample district's, so the kit names it
    "<code> (plugin test)" -- a name no district result can carry.
    """
    settings = load_settings(environ={})
    current = settings.agency(code)
    if all(getattr(current, key) for key in IDENTITY_KEYS):
        return settings
    named = dataclasses.replace(
        current,
        name_zh=f"{code}（插件测试）",
        name_en=f"{code} (plugin test)",
        authority_zh=f"{code}（插件测试）",
        authority_en=f"{code} (plugin test)",
        credit_code=KIT_CREDIT_CODE,
    )
    agencies = {**settings.agencies, code: named}
    return dataclasses.replace(settings, agencies=agencies)


class _EveryAgencyNamed:
    """The sample district's configuration naming every agency it does not name (see :func:`kit_settings`)."""

    def __init__(self) -> None:
        self._settings = load_settings(environ={})

    def agency(self, code: str) -> Any:
        return self._settings.agency(code)

    def agency_identity(self, code: str) -> AgencyIdentity:
        return kit_settings(code).agency_identity(code)


def find_agency(code: str, plugins: Sequence[object] = ()) -> PluginUnderTest:
    """Find agency ``code`` through the ``onewindow`` entry points (and ``plugins`` not installed yet).

    A plugin that cannot be loaded, or whose hooks do not fit the contract
    (a misspelt hook name), is a :class:`KitError` naming it.
    """
    if not code:
        raise KitError("set the agency code to test, e.g. agency = 'demo'")
    pm = plugin_manager(extra=plugins, strict=False)
    failed: dict[str, str] = {}
    every = hook_results_by_plugin(pm, "onewindow_agencies", config=_EveryAgencyNamed(), refused=[], failed=failed)
    refusals = [*pm.failed.values(), *failed.values()]
    if any(f"'{code}'" in why for why in refusals):
        raise KitError("; ".join(why for why in refusals if f"'{code}'" in why))
    settings = kit_settings(code)
    found = [
        (name, agency)
        for name, agencies in hook_results_by_plugin(pm, "onewindow_agencies", config=settings, refused=[])
        for agency in agencies
        if getattr(agency, "code", None) == code
    ]
    if not found:
        raise KitError(
            f"no installed plugin registers agency {code!r}: is the package installed (pip install -e .) "
            f"and does its pyproject.toml declare [project.entry-points.onewindow]?"
            + "".join(f"; {why}" for why in refusals)
        )
    plugin, adapter = found[0]
    try:
        check_adapter(plugin, adapter)
        items = tuple(load_items(adapter.catalogue, plugin=plugin, agency=code))
    except (PluginError, CatalogueError) as exc:
        raise KitError(str(exc)) from None
    specs = [spec for spec in sandbox_specs(pm) if spec.agency == code]
    if not specs:
        raise KitError(f"plugin {plugin!r} offers no sandbox for {code!r}: implement onewindow_sandboxes()")
    owners = {agency.code: name for name, agencies in every for agency in agencies}
    return PluginUnderTest(plugin, adapter, specs[0], items, pm, owners, (*items, *_others_items(every, code)))


def _others_items(every: list[tuple[str, Any]], code: str) -> list[Item]:
    """Every other installed agency's items (a catalogue that does not load is its own plugin's business)."""
    items: list[Item] = []
    for name, agencies in every:
        for agency in agencies:
            if getattr(agency, "code", code) == code:
                continue
            with contextlib.suppress(CatalogueError, OSError, AttributeError, TypeError):
                items += load_items(agency.catalogue, plugin=name, agency=agency.code)
    return items


@contextlib.contextmanager
def captured_logs(level: str = "debug") -> Iterator[io.StringIO]:
    """Everything logged inside, as the gateway's ``configure_logging`` renders it (JSON lines, masked)."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, root_level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging(level, stream=stream)
    try:
        yield stream
    finally:
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(root_level)


class AgencyHarness:
    """A running sandbox of one agency and an extranet client configured for it.

    ``options`` change the sandbox's declared options (``SandboxSpec.options``),
    ``agency_options`` and ``agency_secrets`` the agency's own (``call.options``,
    ``call.secrets``, over the sandbox's demo ones), ``agency_settings`` the
    gateway's other settings for the agency (for example ``total_timeout_s``).
    One attempt per call by default: what the adapter makes of one answer is
    the contract; retrying is the core's job. Every call is timed as the
    gateway times it: :attr:`holds` lists those that held the event loop
    ``block_threshold_s`` or longer. A :class:`Pending` is polled after its
    ``poll_after``, as the gateway polls it (``max_poll_interval_s`` polls
    sooner, for a plugin's own tests).
    """

    def __init__(
        self,
        target: PluginUnderTest,
        *,
        options: Mapping[str, Any] | None = None,
        knobs: FaultKnobs | None = None,
        max_settle_s: float = 15.0,
        max_poll_interval_s: float | None = None,
        agency_options: Mapping[str, Any] | None = None,
        agency_secrets: Mapping[str, str] | None = None,
        block_threshold_s: float = DEFAULT_BLOCK_THRESHOLD_S,
        **agency_settings: Any,
    ) -> None:
        self.target = target
        self.options = dict(options or {})
        self.agency_options = dict(agency_options or {})
        self.agency_secrets = dict(agency_secrets or {})
        self.watch = PluginWatch(block_threshold_s)
        self.holds: list[LoopHold] = []
        self.watch.on_hold.append(self.holds.append)
        self._knobs = knobs
        self.max_settle_s = max_settle_s
        self.max_poll_interval_s = max_poll_interval_s
        self.agency_settings = {"max_attempts": 1, **agency_settings}
        self.sandbox: RunningSandbox | None = None
        self.extranet: Extranet | None = None
        self.settings: Settings | None = None

    @property
    def code(self) -> str:
        return self.target.adapter.code

    @property
    def knobs(self) -> FaultKnobs:
        """The running sandbox's fault knobs; change them with ``knobs.update({...})``."""
        assert self.sandbox is not None, "use the harness inside 'async with'"
        return self.sandbox.knobs

    @property
    def ledger(self) -> SubmissionLedger:
        """The running sandbox's submission ledger: what it really acted on."""
        assert self.sandbox is not None, "use the harness inside 'async with'"
        return self.sandbox.ledger

    async def __aenter__(self) -> AgencyHarness:
        try:
            self.sandbox = await start_sandbox(self.target.spec, knobs=self._knobs, options=self.options)
        except Exception as exc:
            raise KitError(
                f"plugin {self.target.plugin!r}: the {self.code} sandbox cannot start: {error_detail(exc)}"
            ) from None
        settings = with_sandbox_config(kit_settings(self.code), [self.target.spec], {self.code: self.sandbox.url})
        agencies = dict(settings.agencies)
        values = dict(self.agency_settings)  # secrets=/options= there replace the sandbox's demo ones whole
        current = agencies[self.code]
        agencies[self.code] = dataclasses.replace(
            current,
            options={**values.pop("options", current.options), **self.agency_options},
            secrets={**values.pop("secrets", current.secrets), **self.agency_secrets},
            **values,
        )
        self.settings = dataclasses.replace(settings, agencies=agencies)
        self.extranet = Extranet(self.settings, watch=self.watch, plugin_of={self.code: self.target.plugin})
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self.extranet is not None:
            await self.extranet.close()
        if self.sandbox is not None:
            await self.sandbox.stop()

    # -- requests -----------------------------------------------------------

    def request(
        self,
        item: str | Item,
        *,
        applicant: Mapping[str, Any] | None = None,
        materials: Mapping[str, Any] | None = None,
        request_id: str | None = None,
    ) -> IntakeRequest:
        """The request the gateway would hand the plugin for ``item``'s samples (overlaid with ``materials``)."""
        chosen = self.target.item(item) if isinstance(item, str) else item
        envelope = envelope_for(chosen, applicant=applicant, materials=materials)
        return intake_for(chosen, envelope, request_id or new_ulid())

    def rejection_request(self) -> IntakeRequest:
        """The request built from the sandbox's ``rejection`` example."""
        example = self.target.spec.rejection
        if not example.get("item") or not example.get("applicant"):
            raise KitError(
                f"the {self.code} sandbox declares no rejection example: set SandboxSpec.rejection to "
                "{'item': ..., 'applicant': {...}, 'materials': {...}} that it always refuses on business grounds"
            )
        return self.request(example["item"], applicant=example["applicant"], materials=example.get("materials"))

    # -- calls, as the gateway makes them -------------------------------------

    def _deadline(self) -> float:
        assert self.settings is not None, "use the harness inside 'async with'"
        return time.monotonic() + self.settings.request_deadline_s

    async def submit(self, request: IntakeRequest) -> Outcome:
        """``adapter.submit`` through the extranet, with the request id as the dedupe key."""
        assert self.extranet is not None, "use the harness inside 'async with'"
        adapter = self.target.adapter
        return await self.extranet.call(
            self.code,
            "submit",
            lambda call: adapter.submit(request, call),
            dedupe_key=request.request_id,
            deadline=self._deadline(),
            item=request.item,
            request=request,
        )

    async def poll(self, ticket: str, request: IntakeRequest) -> Outcome:
        """``adapter.poll`` through the extranet, with ``call.request`` set as the gateway sets it."""
        assert self.extranet is not None, "use the harness inside 'async with'"
        adapter = self.target.adapter
        return await self.extranet.call(
            self.code,
            "poll",
            lambda call: adapter.poll(ticket, call),
            dedupe_key=request.request_id,
            deadline=self._deadline(),
            item=request.item,
            request=request,
        )

    async def settle(self, request: IntakeRequest, outcome: Outcome) -> Outcome:
        """Poll a :class:`Pending` outcome until it is final, each poll after its ``poll_after`` as the outbox does."""
        give_up = time.monotonic() + self.max_settle_s
        polls = 0
        while isinstance(outcome, Pending):
            wait = max(outcome.poll_after, 0.01)
            if self.max_poll_interval_s is not None:
                wait = min(wait, self.max_poll_interval_s)
            if time.monotonic() + wait > give_up:
                raise KitError(
                    f"{request.item} is still Pending after {polls} poll(s), and asks to be polled again in "
                    f"{outcome.poll_after:g} s, past the kit's max_settle_s ({self.max_settle_s:g} s; ticket "
                    f"{outcome.ticket!r}): give the kit a shorter sandbox delay through sandbox_options, "
                    "or raise max_settle_s"
                )
            await asyncio.sleep(wait)
            outcome = await self.poll(outcome.ticket, request)
            polls += 1
        return outcome

    async def run(self, request: IntakeRequest) -> Outcome:
        """Submit ``request`` and poll it to a final outcome."""
        return await self.settle(request, await self.submit(request))

    async def health(self) -> Health:
        """``adapter.health`` through the extranet, as ``/readyz`` asks it."""
        assert self.extranet is not None, "use the harness inside 'async with'"
        return await self.extranet.call(
            self.code,
            "health",
            self.target.adapter.health,
            dedupe_key=f"health-{self.code}",
            deadline=time.monotonic() + 3.0,
            retry=False,
        )
