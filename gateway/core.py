"""The gateway: every part assembled, started and stopped in the right order.

Start-up is where mistakes should surface: (in the sample configuration)
the agency sandboxes are started, then every start-up check runs -- the
same ones ``check-config`` runs (:mod:`gateway.startup`): plugins and their
catalogues against the configuration, the seal keys, the audit key -- and
the store is opened and migrated, before the first request is accepted.
Stopping reverses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from typing import TYPE_CHECKING, Any

from gateway.agencies.extranet import Attempt, Extranet
from gateway.agencies.installed import Registry
from gateway.agencies.plugin_manager import Plugins, error_detail, hook_results_by_plugin, plugin_manager
from gateway.agencies.sandboxes import with_sandboxes
from gateway.audit.log import AuditLog, AuditSink
from gateway.audit.registry_acts import RegistryActFeed
from gateway.audit.setup import open_audit_log
from gateway.bundles.runner import BundleRunner
from gateway.bundles.service import Bundles
from gateway.callers.api_keys import ApiKeyMethod
from gateway.callers.authenticator import Authenticator, AuthMethod, CallerAuthenticator
from gateway.callers.keys import KeyRing, district_passphrase
from gateway.callers.model import Caller, callers_by_id
from gateway.callers.signatures import SignatureMethod
from gateway.config import SAMPLE_SOURCE, Settings, load_settings, read_metrics_token
from gateway.contract import GatewayConfig, GatewayView
from gateway.delivery.callbacks import CallbackSender
from gateway.delivery.delivery import Delivery
from gateway.delivery.outbox import OutboxWorker
from gateway.errors import ConfigError, PluginError, PluginFault, StartupError, StoreError
from gateway.intake.router import Router, instance_name
from gateway.limits.admission import CallerLimits
from gateway.observability.events import Events, LogSink
from gateway.observability.logs import get_logger
from gateway.observability.metrics import GatewayMetrics
from gateway.ratings.book import RatingBook
from gateway.sandbox import RunningSandbox, start_sandbox
from gateway.sealing.coverage import Uncovered, check_coverage
from gateway.sealing.sealer import Sealer
from gateway.startup import Checked, caller_problems, check_start
from gateway.store import Store, make_store, release_schema_version
from gateway.tls.identity import ClientCertificates
from signing.registry.tls_register import TlsRegister

HEALTH_CACHE_S = 10.0


class Gateway:
    """One running gateway process: configuration, plugins, store, router.

    :meth:`start` builds every part in one place (:meth:`_assemble`) before
    anything is opened, and registers each opened part's closing on a stack
    that :meth:`stop` unwinds: stopping undoes exactly what starting did, in
    reverse, however far starting got.
    """

    def __init__(self, settings: Settings, *, pm: Plugins | None = None, sealer: Sealer | None = None) -> None:
        self.settings = settings
        # With every sandbox started (development), a plugin that cannot load leaves the others serving.
        self.pm = pm or plugin_manager(disabled=settings.plugins_disabled, strict=not settings.sandboxes_start)
        self._given_sealer = sealer
        self.sandboxes: list[RunningSandbox] = []
        self.metrics = GatewayMetrics()
        self.instance = instance_name()
        self.started = False
        self.stopping = False
        self.log = get_logger(component="gateway")
        self._health_cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._opened = contextlib.AsyncExitStack()
        # Built by _assemble(), before anything uses them:
        self.registry: Registry
        self.metrics_token: bytes | None  # GET /metrics requires it when set ([metrics] token_file)
        self.store: Store
        self.extranet: Extranet
        self.events: Events
        self.authenticator: Authenticator
        self.client_certificates: ClientCertificates | None  # mutual TLS ([server] client_certificates)
        self.limits: CallerLimits  # per-caller rate and concurrency limits
        self._sealer: Sealer
        self.delivery: Delivery
        self.router: Router
        self.callbacks: CallbackSender
        self.bundles: Bundles  # chained items (一链办理)
        # Optional by configuration ([audit] enabled, [outbox] workers):
        self.audit: AuditLog | None = None
        self.worker: OutboxWorker | None = None
        self.acts_feed: RegistryActFeed | None = None
        self._worker_stopping: asyncio.Task[None] | None = None
        self.seal_gaps: list[Uncovered] = []  # items an office may accept that no usable seal covers

    async def start(self) -> None:
        """Bring every part up; raises with a clear message when one cannot start.

        A part that cannot start stops what was already started, so the
        process can exit instead of hanging on an open store or sandbox.
        """
        try:
            await self._start()
            await self.store.durable()  # what start-up recorded (the bureau's acts, configuration) is on disk
        except BaseException:
            await self.stop(grace_s=0)
            raise

    async def _start_sandboxes(self) -> None:
        """Start every plugin's sandbox; one that cannot start is told in one line and its plugin left out.

        Only when none starts does the gateway stop: then another gateway most likely holds the ports.
        """
        offset = self.settings.sandboxes_port_offset
        refused: list[str] = []
        for plugin, specs in hook_results_by_plugin(self.pm, "onewindow_sandboxes", failed=self.pm.failed):
            for spec in specs:
                port = getattr(spec, "default_port", 0) + offset
                try:
                    running = await start_sandbox(spec, host=self.settings.sandboxes_host, port=port)
                except Exception as exc:
                    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else error_detail(exc)
                    agency = getattr(spec, "agency", "?")
                    refused.append(f"{self.settings.sandboxes_host}:{port} ({why})")
                    message = f"plugin {plugin!r}: the {agency} sandbox cannot start on {refused[-1]}"
                    self._plugin_failed(plugin, message)
                    continue
                self.sandboxes.append(running)
                self._opened.push_async_callback(running.stop)
                self.log.info("sandbox.started", agency=spec.agency, url=running.url)
        if refused and not self.sandboxes:
            raise StartupError(
                f"cannot start any agency sandbox ({'; '.join(refused)}): is another gateway running? stop it, "
                "or move the sandboxes with ONEWINDOW_SANDBOXES__PORT_OFFSET=100"
            )
        self.settings = with_sandboxes(self.settings, self.sandboxes)

    def _plugin_failed(self, plugin: str, message: str) -> None:
        """Leave ``plugin`` out (all its hooks), keeping why for the log and ``/readyz``."""
        self.pm.failed[plugin] = message
        self.pm.set_blocked(plugin)

    def _assemble(self, checked: Checked) -> None:
        """Build every part from the settings and what the start-up checks opened; nothing else is opened yet."""
        assert checked.sealer is not None  # check_start(creating=True) always opens (or creates) one
        self.registry = checked.registry
        self.metrics_token = read_metrics_token(self.settings.metrics)
        self.store = make_store(self.settings.store_url)
        self.extranet = Extranet(self.settings, plugin_of=self.registry.plugin_of)
        self.events = Events(LogSink())
        self.callers: dict[str, Caller] = callers_by_id(self.settings.callers, self.settings)
        self.caller_keys = KeyRing(self.store, lambda: district_passphrase(self.settings))
        self.ratings = RatingBook(self.store)  # 好差评 and their follow-ups
        self.client_certificates = None
        if self.settings.tls.client_certificates != "off":
            self.client_certificates = ClientCertificates(self, TlsRegister(self.settings.pki_dir))
        self.authenticator = self._authenticator()
        self.limits = CallerLimits(self)
        self._sealer = checked.sealer
        assert checked.calendar is not None
        self.calendar = checked.calendar
        self.delivery = Delivery(
            settings=self.settings,
            registry=self.registry,
            store=self.store,
            extranet=self.extranet,
            events=self.events,
            pm=self.pm,
            sealer=self._sealer,
        )
        self.router = Router(
            settings=self.settings,
            registry=self.registry,
            store=self.store,
            events=self.events,
            pm=self.pm,
            delivery=self.delivery,
            instance=self.instance,
            calendar=self.calendar,
        )
        self.callbacks = CallbackSender(
            store=self.store,
            events=self.events,
            secrets={c.id: c.callback_secret for c in self.settings.callers},
            prefixes={c.id: c.callback_prefixes for c in self.settings.callers},
            retry_delay=self.delivery.retry_delay,
        )
        for chain in checked.chains_left_out:
            self.log.warning("chain.not_offered", chain=chain)
        runner = BundleRunner(
            chains=checked.chains, store=self.store, router=self.router, delivery=self.delivery, events=self.events
        )
        self.delivery.transitions.observers.append(runner.request_finished)  # a step done: its bundle goes on
        self.bundles = Bundles(runner)
        self.extranet.observers.append(self._record_attempt)
        self.metrics.attach(self)

    async def _start(self) -> None:
        if self.settings.sandboxes_start:
            await self._start_sandboxes()
        checked = check_start(self.settings, self.pm, creating=True, sealer=self._given_sealer)
        self._opened.callback(checked.close)  # the sealer
        for plugin, reason in self.pm.failed.items():  # one line each, no traceback; /readyz lists them too
            self.log.error("plugin.failed", plugin=plugin, reason=reason)
        if checked.sealer is not None:
            self.seal_gaps = check_coverage(checked.sealer, checked.registry.catalogue, self.settings)
        self._assemble(checked)
        await self.store.open()
        await self._check_schema()
        self._opened.push_async_callback(self.store.close)
        self._opened.push_async_callback(self.limits.stop)  # before the store closes
        self._opened.push_async_callback(self.extranet.close)
        await self._open_audit(checked)
        try:
            await self.delivery.guard.each("onewindow_startup", stop_on_fault=True, gateway=self)
        except PluginFault as fault:  # the plugin's own message: a start-up check of its configuration
            cause = fault.__cause__
            told = f"plugin {fault.plugin!r}: {fault.hook} raised {error_detail(cause)}" if cause else str(fault)
            raise PluginError(told) from None
        self._opened.push_async_callback(self._shutdown_hook)
        self._opened.push_async_callback(self.callbacks.close)
        if self.audit_sound:  # a damaged log records nothing: the start itself is told by the audit.damaged line
            await self.events.emit(
                "configuration.loaded",
                source=self.settings.source,
                items=len(self.registry.catalogue),
                agencies=sorted(self.registry.agencies),
            )
        await self._feed_registry_acts()
        if self.settings.outbox.workers and self.audit_sound:  # deliveries record every step: none while closed
            self.worker = OutboxWorker(
                store=self.store, delivery=self.delivery, callbacks=self.callbacks, instance=self.instance
            )
            await self.worker.start()
        if self.audit_sound:  # bundles a stopped gateway left under way go on (their steps are in the store)
            await self.bundles.runner.start()
        self._opened.push_async_callback(self.bundles.runner.stop)
        self.started = True

    async def _check_schema(self) -> None:
        """A store a later release migrated still serves (migrations only add); say so, for a rollback."""
        here, known = await self.store.schema_version(), release_schema_version(self.store.backend)
        if here > known:
            self.log.warning(
                "store.schema_newer",
                schema_version=here,
                this_release=known,
                advice="a later release migrated this store: this one ignores what it added (docs/operations.md)",
            )

    async def _open_audit(self, checked: Checked) -> None:
        """Open (and check) the audit log; events become durable entries, digests keyed by the district secret."""
        self.audit = await open_audit_log(
            self.settings, self.store, instance=self.instance, signer=checked.audit_signer
        )
        if self.audit is None:
            return
        self._opened.push_async_callback(self.audit.close)
        self.events.sinks.append(AuditSink(self.audit))  # durable before emit returns: see gateway.audit.log
        if self.audit.digests is not None:
            self.events.digests = self.audit.digests
        self.audit.on_damage.append(self._audit_damaged)
        self.audit.on_append_failure.append(self.metrics.audit_append_failed)

    async def _feed_registry_acts(self) -> None:
        """The seal registry's acts (the bureau's, made without a store) into the audit log, each once."""
        source = getattr(self._sealer, "registry_acts", None)
        if self.audit is None or source is None or not self.audit_sound:
            return
        feed = RegistryActFeed(self.audit.store, source, instance=self.instance, sound=lambda: self.audit_sound)
        self.acts_feed = feed
        await feed.start()
        self._opened.push_async_callback(feed.stop)

    @property
    def audit_sound(self) -> bool:
        """False while the audit log is closed for damage (nothing may be accepted, sealed or delivered)."""
        return self.audit is None or self.audit.sound

    def _audit_damaged(self, damage: Any) -> None:
        """Damage found while running: stop delivering from the outbox (its rows wait, untouched)."""
        if self.worker is not None and not self.stopping:
            worker, self.worker = self.worker, None
            self._worker_stopping = asyncio.create_task(worker.stop(0), name="onewindow-outbox-stop")

    async def reload(self) -> list[str]:
        """Read the configuration file again and take its callers and offices, without a restart.

        What SIGHUP does (``systemctl reload onewindow``), on each instance: a
        caller's second key, a new caller, an office renamed take effect for
        the next request; requests in flight finish under the callers they
        were authorised as. A configuration that does not pass every check is
        refused whole (:class:`~gateway.errors.ConfigError`, one line) and the
        running one stays. Returns the other sections that differ in the
        file: they need a restart, and the caller logs them.
        """
        source = None if self.settings.source == SAMPLE_SOURCE else self.settings.source
        fresh = load_settings(source)
        problems = list(caller_problems(fresh, self.registry.catalogue))
        if problems:
            raise ConfigError("; ".join(problems))
        restart = sorted(
            name
            for name in set(fresh.raw) | set(self.settings.raw)
            if name not in ("callers", "offices") and fresh.raw.get(name) != self.settings.raw.get(name)
        )
        raw = {**self.settings.raw, "callers": fresh.raw.get("callers", []), "offices": fresh.raw.get("offices", [])}
        updated = dataclasses.replace(self.settings, callers=fresh.callers, offices=fresh.offices, raw=raw)
        self.settings = updated
        self.callers = callers_by_id(updated.callers, updated)
        self.authenticator = self._authenticator()
        self.router.settings = self.router.checks.settings = updated
        self.delivery.settings = self.delivery.transitions.settings = updated
        self.callbacks.secrets = {c.id: c.callback_secret for c in updated.callers}
        self.callbacks.prefixes = {c.id: c.callback_prefixes for c in updated.callers}
        await self.events.emit(
            "configuration.reloaded", source=updated.source, callers=len(updated.callers), offices=len(updated.offices)
        )
        return restart

    def _authenticator(self) -> Authenticator:
        """The methods callers prove who they are by, in the order they are looked for (docs/api.md)."""
        signature = SignatureMethod(
            self.caller_keys,
            self.store,
            self.settings.authentication,
            lambda: self.callers,
            public_url=self.settings.public_url,
        )
        api_key = ApiKeyMethod(self.settings.callers, self.settings)
        methods: list[AuthMethod] = [signature, api_key]
        if self.client_certificates is not None:  # a certificate on the connection is looked at first
            methods.insert(0, self.client_certificates)
        return CallerAuthenticator(methods, events=self.events)

    async def _shutdown_hook(self) -> None:
        await self.delivery.guard.each("onewindow_shutdown", stop_on_fault=False, gateway=self)

    async def stop(self, grace_s: float | None = None) -> None:
        """Stop in reverse order of starting; safe to call twice.

        Outbox work still running gets ``grace_s`` (default from the
        configuration) to finish; what does not finish stays in the outbox.
        """
        self.stopping = True
        self.started = False
        if self.worker is not None:
            worker, self.worker = self.worker, None
            await worker.stop(grace_s)
        if self._worker_stopping is not None:
            await self._worker_stopping
        await self._opened.aclose()
        self.audit = None
        self.sandboxes.clear()

    @property
    def sealer(self) -> Sealer:
        """The sealer results are sealed with (and whose trust bundle ``/v1/verify`` uses)."""
        return self._sealer

    async def _record_attempt(self, attempt: Attempt) -> None:
        """Every call to an agency is an audit event: who, how long, what came of it, retried or not."""
        if attempt.operation == "health":
            return
        await self.events.emit(
            "agency.attempt",
            request_id=attempt.dedupe_key,
            agency=attempt.agency,
            operation=attempt.operation,
            attempt=attempt.number,
            latency_ms=round(attempt.latency_s * 1000, 1),
            outcome=attempt.outcome,
            error=attempt.error,
            will_retry=attempt.will_retry,
        )

    async def _agency_health(self, code: str) -> dict[str, Any]:
        cached = self._health_cache.get(code)
        if cached and time.monotonic() - cached[0] < HEALTH_CACHE_S:
            return cached[1]
        agency = self.registry.agencies[code]
        started = time.monotonic()
        try:
            health = await self.extranet.call(
                code, "health", agency.health, dedupe_key=f"health-{code}", deadline=time.monotonic() + 3.0, retry=False
            )
            report = {"ok": health.ok, "detail": health.detail}
        except Exception as exc:
            report = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
        report["latency_ms"] = round((time.monotonic() - started) * 1000, 1)
        report["breaker"] = str(self.extranet.breaker(code).state)
        self._health_cache[code] = (time.monotonic(), report)
        return report

    async def readiness(self) -> dict[str, Any]:
        """Whether this process can serve, with each dependency's state."""
        try:
            await self.store.ping()
            store = {"ok": True, "backend": self.store.backend, "schema_version": await self.store.schema_version()}
        except StoreError as exc:
            store = {"ok": False, "backend": self.store.backend, "detail": str(exc)}
        codes = sorted(self.registry.agencies)
        reports = await asyncio.gather(*(self._agency_health(code) for code in codes))
        audit = self._audit_readiness()
        plugins = {"ok": not self.pm.failed, "failed": dict(self.pm.failed)}
        # Told, not held against readiness: every other item is served (docs/operations.md).
        seals = {"ok": not self.seal_gaps, "uncovered": [gap.as_json(self.settings.pki_dir) for gap in self.seal_gaps]}
        return {
            "ready": bool(store["ok"] and audit["ok"] and plugins["ok"] and self.started and not self.stopping),
            "store": store,
            "audit": audit,
            "plugins": plugins,
            "seals": seals,
            "agencies": dict(zip(codes, reports, strict=True)),
        }

    def _audit_readiness(self) -> dict[str, Any]:
        """The audit log's state for ``/readyz``: off, sound (checked from which checkpoint), or damaged (where)."""
        if self.audit is None:
            return {"ok": True, "state": "off"}
        if self.audit.damage is not None:
            damage = self.audit.damage
            return {
                "ok": False,
                "state": damage.state,
                **damage.to_dict(),
                "action": f"{damage.remedy}, then every gateway restarts: docs/audit.md",
            }
        checked = self.audit.soundness
        report: dict[str, Any] = {"ok": True, "state": "sound"}
        if checked is not None:
            report.update(checked_from_checkpoint=checked.checkpoint, entries_checked=checked.checked)
        return report


if TYPE_CHECKING:  # mypy proves the gateway and its settings are what the contract promises the hooks

    def _what_hooks_receive(gateway: Gateway, settings: Settings) -> tuple[GatewayView, GatewayConfig]:
        return gateway, settings
