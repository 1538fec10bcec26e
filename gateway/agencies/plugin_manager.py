"""Finding plugins and calling their hooks.

Plugins -- the built-in agencies included -- are found through the
``onewindow`` entry-point group; the core never imports one by name. Hooks
may return awaitables (datasette's convention); :func:`gather_hook`
awaits them so async and sync plugins look the same to the core.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

import pluggy

from gateway import contract
from gateway.config import closest
from gateway.errors import ConfigError, PluginError
from gateway.personal_data.masking import mask_name, mask_text

ENTRY_POINT_GROUP = "onewindow"
_DETAIL_CHARS = 200


class Plugins(pluggy.PluginManager):
    """pluggy's manager, keeping the plugins that could not be loaded: ``failed`` maps each name to why (one line)."""

    def __init__(self) -> None:
        super().__init__(contract.PROJECT)
        self.failed: dict[str, str] = {}


def error_detail(exc: BaseException, personal: Iterable[str | None] = ()) -> str:
    """An exception as one line for an operator: its type and text, cut short.

    ID and phone numbers are masked, and so is each of ``personal`` (the
    applicant's name...) wherever it appears: an exception's text is free text.
    """
    text = mask_text(" ".join(str(exc).split()))
    for value in sorted((v for v in personal if v and len(v) >= 2), key=len, reverse=True):
        text = text.replace(value, mask_name(value))
    text = text if len(text) <= _DETAIL_CHARS else text[:_DETAIL_CHARS] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def plugin_manager(
    *,
    load_entry_points: bool = True,
    extra: Iterable[ModuleType | object] = (),
    disabled: Iterable[str] = (),
    strict: bool = True,
) -> Plugins:
    """A plugin manager with the contract's hookspecs and the installed plugins.

    ``disabled`` names installed plugins (entry-point names) not to load, for
    a district that does not use every agency whose plugin is installed.
    Every plugin is loaded on its own and its hook implementations checked
    against the contract (pluggy's ``check_pending``): one that cannot be
    imported, or implements a hook the contract does not have (a misspelt
    ``onewindow_agencie``), is refused with one line naming it. ``strict``
    raises :class:`PluginError` with every such line; otherwise they are
    kept in :attr:`Plugins.failed` and the other plugins serve.
    """
    pm = Plugins()
    pm.add_hookspecs(contract)
    for name in disabled:
        pm.set_blocked(name)
    if load_entry_points:
        for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
            if pm.is_blocked(point.name) or pm.get_plugin(point.name) is not None or point.name in pm.failed:
                continue
            try:
                plugin = point.load()
            except Exception as exc:
                why = error_detail(exc)
                pm.failed[point.name] = f"plugin {point.name!r} cannot be loaded from {point.value}: {why}"
                continue
            _register(pm, plugin, point.name)
    for plugin in extra:
        _register(pm, plugin, None)
    if strict and pm.failed:
        raise PluginError("; ".join(pm.failed.values()))
    return pm


def _register(pm: Plugins, plugin: object, name: str | None) -> None:
    """Register ``plugin``, refusing it (into ``pm.failed``) when a hook implementation does not fit the contract."""
    label = name or _label(plugin)
    if pm.is_registered(plugin):
        return
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:  # arguments the hook's specification does not have
        pm.failed[label] = f"plugin {label!r}: " + " ".join(str(exc).split())
        return
    try:
        pm.check_pending()
    except pluggy.PluginValidationError:
        unknown = [
            hook
            for hook, caller in sorted(vars(pm.hook).items())
            if isinstance(caller, pluggy.HookCaller)
            and not caller.has_spec()
            and any(impl.plugin is plugin and not impl.optionalhook for impl in caller.get_hookimpls())
        ]
        pm.unregister(plugin)
        hooks = contract_hooks()
        pm.failed[label] = f"plugin {label!r}: " + "; ".join(
            f"unknown hook {hook!r}" + (f" (did you mean {guess}?)" if (guess := closest(hook, hooks)) else "")
            for hook in unknown
        )


def _label(plugin: object) -> str:
    return str(getattr(plugin, "__name__", None) or type(plugin).__name__)


def plugin_name(pm: pluggy.PluginManager, plugin: object) -> str:
    """The name a plugin is known by (its entry-point name, or its module's or class's name)."""
    name = pm.get_name(plugin)
    return name if name and not name.isdigit() else _label(plugin)


async def gather_hook(hook: pluggy.HookCaller, **kwargs: Any) -> list[Any]:
    """Call a hook and await every result that is awaitable."""
    results = []
    for result in hook(**kwargs):
        if inspect.isawaitable(result):
            result = await result
        results.append(result)
    return results


def hook_results_by_plugin(
    pm: pluggy.PluginManager,
    hook_name: str,
    *,
    refused: list[str] | None = None,
    failed: dict[str, str] | None = None,
    **kwargs: Any,
) -> list[tuple[str, Any]]:
    """Call a synchronous hook one plugin at a time, keeping who answered what.

    Used for registration hooks, so an error message can name the plugin.
    With ``refused``, a plugin whose hook raises :class:`ConfigError` (the
    configuration lacks something it reads, such as its agency's identity)
    is left out and the message appended, so every such mistake is told at once.
    Any other exception, or a result that is no list, is a :class:`PluginError`
    naming the plugin -- or, with ``failed``, recorded there and the plugin left out.
    """
    caller = getattr(pm.hook, hook_name)
    out = []
    for impl in reversed(caller.get_hookimpls()):
        name = plugin_name(pm, impl.plugin)
        try:
            result = impl.function(**{k: kwargs[k] for k in impl.argnames})
        except ConfigError as exc:
            if refused is None:
                raise
            refused.append(str(exc))
            continue
        except Exception as exc:  # a bug in the plugin: one line naming it, not a traceback
            fault = f"plugin {name!r}: {hook_name} raised {error_detail(exc)}"
            if failed is None:
                raise PluginError(fault) from None
            failed[name] = fault
            continue
        if result is None:
            continue
        if not isinstance(result, list | tuple):
            fault = f"plugin {name!r}: {hook_name} returned {type(result).__name__}, expected a list"
            if failed is None:
                raise PluginError(fault)
            failed[name] = fault
            continue
        out.append((name, result))
    return out


def contract_hooks() -> list[str]:
    """The names of every hook in the contract."""
    return sorted(name for name, value in vars(contract).items() if hasattr(value, f"{contract.PROJECT}_spec"))


documented_hooks = contract_hooks  # the name the documentation test uses
