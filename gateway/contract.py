"""The plugin contract: the one module an agency plugin imports.

Everything a plugin author needs is here: the pluggy markers and hook
specifications, the request a plugin receives, the outcomes it returns, the
errors it raises, and the per-call context (:class:`AgencyCall`) through which
it reaches its agency. The core owns every network concern -- sessions,
timeouts, retries, circuit breakers, logging -- so a plugin only translates
between Onewindow's request and its agency's protocol.

Hook specifications follow datasette's style: empty functions whose
docstring is written for the plugin author. ``docs/plugins.md`` documents
each one; a test fails when a hook is undocumented or untested.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import pluggy

from gateway.catalogue.items import Item
from gateway.catalogue.materials import Material
from gateway.errors import (
    AgencyAuthError,
    AgencyError,
    AgencyProtocolError,
    AgencyRejectedCall,
    AgencyTimeout,
    AgencyUnavailable,
)
from gateway.personal_data.identifiers import credit_code_problem, phone_problem, resident_id_problem
from gateway.sandbox import FaultKnobs, ReplayWindow, SandboxSpec, SubmissionLedger, sandbox_application

if TYPE_CHECKING:
    import aiohttp
    import structlog

__all__ = [
    "Agency",
    "AgencyAuthError",
    "AgencyCall",
    "AgencyError",
    "AgencyIdentity",
    "AgencyProtocolError",
    "AgencyRejectedCall",
    "AgencySettingsView",
    "AgencyTimeout",
    "AgencyUnavailable",
    "Applicant",
    "Completed",
    "FaultKnobs",
    "GatewayConfig",
    "GatewayView",
    "Health",
    "IntakeRequest",
    "Item",
    "Material",
    "Outcome",
    "Pending",
    "Pledge",
    "Problem",
    "Reason",
    "Rejected",
    "ReplayWindow",
    "SandboxSpec",
    "SubmissionLedger",
    "credit_code_problem",
    "hookimpl",
    "hookspec",
    "phone_problem",
    "resident_id_problem",
    "sandbox_application",
]

PROJECT = "onewindow"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --------------------------------------------------------------------------
# What a plugin receives
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Applicant:
    """The person or organisation the request is for.

    ``kind`` is ``"person"`` (``id_type`` is ``"resident_id"``, ``id_number``
    an 18-character resident ID number) or ``"organisation"`` (``id_type`` is
    ``"credit_code"``, ``id_number`` an 18-character unified social credit
    code). Both are checked by the core before a plugin sees them.
    """

    kind: Literal["person", "organisation"]
    id_type: str
    id_number: str
    name: str
    phone: str | None = None


@dataclass(frozen=True)
class Pledge:
    """The applicant's signed commitment (告知承诺) replacing named materials."""

    replaces: tuple[str, ...]
    statement: str
    signed_by: str
    signed_at: str


@dataclass(frozen=True)
class IntakeRequest:
    """One accepted request, as the core hands it to the agency plugin.

    ``materials`` has been validated against the item's catalogue entry;
    attachments arrive as ``{"media_type", "filename", "content_base64",
    "size"}`` mappings. ``request_id`` is also the agency-side deduplication
    key (see :attr:`AgencyCall.dedupe_key`).
    """

    request_id: str
    item: str
    applicant: Applicant
    materials: Mapping[str, Any]
    office: str
    operator: str
    channel: str
    pledge: Pledge | None = None


# --------------------------------------------------------------------------
# What a plugin returns
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Completed:
    """The agency finished the item: ``document`` is its result.

    ``document`` is plain JSON data (the fields of the certificate or query
    answer). The core wraps it in the result document and seals it.
    ``reference`` is the agency's own case or record number, if it has one.
    """

    document: Mapping[str, Any]
    reference: str | None = None


@dataclass(frozen=True)
class Pending:
    """The agency accepted the item but decides later (前台受理、后台审核).

    ``ticket`` is whatever the plugin needs to ask again (usually the
    agency's case number); the core calls :meth:`Agency.poll` with it no
    sooner than ``poll_after`` seconds from now. ``reference`` is the
    agency's case number (受理编号) as the applicant may quote it, and
    ``message`` what the agency says about the case now: the core stores
    both, shows them on the request while it is pending and prints the case
    number on the acceptance receipt (a new version when it first appears).
    """

    ticket: str
    poll_after: float = 30.0
    message: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class Reason:
    """One business reason an agency gives for refusing a request."""

    code: str
    message_zh: str
    message_en: str | None = None


@dataclass(frozen=True)
class Rejected:
    """The agency refused on business grounds; ``reasons`` says why."""

    reasons: tuple[Reason, ...]
    reference: str | None = None


Outcome = Completed | Pending | Rejected


@dataclass(frozen=True)
class Health:
    """The answer of :meth:`Agency.health`: is the agency's system usable now?"""

    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class Problem:
    """One problem with a request, reported with every other one (一次性告知).

    ``path`` is a JSON-pointer-like location in the request envelope, e.g.
    ``materials/deed_number`` or ``applicant/id_number``; ``related`` names the
    other places a rule across fields checked it against (the start of a
    period whose end is at ``path``).
    """

    path: str
    code: str
    message_zh: str
    message_en: str
    related: tuple[str, ...] = ()


# --------------------------------------------------------------------------
# Chinese identifiers, checked as the core checks the applicant's and every
# resident_id / credit_code / phone material (also inside list and object
# materials): resident_id_problem(value) -> None when it is a valid resident
# ID number (GB 11643: shape, birth date, check character), else the reason
# -- "length", "characters", "region", "birth_date" or "check_digit";
# credit_code_problem(value) likewise for a unified social credit code
# (GB 32100; "authority" for a wrong first character); phone_problem(value)
# -> None or "format" for a mainland mobile number. For an identifier inside
# text the catalogue cannot type (a number in a free-text field your agency
# parses), report Problem(path, f"invalid_{reason}", ...) from
# onewindow_validate.
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# What a plugin raises: AgencyError and its subclasses, defined with every
# other gateway exception in gateway.errors and re-exported here. Raise
# AgencyUnavailable for 5xx, maintenance and refused connections (retried,
# deferred), AgencyProtocolError for answers you cannot read, AgencyAuthError
# when the agency refuses our credentials, AgencyRejectedCall when it refuses
# the call itself.
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# The per-call context, the agency's identity and the adapter protocol
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class AgencyIdentity:
    """Who an agency is in the district that runs the gateway: printed on every sealed result.

    The same plugin serves every district, so the identity is never the
    plugin's: the district configures it under ``[agencies.<code>]`` and the
    plugin takes it from the configuration in ``onewindow_agencies(config)``
    with ``config.agency_identity(code)``, which refuses the start naming the
    missing key. The core checks the adapter carries exactly the configured one.
    """

    code: str  # the agency code of item codes: "tax"
    name_zh: str  # the agency's name: 国家税务总局淄博市张店区税务局
    name_en: str
    authority_zh: str  # the issuing authority printed on results (签发机关), e.g. a bureau's service centre
    authority_en: str
    credit_code: str  # the agency's unified social credit code (统一社会信用代码, GB 32100)

    def as_json(self) -> dict[str, str]:
        """The identity as a result document prints it."""
        return {
            "code": self.code,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "authority_zh": self.authority_zh,
            "authority_en": self.authority_en,
            "credit_code": self.credit_code,
        }


@dataclass
class AgencyCall:
    """What the core hands a plugin for one call to its agency.

    Use :attr:`session` for every HTTP request (it carries the extranet's
    proxy, TLS client certificate, connection pool and timeouts) and join
    paths with :meth:`url`. Send :attr:`dedupe_key` to the agency so a
    retried submission is never acted on twice. :attr:`secrets` holds the
    plugin's configured credentials; never log them. :attr:`request` is the
    original request on ``submit`` *and* ``poll`` (an agency may need the
    item or the materials to ask about a ticket); ``None`` for ``health``.
    """

    agency: str
    session: aiohttp.ClientSession
    base_url: str
    dedupe_key: str
    deadline: float
    log: structlog.typing.FilteringBoundLogger
    secrets: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    attempt: int = 1
    request: IntakeRequest | None = None

    def url(self, path: str) -> str:
        """Join ``path`` to the agency's configured base URL."""
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def remaining(self) -> float:
        """Seconds left before this call's deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())


@runtime_checkable
class Agency(Protocol):
    """The adapter a plugin registers for one agency.

    ``code`` is the agency code used as the first part of item codes
    (``tax`` in ``tax.payment-record``); ``identity`` is the district's
    :class:`AgencyIdentity` for that code, taken from the configuration;
    ``catalogue`` is the path of the plugin's catalogue file, which the core
    loads and validates.

    Optionally, ``required_secrets`` and ``required_options`` (tuples of
    key names) list what the adapter reads from ``call.secrets`` and
    ``call.options`` without a default: the gateway refuses to start when
    one is not configured, naming the plugin, agency and key, instead of
    the first applicant finding out at the window.
    """

    code: str
    identity: AgencyIdentity
    catalogue: Path

    async def submit(self, request: IntakeRequest, call: AgencyCall) -> Outcome:
        """Send one request to the agency and translate its answer."""
        ...

    async def poll(self, ticket: str, call: AgencyCall) -> Outcome:
        """Ask again about a :class:`Pending` ticket."""
        ...

    async def health(self, call: AgencyCall) -> Health:
        """Cheaply check the agency's system is reachable and usable."""
        ...


# --------------------------------------------------------------------------
# What hooks receive of the gateway
# --------------------------------------------------------------------------


class AgencySettingsView(Protocol):
    """One agency's settings as the district configures them (``[agencies.<code>]``)."""

    @property
    def base_url(self) -> str: ...

    @property
    def secrets(self) -> Mapping[str, str]: ...

    @property
    def options(self) -> Mapping[str, Any]: ...


class GatewayConfig(Protocol):
    """The ``config`` of ``onewindow_agencies``: what a plugin may read of the gateway's configuration."""

    def agency(self, code: str) -> AgencySettingsView:
        """Agency ``code``'s settings: ``base_url``, ``secrets``, ``options``."""
        ...

    def agency_identity(self, code: str) -> AgencyIdentity:
        """Who agency ``code`` is in this district; refuses the start naming each key not configured."""
        ...


class GatewayView(Protocol):
    """The ``gateway`` of ``onewindow_startup`` and ``onewindow_shutdown``: the running gateway, read-only."""

    @property
    def settings(self) -> GatewayConfig: ...

    @property
    def stopping(self) -> bool: ...


# --------------------------------------------------------------------------
# Hook specifications
# --------------------------------------------------------------------------


@hookspec
def onewindow_agencies(config: GatewayConfig) -> Sequence[Agency] | None:
    """Return the agencies this plugin connects.

    ``config`` is the gateway's configuration; ``config.agency(code)``
    gives an agency's settings (base URL, secrets, options) and
    ``config.agency_identity(code)`` its :class:`AgencyIdentity` (names,
    issuing authority, credit code), which the district configures and every
    sealed result prints: pass it to the adapter, never write names into the
    plugin. Return a list of :class:`Agency` adapters; each names its
    catalogue file, which the core loads and validates at start-up.
    """


@hookspec
def onewindow_sandboxes() -> Sequence[SandboxSpec] | None:
    """Return sandboxes that imitate this plugin's agency systems.

    Each :class:`SandboxSpec` builds a real aiohttp application; ``onewindow
    sandbox run`` and ``make run`` start them on loopback.
    """


@hookspec
def onewindow_startup(gateway: GatewayView) -> Any:
    """Run once after the gateway has loaded its catalogue and store.

    May return an awaitable, which is awaited before the first request is
    accepted. Use it to warm caches or check configuration.
    """


@hookspec
def onewindow_shutdown(gateway: GatewayView) -> Any:
    """Run once when the gateway stops; may return an awaitable."""


@hookspec
def onewindow_validate(item: Item, request: IntakeRequest) -> Sequence[Problem] | None:
    """Return extra problems for a request to ``item`` (empty when it is fine).

    Called for every request after the core's own checks of the envelope and
    materials, so a plugin can add rules the catalogue cannot express (for
    example "the lease must cover today"). Every plugin is asked; all
    problems are reported together. May return an awaitable.
    """


@hookspec
def onewindow_request_finished(item: Item, request_id: str, status: str, outcome: Outcome | None) -> Any:
    """Be told that a request reached a final status.

    ``status`` is ``completed``, ``rejected`` or ``failed``; ``outcome`` is
    the agency's outcome when there is one. Errors raised here are logged
    and never change the request. May return an awaitable.
    """
