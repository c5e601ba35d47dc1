"""The plugin manager: finds plugins through the ``tendero`` entry-point group.

Built-in plugins (``core``, the three channels, ``exporters``, ``web``) are found exactly
like third-party ones: each distribution declares an entry point in that group.
Tests pass an explicit allow-list of entry-point names so whatever else happens to be
installed does not leak in.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import pluggy
import structlog

from tendero import PROJECT_NAME, hookspecs

ENTRY_POINT_GROUP = "tendero"
TRACE_ENV = "TENDERO_TRACE_HOOKS"

log = structlog.get_logger(__name__)


@dataclass
class PluginInfo:
    """What ``tendero plugins`` prints for one plugin."""

    name: str
    distribution: str
    version: str
    module: str
    hooks: list[str] = field(default_factory=list)


def _entry_points() -> list[EntryPoint]:
    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def create_plugin_manager(
    allow: Iterable[str] | None = None,
    extra: Iterable[object] = (),
    *,
    trace: bool | None = None,
) -> pluggy.PluginManager:
    """Build a plugin manager with the hook specs and the installed plugins.

    ``allow``: entry-point names to load (``None`` loads every installed plugin).
    ``extra``: plugin objects or modules to register directly (tests, embedding apps).
    ``trace``: print every hook call to stderr; defaults to the ``TENDERO_TRACE_HOOKS``
    environment variable.
    """
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    allowed = None if allow is None else set(allow)
    for ep in _entry_points():
        if allowed is not None and ep.name not in allowed:
            continue
        if pm.has_plugin(ep.name):
            continue
        plugin = ep.load()
        pm.register(plugin, name=ep.name)
        dist = ep.dist
        pm._tendero_dists = getattr(pm, "_tendero_dists", {})  # type: ignore[attr-defined]
        pm._tendero_dists[ep.name] = (  # type: ignore[attr-defined]
            (dist.name, dist.version) if dist is not None else ("?", "?")
        )
    if allowed is not None:
        missing = allowed - {name for name, _ in pm.list_name_plugin()}
        if missing:
            raise LookupError(f"plugins not installed: {', '.join(sorted(missing))}")
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()
    if trace if trace is not None else os.environ.get(TRACE_ENV, "") not in ("", "0", "false"):
        enable_tracing(pm)
    return pm


def enable_tracing(pm: pluggy.PluginManager, stream: Any = None) -> None:
    """Write one line per hook call and result to ``stream`` (stderr by default)."""
    out = stream or sys.stderr

    def before(hook_name: str, impls: list[pluggy.HookImpl], kwargs: dict[str, Any]) -> None:
        names = ", ".join(impl.plugin_name for impl in impls)
        print(f"[hook] {hook_name}({', '.join(kwargs)}) -> [{names}]", file=out)

    def after(outcome: Any, hook_name: str, impls: Any, kwargs: Any) -> None:
        exc = outcome.exception
        result = f"raised {exc!r}" if exc else f"returned {outcome.get_result()!r:.200}"
        print(f"[hook] {hook_name} {result}", file=out)

    pm.add_hookcall_monitoring(before, after)


def describe_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """Each registered plugin with its distribution, version and implemented hooks."""
    dists: dict[str, tuple[str, str]] = getattr(pm, "_tendero_dists", {})
    infos = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        dist, version = dists.get(name, ("(registered directly)", ""))
        module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__qualname__
        hooks = sorted(impl_hook.name for impl_hook in pm.get_hookcallers(plugin) or [])
        infos.append(PluginInfo(name, dist, version, module, hooks))
    return sorted(infos, key=lambda i: i.name)


async def resolve(value: Any) -> Any:
    """Await ``value`` when it is awaitable, else return it as it is."""
    if inspect.isawaitable(value):
        return await value
    return value


async def call_hook(pm: pluggy.PluginManager, name: str, **kwargs: Any) -> list[Any]:
    """Call an all-results hook and await any awaitable answers, keeping their order."""
    results = getattr(pm.hook, name)(**kwargs)
    return [await resolve(r) for r in results]


async def call_firstresult(pm: pluggy.PluginManager, name: str, **kwargs: Any) -> Any:
    """Call a *firstresult* hook and await the answer when it is awaitable.

    Pluggy stops at the first non-``None`` value, and a coroutine is not ``None``: an
    async implementation that resolves to ``None`` therefore does not pass the call on.
    So this walks the implementations itself, awaiting each, until one gives a value.
    """
    hook = getattr(pm.hook, name)
    for impl in reversed(hook.get_hookimpls()):
        args = {k: kwargs[k] for k in impl.argnames if k in kwargs}
        value = await resolve(impl.function(**args))
        if value is not None:
            return value
    return None


async def notify(pm: pluggy.PluginManager, name: str, **kwargs: Any) -> None:
    """Call a notification hook; one failing plugin is logged and does not stop others."""
    hook = getattr(pm.hook, name)
    for impl in reversed(hook.get_hookimpls()):
        args = {k: kwargs[k] for k in impl.argnames if k in kwargs}
        try:
            await resolve(impl.function(**args))
        except Exception:
            log.exception("plugin hook failed", hook=name, plugin=impl.plugin_name)


def flatten(results: Iterable[Any]) -> list[Any]:
    """Flatten ``register_*`` answers (each a list, a single object or ``None``)."""
    out: list[Any] = []
    for r in results:
        if r is None:
            continue
        if isinstance(r, list | tuple):
            out.extend(x for x in r if x is not None)
        else:
            out.append(r)
    return out
