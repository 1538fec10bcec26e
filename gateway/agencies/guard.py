"""The hook boundary: every call into a plugin at run time, guarded, timed and named.

The core trusts no plugin blindly. Each hook implementation is called on
its own (pluggy's ``get_hookimpls()``), so a hook that raises or returns the
wrong thing is named -- ``plugin 'civil_affairs': onewindow_validate
returned str, expected a list of Problem`` -- instead of surfacing as a bare
500, and one plugin's faulty hook never breaks requests for other agencies'
items. A call that holds the event loop longer than ``[plugins]
block_threshold_ms`` is logged with the plugin's name and counted: one slow
synchronous call stalls every request this process serves. The time is the
plugin's own (:mod:`gateway.agencies.loop_clock`): moments the loop's thread
waited for a CPU on a busy host are not put down to the plugin.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import pluggy

from gateway.agencies.loop_clock import held_s, mark
from gateway.agencies.plugin_manager import error_detail, plugin_name
from gateway.catalogue.items import Item
from gateway.contract import Completed, IntakeRequest, Pending, Problem, Rejected
from gateway.errors import PluginFault
from gateway.observability.logs import get_logger

T = TypeVar("T")
DEFAULT_BLOCK_THRESHOLD_S = 0.1
VALIDATE = "onewindow_validate"


@dataclass(frozen=True)
class LoopHold:
    """One call into a plugin that held the event loop for ``seconds`` without a pause."""

    plugin: str
    hook: str
    seconds: float

    def __str__(self) -> str:
        return f"plugin {self.plugin!r}: {self.hook} held the event loop for {self.seconds * 1000:.0f} ms"


def type_name(value: object) -> str:
    return "None" if value is None else type(value).__name__


class PluginWatch:
    """Times plugin calls against the blocking threshold and names faults; observers count both."""

    def __init__(self, threshold_s: float = DEFAULT_BLOCK_THRESHOLD_S) -> None:
        self.threshold_s = threshold_s
        self.on_hold: list[Callable[[LoopHold], None]] = []
        self.on_fault: list[Callable[[PluginFault], None]] = []
        self.log = get_logger(component="plugins")

    def held(self, plugin: str, hook: str, seconds: float) -> None:
        """Report a call that held the loop ``seconds`` at most at a stretch, if that is over the threshold."""
        if seconds < self.threshold_s:
            return
        hold = LoopHold(plugin, hook, seconds)
        self.log.warning(
            "plugin.loop_blocked",
            plugin=plugin,
            hook=hook,
            held_ms=round(seconds * 1000, 1),
            threshold_ms=round(self.threshold_s * 1000, 1),
            advice="await I/O through call.session, move CPU work to a thread (asyncio.to_thread)",
        )
        for observer in self.on_hold:
            observer(hold)

    def fault(
        self,
        plugin: str,
        hook: str,
        what: str,
        exc: BaseException | None = None,
        request: IntakeRequest | None = None,
    ) -> PluginFault:
        """The one-line fault ``plugin {plugin!r}: {hook} {what}``, logged (with the masked error text) and counted.

        The error text is masked of ``request``'s applicant (name, ID, phone) too: it may repeat them.
        """
        fault = PluginFault(f"plugin {plugin!r}: {hook} {what}", plugin=plugin, hook=hook)
        personal = (request.applicant.name, request.applicant.id_number, request.applicant.phone) if request else ()
        detail = error_detail(exc, personal) if exc else None
        self.log.error("plugin.fault", plugin=plugin, hook=hook, fault=str(fault), error=detail)
        for observer in self.on_fault:
            observer(fault)
        return fault

    def timed(self, awaitable: Awaitable[T], plugin: str, hook: str) -> Awaitable[T]:
        """``awaitable``, its longest stretch between two pauses reported to :meth:`held`."""
        return _Stepped(awaitable, self.threshold_s, lambda longest: self.held(plugin, hook, longest))

    async def call(self, plugin: str, hook: str, function: Callable[..., Any], **kwargs: Any) -> Any:
        """Call a plugin's function (awaiting what it returns), timed; any exception becomes a named fault."""
        started = mark()
        try:
            try:
                result = function(**kwargs)
            finally:
                self.held(plugin, hook, held_s(started, self.threshold_s))
            if inspect.isawaitable(result):
                result = await self.timed(result, plugin, hook)
        except Exception as exc:
            request = kwargs.get("request")
            told = request if isinstance(request, IntakeRequest) else None
            raise self.fault(plugin, hook, f"raised {type(exc).__name__}", exc, told) from exc
        return result


class _Stepped:
    """Drives an awaitable step by step, timing each step (what the event loop cannot do meanwhile)."""

    __slots__ = ("_awaitable", "_report", "_threshold_s")

    def __init__(self, awaitable: Awaitable[Any], threshold_s: float, report: Callable[[float], None]) -> None:
        self._awaitable = awaitable
        self._threshold_s = threshold_s
        self._report = report

    def __await__(self) -> Generator[Any, Any, Any]:
        steps = self._awaitable.__await__()
        longest = 0.0
        value: Any = None
        error: BaseException | None = None
        try:
            while True:
                started = mark()
                try:
                    yielded = steps.send(value) if error is None else steps.throw(error)
                except StopIteration as stop:
                    return stop.value
                finally:
                    longest = max(longest, held_s(started, self._threshold_s))
                value, error = None, None
                try:
                    value = yield yielded
                except GeneratorExit:
                    close = getattr(steps, "close", None)
                    if close is not None:
                        close()
                    raise
                except BaseException as exc:  # cancellation and the like go to the plugin's code, as awaiting would
                    error = exc
        finally:
            self._report(longest)


OUTCOMES = (Completed, Pending, Rejected)


def check_outcome(watch: PluginWatch, plugin: str, hook: str, outcome: object) -> None:
    """Raise a named fault unless an adapter returned an outcome of the contract."""
    if not isinstance(outcome, OUTCOMES):
        raise watch.fault(plugin, hook, f"returned {type_name(outcome)}, expected Completed, Pending or Rejected")


class HookGuard:
    """Calls the plugins' hooks one implementation at a time, naming the one at fault.

    ``owners`` maps each agency code to the plugin that registers it
    (:attr:`gateway.agencies.installed.Registry.plugin_of`).
    """

    def __init__(
        self, pm: pluggy.PluginManager, *, owners: Mapping[str, str] | None = None, watch: PluginWatch | None = None
    ) -> None:
        self.pm = pm
        self.owners = dict(owners or {})
        self.watch = watch or PluginWatch()

    def _impls(self, hook: str) -> list[Any]:
        return list(reversed(getattr(self.pm.hook, hook).get_hookimpls()))  # pluggy's order: last registered first

    async def _call(self, impl: Any, hook: str, kwargs: Mapping[str, Any]) -> Any:
        plugin = plugin_name(self.pm, impl.plugin)
        return await self.watch.call(plugin, hook, impl.function, **{k: kwargs[k] for k in impl.argnames})

    async def each(self, hook: str, *, stop_on_fault: bool, only: str | None = None, **kwargs: Any) -> None:
        """Call each implementation of ``hook`` (``only`` one plugin's); faults logged, raised on ``stop_on_fault``."""
        for impl in self._impls(hook):
            if only is not None and plugin_name(self.pm, impl.plugin) != only:
                continue
            try:
                await self._call(impl, hook, kwargs)
            except PluginFault:
                if stop_on_fault:
                    raise

    async def validate(self, item: Item, request: IntakeRequest) -> list[Problem]:
        """Every plugin's extra problems with ``request``; raises :class:`PluginFault` for the item's own plugin.

        A plugin answers for the items of the agencies it registers; a plugin
        registering none (a district's own rules) answers for every item. A
        fault of a plugin that does not answer for ``item`` -- raising, a
        wrong type, or problems for an item of another agency -- is logged
        and counted, and the request goes on without it.
        """
        owner = self.owners.get(item.agency)
        agency_plugins = set(self.owners.values())
        found: list[Problem] = []
        for impl in self._impls(VALIDATE):
            plugin = plugin_name(self.pm, impl.plugin)
            try:
                found.extend(await self._validate_one(impl, item, request))
            except PluginFault:
                if plugin == owner or plugin not in agency_plugins:
                    raise
        return found

    async def validate_by(self, plugin: str, item: Item, request: IntakeRequest) -> list[Problem]:
        """Only ``plugin``'s problems with ``request``, every fault raised (what the contract kit checks)."""
        found: list[Problem] = []
        for impl in self._impls(VALIDATE):
            if plugin_name(self.pm, impl.plugin) == plugin:
                found.extend(await self._validate_one(impl, item, request))
        return found

    async def _validate_one(self, impl: Any, item: Item, request: IntakeRequest) -> list[Problem]:
        plugin = plugin_name(self.pm, impl.plugin)
        problems = self._problems(plugin, await self._call(impl, VALIDATE, {"item": item, "request": request}))
        owner = self.owners.get(item.agency)
        if problems and plugin != owner and plugin in set(self.owners.values()):
            raise self.watch.fault(
                plugin,
                VALIDATE,
                f"returned problems for {item.code}, an item of agency {item.agency!r} (plugin {owner!r}); "
                "check item.agency and return [] for other agencies' items",
            )
        return problems

    def _problems(self, plugin: str, result: object) -> list[Problem]:
        if result is None:
            return []
        if not isinstance(result, list | tuple):
            raise self.watch.fault(plugin, VALIDATE, f"returned {type_name(result)}, expected a list of Problem")
        wrong = [value for value in result if not isinstance(value, Problem)]
        if wrong:
            raise self.watch.fault(
                plugin, VALIDATE, f"returned a list holding {type_name(wrong[0])}, expected a list of Problem"
            )
        return list(result)
