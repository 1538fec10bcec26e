"""Everything that must be right before the gateway serves: one routine for ``serve`` and ``check-config``.

``serve`` and ``check-config`` used to check different things: a missing
agency ``base_url`` passed both (requests then waited in ``accepted`` with a
traceback in the log), and an unreadable seal passphrase or a missing audit
key passed ``check-config`` and stopped ``serve``. Both now run
:func:`check_start` -- ``serve`` keeps what it opened, ``check-config``
closes it -- and :func:`check_store`, which ``serve`` replaces by opening
the store. Each failure is one line naming the key or file.

What is checked, in order:

1. the installed plugins against the configuration: each agency's identity
   (names, issuing authority, credit code), secrets and options
   (:func:`~gateway.agencies.installed.load_registry`), its ``base_url``,
   ``[agencies.<code>]`` tables and ``[plugins] disabled`` names that name
   nothing installed, ``item_timeouts`` and callers' ``items`` patterns that
   match no installed item;
2. the district seal registry and every usable seal's key, with the seal
   passphrase (:class:`~gateway.sealing.district_sealer.DistrictSealer`);
3. the district audit key, with the same passphrase;
4. the store: reachable (``check-config``) or opened and migrated (``serve``), and its audit
   log written with this PKI directory's audit key and secret (``serve``, when the gateway opens
   its log: :func:`gateway.audit.setup.refuse_other_keys`; ``serve --workers``' supervisor too);
5. with ``[server] tls_certificate``: the certificate, its key, the client CA
   and the district's TLS register (:func:`~gateway.tls.context.check_tls`).

On the first start of the sample district, ``serve`` creates its seal
registry and audit key; ``check-config`` creates nothing and says so.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

import pluggy

from gateway.agencies.installed import Registry, load_registry
from gateway.agencies.plugin_manager import ENTRY_POINT_GROUP
from gateway.audit.keys import key_path
from gateway.audit.secret import secret_path
from gateway.audit.setup import audit_signer, district_secret
from gateway.bundles.chains import CHAINS_FILE, Chain, load_chains
from gateway.catalogue.items import Catalogue, matches_any
from gateway.config import ConfigError, Settings, closest, shown
from gateway.errors import CatalogueError
from gateway.sealing.district_sealer import DistrictSealer
from gateway.sealing.sealer import Sealer
from gateway.service.calendar import OfficialCalendar, load_calendar
from gateway.store import make_store
from gateway.tls.context import check_tls
from signing.audit.checkpoint import SoftwareSigner


@dataclass
class Checked:
    """What the start-up checks found and opened: ``serve`` goes on with it, ``check-config`` closes it."""

    registry: Registry
    sealer: Sealer | None = None  # None only where the first start would create the sample district
    audit_signer: SoftwareSigner | None = None  # None when [audit] is off, or the first start makes the key
    first_start: list[str] = field(default_factory=list)  # what the first start of the sample creates
    chains: dict[str, Chain] = field(default_factory=dict)  # the chained items (一链办理) offered
    chains_left_out: list[str] = field(default_factory=list)  # chains whose items are not installed
    calendar: OfficialCalendar | None = None  # the official calendar with the district's closures

    def close(self) -> None:
        """Release what was opened (the seal registry)."""
        if self.sealer is not None:
            self.sealer.close()


def check_start(
    settings: Settings, pm: pluggy.PluginManager, *, creating: bool, sealer: Sealer | None = None
) -> Checked:
    """Run every start-up check on ``settings`` (already routed to any sandboxes); raise on the first failure.

    ``creating`` (``serve``) lets the sample district's first start create its
    seal registry and audit key; without it (``check-config``) nothing is
    written and :attr:`Checked.first_start` says what would be. ``sealer``
    replaces the district's own (tests hand one in).
    """
    checked = Checked(check_plugins(settings, pm), sealer=sealer, calendar=load_calendar(settings.calendar))
    checked.chains, checked.chains_left_out = district_chains(settings, checked.registry.catalogue)
    if sealer is None:
        checked.sealer = _district_sealer(settings, checked, creating=creating)
    try:
        if settings.audit.enabled:
            if creating or key_path(settings).exists() or not settings.pki_create_sample:
                checked.audit_signer = audit_signer(settings)
            else:
                checked.first_start.append(f"the sample district's audit key is created at {key_path(settings)}")
            if creating or secret_path(settings).exists() or not settings.pki_create_sample:
                district_secret(settings)  # every instance on one store chains entries with the same secret
            else:
                checked.first_start.append(f"the sample district's audit secret is created at {secret_path(settings)}")
        check_tls(settings)
    except BaseException:
        if sealer is None:  # close only what was opened here
            checked.close()
        raise
    return checked


def district_chains(settings: Settings, catalogue: Catalogue) -> tuple[dict[str, Chain], list[str]]:
    """The chains ``[bundles] chains_file`` declares (the gateway's own when empty); a wrong one stops the start."""
    path = Path(settings.bundles.chains_file) if settings.bundles.chains_file else CHAINS_FILE
    try:
        return load_chains(catalogue, path)
    except CatalogueError as exc:
        where = "bundles.chains_file: " if settings.bundles.chains_file else ""
        raise ConfigError(f"{where}{exc}") from None


def _district_sealer(settings: Settings, checked: Checked, *, creating: bool) -> Sealer | None:
    registry_file = Path(settings.pki_dir) / "registry.json"
    if not creating and settings.pki_create_sample and not registry_file.exists():
        checked.first_start.append(f"the sample district's seal registry is created in {settings.pki_dir}")
        return None
    return DistrictSealer.for_settings(settings, checked.registry.catalogue)


async def check_store(settings: Settings) -> None:
    """Raise :class:`~gateway.errors.StoreError` unless the configured store could be opened."""
    await make_store(settings.store_url).reachable()


def check_plugins(settings: Settings, pm: pluggy.PluginManager) -> Registry:
    """The installed agencies and catalogue, checked against the configuration (every mistake in one line).

    With ``[sandboxes] start`` (development), a plugin that failed to load
    is left out rather than stopping the start: its configuration and the
    callers' patterns naming its items are not held against the others.
    """
    failed: dict[str, str] | None = getattr(pm, "failed", None) if settings.sandboxes_start else None
    registry = load_registry(pm, settings, failed=failed)
    absent = set(failed or ())
    problems = [
        *_disabled_plugins(settings),
        *_configured_agencies(settings, registry, absent),
        *_agency_addresses(settings, registry),
        *_item_timeouts(settings, registry.catalogue),
        *caller_problems(settings, registry.catalogue, absent),
    ]
    if problems:
        raise ConfigError("; ".join(problems))
    return registry


def _set_by(settings: Settings, prefix: str) -> str:
    """`` (set by ONEWINDOW_…)`` when an environment variable set a value under ``prefix``."""
    names = sorted(name for path, name in settings.from_environment.items() if f"{path}.".startswith(f"{prefix}."))
    return f" (set by {', '.join(names)})" if names else ""


def _installed_plugins() -> set[str]:
    return {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _disabled_plugins(settings: Settings) -> Iterable[str]:
    installed = _installed_plugins()
    for name in settings.plugins_disabled:
        if name not in installed:
            guess = closest(name, installed)
            hint = f" (did you mean {guess}?)" if guess else f" (installed: {', '.join(sorted(installed))})"
            yield f"plugins.disabled: {shown(name)} is no installed plugin{hint}"


def _configured_agencies(settings: Settings, registry: Registry, absent: set[str]) -> Iterable[str]:
    known = set(registry.agencies) | set(settings.plugins_disabled) | absent  # a disabled plugin may keep its table
    for code in settings.agencies:
        if code not in known:
            guess = closest(code, registry.agencies)
            hint = f" (did you mean agencies.{guess}?)" if guess else ""
            yield f"agencies.{code}: no installed agency has this code{hint}{_set_by(settings, f'agencies.{code}')}"


def _agency_addresses(settings: Settings, registry: Registry) -> Iterable[str]:
    for code in sorted(registry.agencies):
        if not settings.agency(code).base_url:
            yield (
                f"agencies.{code}.base_url: is required: the address of the agency's system on the extranet "
                "([sandboxes] start = true routes every agency to its sandbox instead, for development)"
            )


def _item_timeouts(settings: Settings, catalogue: Catalogue) -> Iterable[str]:
    for code, agency in settings.agencies.items():
        own = [item.code for item in catalogue if item.agency == code]
        for item in agency.item_timeouts:
            if own and item not in own:  # an agency that is not installed is told once, above
                guess = closest(item, own)
                hint = f" (did you mean {guess}?)" if guess else ""
                yield f"agencies.{code}.item_timeouts: {shown(item)} is no item of agency {code}{hint}"


def caller_problems(settings: Settings, catalogue: Catalogue, absent: Collection[str] = ()) -> Iterable[str]:
    """One line for every caller item pattern that matches no installed item (``absent`` plugins' excepted)."""
    codes = [item.code for item in catalogue]
    disabled = set(settings.plugins_disabled)
    for i, caller in enumerate(settings.callers):
        for pattern in caller.items:
            if any(matches_any(code, (pattern,)) for code in codes):
                continue
            agency = pattern.split(".", 1)[0]
            if agency in absent:
                continue
            if agency in disabled:
                why = f" (plugin {agency!r} is disabled in [plugins])"
            else:
                guess = closest(pattern, codes + sorted({f"{code.split('.')[0]}.*" for code in codes}))
                why = f" (did you mean {guess}?)" if guess else ""
            yield f"callers[{i}].items: {shown(pattern)} matches no installed item{why}"
