"""Finding plugins and calling their hooks.

Plugins -- the built-in agencies included -- are found through the
``onewindow`` entry-point group; the core never imports one by name. Hooks
may return awaitables (datasette's convention); :func:`gather_hook`
awaits them so async and sync plugins look the same to the core.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from types import ModuleType
from typing import Any

import pluggy

from gateway import contract
from gateway.errors import ConfigError

ENTRY_POINT_GROUP = "onewindow"


def plugin_manager(
    *,
    load_entry_points: bool = True,
    extra: Iterable[ModuleType | object] = (),
    disabled: Iterable[str] = (),
) -> pluggy.PluginManager:
    """A plugin manager with the contract's hookspecs and the installed plugins.

    ``disabled`` names installed plugins (entry-point names) not to load, for
    a district that does not use every agency whose plugin is installed.
    """
    pm = pluggy.PluginManager(contract.PROJECT)
    pm.add_hookspecs(contract)
    for name in disabled:
        pm.set_blocked(name)
    if load_entry_points:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in extra:
        pm.register(plugin)
    return pm


def plugin_name(pm: pluggy.PluginManager, plugin: object) -> str:
    """The name a plugin is known by (its entry-point name when it has one)."""
    return pm.get_name(plugin) or str(getattr(plugin, "__name__", repr(plugin)))


async def gather_hook(hook: pluggy.HookCaller, **kwargs: Any) -> list[Any]:
    """Call a hook and await every result that is awaitable."""
    results = []
    for result in hook(**kwargs):
        if inspect.isawaitable(result):
            result = await result
        results.append(result)
    return results


def hook_results_by_plugin(
    pm: pluggy.PluginManager, hook_name: str, *, refused: list[str] | None = None, **kwargs: Any
) -> list[tuple[str, Any]]:
    """Call a synchronous hook one plugin at a time, keeping who answered what.

    Used for registration hooks, so an error message can name the plugin.
    With ``refused``, a plugin whose hook raises :class:`ConfigError` (the
    configuration lacks something it reads, such as its agency's identity)
    is left out and the message appended, so every such mistake is told at once.
    """
    caller = getattr(pm.hook, hook_name)
    out = []
    for impl in reversed(caller.get_hookimpls()):
        try:
            result = impl.function(**{k: kwargs[k] for k in impl.argnames})
        except ConfigError as exc:
            if refused is None:
                raise
            refused.append(str(exc))
            continue
        if result is not None:
            out.append((plugin_name(pm, impl.plugin), result))
    return out


def documented_hooks() -> list[str]:
    """The names of every hook in the contract."""
    return sorted(name for name, value in vars(contract).items() if hasattr(value, f"{contract.PROJECT}_spec"))
