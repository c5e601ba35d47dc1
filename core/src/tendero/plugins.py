"""The plugin host: finds plugins through the ``tendero`` entry-point group and calls them.

Built-in plugins (``core``, the three channels, ``exporters``, ``web``) are found exactly
like third-party ones: each distribution declares an entry point in that group. Tests
pass an explicit allow-list of entry-point names so whatever else happens to be installed
does not leak in.

Calling hooks from async code goes through three helpers, because pluggy itself does not
await anything: :func:`call_hook` (all results), :func:`call_firstresult` and
:func:`notify`. Each walks the implementations in pluggy's order and awaits every answer
that is awaitable, so a plugin may write its implementations sync or async.

Set ``TENDERO_TRACE_HOOKS=1`` to print every hook call, each implementation's answer and
the time it took to stderr.
"""

from __future__ import annotations

import inspect
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any, TextIO

import pluggy
import structlog

from tendero import PROJECT_NAME, hookspecs
from tendero.errors import TenderoError

ENTRY_POINT_GROUP = "tendero"
TRACE_ENV = "TENDERO_TRACE_HOOKS"
DIRECT = "(registered directly)"

log = structlog.get_logger(__name__)


class PluginLoadError(TenderoError):
    """A plugin could not be imported or registered; the message names the plugin,
    its entry point and its distribution. The original exception is the ``__cause__``."""


@dataclass(frozen=True)
class PluginSource:
    """Where a plugin came from: its entry point and the distribution that declares it."""

    entry_point: str  # "exporters = tendero_exporters.plugin"
    distribution: str
    version: str

    @classmethod
    def of(cls, ep: EntryPoint) -> PluginSource:
        dist = ep.dist
        name = dist.name if dist is not None else "(unknown distribution)"
        version = dist.version if dist is not None else ""
        return cls(f"{ep.name} = {ep.value}", name, version)

    def describe(self) -> str:
        version = f" {self.version}" if self.version else ""
        return f"entry point '{self.entry_point}' of distribution '{self.distribution}{version}'"


@dataclass
class PluginInfo:
    """What ``tendero plugins`` prints for one plugin."""

    name: str
    distribution: str
    version: str
    module: str
    hooks: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class HookTracer:
    """Writes one line per hook call and one per implementation's answer."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def _write(self, line: str) -> None:
        print(f"[tendero.hook] {line}", file=self.stream or sys.stderr, flush=True)

    def call(self, hook: str, kwargs: dict[str, Any], plugins: list[str], how: str) -> None:
        args = ", ".join(kwargs)
        self._write(f"{hook}({args}) [{how}] -> {', '.join(plugins) or '(no implementations)'}")

    def answer(self, hook: str, plugin: str, value: Any, started: float) -> None:
        ms = (time.perf_counter() - started) * 1000
        self._write(f"  {hook} <- {plugin}: {_short(value)} ({ms:.1f} ms)")

    def error(self, hook: str, plugin: str, exc: BaseException, started: float) -> None:
        ms = (time.perf_counter() - started) * 1000
        self._write(f"  {hook} <- {plugin}: raised {exc!r} ({ms:.1f} ms)")

    def outcome(self, hook: str, outcome: Any) -> None:
        """The result of a direct ``pm.hook.<name>()`` call (pluggy's monitoring)."""
        exc = outcome.exception
        result = f"raised {exc!r}" if exc is not None else _short(outcome.get_result())
        self._write(f"  {hook} returned {result}")


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class TenderoPluginManager(pluggy.PluginManager):
    """A pluggy manager with Tendero's hook specs that remembers where each plugin came
    from (entry point, distribution, version) and can trace hook calls."""

    def __init__(self) -> None:
        super().__init__(PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self._sources: dict[str, PluginSource] = {}
        self.tracer: HookTracer | None = None

    # --- loading ----------------------------------------------------------------------

    def load_entry_points(
        self, eps: Iterable[EntryPoint], allow: Iterable[str] | None = None
    ) -> list[str]:
        """Import and register the plugins of ``eps`` (all, or only the ``allow`` names).

        Raises :class:`LookupError` when an allowed name has no entry point and
        :class:`PluginLoadError` when a plugin fails to import or register, or when two
        distributions declare the same name.
        """
        by_name: dict[str, EntryPoint] = {}
        for ep in eps:
            if ep.name in by_name and by_name[ep.name].value != ep.value:
                first, second = PluginSource.of(by_name[ep.name]), PluginSource.of(ep)
                raise PluginLoadError(
                    f"two plugins are named '{ep.name}': {first.describe()} and "
                    f"{second.describe()}; uninstall one of them"
                )
            by_name.setdefault(ep.name, ep)
        names = sorted(by_name) if allow is None else list(dict.fromkeys(allow))
        missing = [n for n in names if n not in by_name]
        if missing:
            known = ", ".join(sorted(by_name)) or "none"
            raise LookupError(f"plugins not installed: {', '.join(missing)} (installed: {known})")
        loaded = []
        for name in names:
            if self.has_plugin(name):
                continue
            self.load_entry_point(by_name[name])
            loaded.append(name)
        return loaded

    def load_entry_point(self, ep: EntryPoint) -> object:
        """Import one entry point and register it under the entry point's name."""
        source = PluginSource.of(ep)
        try:
            plugin = ep.load()
        except Exception as exc:
            raise PluginLoadError(
                f"plugin '{ep.name}' failed to load ({source.describe()}): "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        self.register_plugin(plugin, name=ep.name, source=source)
        return plugin

    def register_plugin(
        self, plugin: object, name: str | None = None, source: PluginSource | None = None
    ) -> str:
        """Register ``plugin`` (a module, class or instance) and remember its source.

        Raises :class:`PluginLoadError` when pluggy rejects it (e.g. an implementation
        asks for an argument its hook spec does not have).
        """
        label = name or getattr(plugin, "__name__", None) or type(plugin).__qualname__
        where = f" ({source.describe()})" if source else ""
        try:
            registered = self.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            raise PluginLoadError(f"plugin '{label}' was rejected{where}: {exc}") from exc
        if registered is None:  # pluggy answers None for a blocked name
            raise PluginLoadError(f"plugin '{label}' is blocked{where}")
        if source is not None:
            self._sources[registered] = source
        return registered

    def check_pending(self) -> None:
        """Fail clearly when a plugin implements a hook Tendero does not define."""
        try:
            super().check_pending()
        except pluggy.PluginValidationError as exc:
            plugin_name = self.get_name(exc.plugin) or repr(exc.plugin)
            source = self._sources.get(plugin_name)
            where = f" ({source.describe()})" if source else ""
            raise PluginLoadError(f"plugin '{plugin_name}'{where}: {exc}") from exc

    def source_of(self, name: str) -> PluginSource | None:
        """The entry point and distribution of plugin ``name`` (``None`` if registered
        directly, e.g. through ``create_plugin_manager(extra=...)``)."""
        return self._sources.get(name)

    def unregister(self, plugin: Any = None, name: str | None = None) -> Any:
        if name is None and plugin is not None:
            name = self.get_name(plugin)
        removed = super().unregister(plugin, name)
        if name is not None:
            self._sources.pop(name, None)
        return removed

    # --- tracing ------------------------------------------------------------------------

    def enable_tracing(self, stream: TextIO | None = None) -> None:
        """Trace every hook call to ``stream`` (stderr by default).

        Covers both ways hooks are called: the async helpers of this module, which walk
        implementations themselves, and direct synchronous ``pm.hook.<name>()`` calls
        (through pluggy's call monitoring).
        """
        if self.tracer is not None:
            self.tracer.stream = stream
            return
        tracer = self.tracer = HookTracer(stream)

        def before(hook_name: str, impls: list[pluggy.HookImpl], kwargs: dict[str, Any]) -> None:
            plugins = [impl.plugin_name for impl in reversed(impls)]
            tracer.call(hook_name, kwargs, plugins, "sync")

        def after(outcome: Any, hook_name: str, impls: Any, kwargs: Any) -> None:
            tracer.outcome(hook_name, outcome)

        self.add_hookcall_monitoring(before, after)


def _trace_enabled_by_env() -> bool:
    return os.environ.get(TRACE_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def create_plugin_manager(
    allow: Iterable[str] | None = None,
    extra: Iterable[object] = (),
    *,
    trace: bool | None = None,
    trace_stream: TextIO | None = None,
    eps: Iterable[EntryPoint] | None = None,
) -> TenderoPluginManager:
    """Build a plugin manager with the hook specs and the installed plugins.

    ``allow``: entry-point names to load (``None`` loads every installed plugin); a name
    that is not installed raises :class:`LookupError`.
    ``extra``: plugin objects or modules to register directly after the installed ones
    (tests, embedding apps); being registered later, they are called first.
    ``trace``: trace hook calls; ``None`` follows the ``TENDERO_TRACE_HOOKS`` variable.
    ``eps``: the entry points to consider (default: the installed ``tendero`` group).
    A plugin that fails to import raises :class:`PluginLoadError`.
    """
    pm = TenderoPluginManager()
    found = entry_points(group=ENTRY_POINT_GROUP) if eps is None else eps
    pm.load_entry_points(sorted(found, key=lambda ep: ep.name), allow)
    for plugin in extra:
        pm.register_plugin(plugin)
    pm.check_pending()
    if trace if trace is not None else _trace_enabled_by_env():
        pm.enable_tracing(trace_stream)
    return pm


def enable_tracing(pm: pluggy.PluginManager, stream: TextIO | None = None) -> None:
    """Trace every hook call of ``pm`` to ``stream`` (stderr by default)."""
    if not isinstance(pm, TenderoPluginManager):
        raise TypeError("tracing needs a TenderoPluginManager (create_plugin_manager)")
    pm.enable_tracing(stream)


def describe_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """Each registered plugin with its distribution, version and implemented hooks."""
    infos = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # a blocked name
            continue
        source = pm.source_of(name) if isinstance(pm, TenderoPluginManager) else None
        dist, version = (source.distribution, source.version) if source else (DIRECT, "")
        module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__qualname__
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
        infos.append(PluginInfo(name, dist, version, module, hooks))
    return sorted(infos, key=lambda i: i.name)


# --- calling hooks from async code -------------------------------------------------------


async def resolve(value: Any) -> Any:
    """Await ``value`` when it is awaitable, else return it as it is."""
    if inspect.isawaitable(value):
        return await value
    return value


def _implementations(pm: pluggy.PluginManager, name: str) -> list[pluggy.HookImpl]:
    """The implementations of hook ``name`` in calling order (later registered first,
    ``tryfirst``/``trylast`` respected). Wrappers are not supported by the helpers."""
    hook = getattr(pm.hook, name, None)
    if hook is None:
        raise AttributeError(f"no hook named {name!r}")
    impls = list(reversed(hook.get_hookimpls()))
    for impl in impls:
        if impl.hookwrapper or impl.wrapper:
            raise TypeError(
                f"plugin '{impl.plugin_name}' wraps hook {name!r}; wrappers are not "
                "supported for async hooks"
            )
    return impls


def _arguments(impl: pluggy.HookImpl, name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    try:
        return {arg: kwargs[arg] for arg in impl.argnames}
    except KeyError as missing:
        raise pluggy.HookCallError(
            f"hook {name!r} called without argument {missing} that plugin "
            f"'{impl.plugin_name}' needs"
        ) from None


def _tracer(pm: pluggy.PluginManager) -> HookTracer | None:
    return pm.tracer if isinstance(pm, TenderoPluginManager) else None


async def _run(
    pm: pluggy.PluginManager, name: str, kwargs: dict[str, Any], how: str, *, stop: bool
) -> list[Any]:
    """Call each implementation, awaiting its answer; keep the non-``None`` answers.

    With ``stop``, return as soon as one answer is not ``None``."""
    impls = _implementations(pm, name)
    tracer = _tracer(pm)
    if tracer:
        tracer.call(name, kwargs, [impl.plugin_name for impl in impls], how)
    answers = []
    for impl in impls:
        started = time.perf_counter()
        try:
            value = await resolve(impl.function(**_arguments(impl, name, kwargs)))
        except Exception as exc:
            if tracer:
                tracer.error(name, impl.plugin_name, exc, started)
            raise
        if tracer:
            tracer.answer(name, impl.plugin_name, value, started)
        if value is not None:
            answers.append(value)
            if stop:
                break
    return answers


async def call_hook(pm: pluggy.PluginManager, name: str, **kwargs: Any) -> list[Any]:
    """Call an all-results hook: every implementation, awaited in calling order.

    Returns the answers that are not ``None`` (an async implementation resolving to
    ``None`` is dropped too, as pluggy does for sync ones). An exception propagates.
    """
    return await _run(pm, name, kwargs, "all results", stop=False)


async def call_firstresult(pm: pluggy.PluginManager, name: str, **kwargs: Any) -> Any:
    """Call a *firstresult* hook: the first answer that is not ``None``, or ``None``.

    Pluggy alone would stop at the first coroutine (a coroutine is not ``None``), so an
    async implementation that resolves to ``None`` could not pass the call on; this walks
    the implementations itself and awaits each before deciding.
    """
    answers = await _run(pm, name, kwargs, "first result", stop=True)
    return answers[0] if answers else None


async def notify(pm: pluggy.PluginManager, name: str, **kwargs: Any) -> None:
    """Call a notification hook: every implementation runs; one that raises is logged
    (with its plugin's name) and does not stop the others."""
    impls = _implementations(pm, name)
    tracer = _tracer(pm)
    if tracer:
        tracer.call(name, kwargs, [impl.plugin_name for impl in impls], "notify")
    for impl in impls:
        started = time.perf_counter()
        try:
            value = await resolve(impl.function(**_arguments(impl, name, kwargs)))
        except Exception as exc:
            log.exception("plugin hook failed", hook=name, plugin=impl.plugin_name)
            if tracer:
                tracer.error(name, impl.plugin_name, exc, started)
            continue
        if tracer:
            tracer.answer(name, impl.plugin_name, value, started)


def flatten(results: Iterable[Any]) -> list[Any]:
    """Flatten ``register_*`` answers (each a list, a tuple, a single object or ``None``)."""
    out: list[Any] = []
    for r in results:
        if r is None:
            continue
        if isinstance(r, list | tuple):
            out.extend(x for x in r if x is not None)
        else:
            out.append(r)
    return out
