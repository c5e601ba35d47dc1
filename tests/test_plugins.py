"""The plugin host: discovery, allow-list, calling conventions, tracing, `tendero plugins`."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tendero.channels import Button, Channel, ListRow, OutboundMessage, collect_channels
from tendero.errors import NotFound
from tendero.exporting import collect_exporters, pick_exporter
from tendero.plugins import (
    PluginLoadError,
    call_firstresult,
    call_hook,
    create_plugin_manager,
    describe_plugins,
    flatten,
    notify,
)
from tendero.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = Path(__file__).resolve().parent / "plugins"
TENDERO_BIN = Path(sys.executable).parent / "tendero"
BUILTINS = {"core", "notifications", "whatsapp", "facebook", "instagram", "exporters", "web"}


@pytest.fixture(autouse=True)
def samples_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(SAMPLES))
    monkeypatch.delenv("TENDERO_TRACE_HOOKS", raising=False)


def install_distribution(site: Path, name: str, version: str, entry_points: dict[str, str]) -> None:
    """Write a ``*.dist-info`` folder into ``site`` (on ``sys.path``): to importlib.metadata
    that is an installed distribution declaring ``entry_points`` in the ``tendero`` group."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = "".join(f"{ep} = {target}\n" for ep, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[tendero]\n{lines}")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENDERO_")}
    return env | {"COLUMNS": "200", "NO_COLOR": "1"} | extra


# --- discovery and the allow-list ----------------------------------------------------------


def test_every_builtin_is_found_through_the_entry_point_group() -> None:
    infos = {info.name: info for info in describe_plugins(create_plugin_manager(allow=BUILTINS))}
    assert set(infos) == BUILTINS
    assert infos["core"].distribution == "tendero"
    assert infos["exporters"].distribution == "tendero-exporters"
    assert infos["exporters"].version == "0.1.0"
    assert infos["exporters"].hooks == ["register_exporters"]
    assert infos["whatsapp"].hooks == ["register_channels"]
    assert infos["web"].hooks == ["order_created", "register_routes"]
    assert infos["notifications"].distribution == "tendero"
    assert infos["notifications"].hooks == [
        "conversation_needs_human",
        "order_created",
        "order_status_changed",
        "payment_status_changed",
        "shutdown",
        "startup",
    ]


def test_allow_list_loads_only_the_named_plugins() -> None:
    pm = create_plugin_manager(allow=["core", "exporters"])
    assert {name for name, _ in pm.list_name_plugin()} == {"core", "exporters"}


def test_unknown_plugin_name_raises_lookup_error() -> None:
    with pytest.raises(LookupError, match="no-such-plugin"):
        create_plugin_manager(allow=["core", "no-such-plugin"])


def test_third_party_plugin_via_extra_adds_an_exporter() -> None:
    import tendero_sample_exporter

    pm = create_plugin_manager(allow=["exporters"], extra=[tendero_sample_exporter])
    names = [e.name for e in flatten(pm.hook.register_exporters())]
    assert sorted(names) == ["csv", "json", "tsv", "xlsx"]
    info = {i.name: i for i in describe_plugins(pm)}["tendero_sample_exporter"]
    assert info.distribution == "(registered directly)"
    assert info.hooks == ["register_exporters"]


async def test_third_party_exporter_streams_through_the_interface() -> None:
    import tendero_sample_exporter

    pm = create_plugin_manager(allow=[], extra=[tendero_sample_exporter])
    exporters = await collect_exporters(pm)
    assert list(exporters) == ["tsv"]
    with pytest.raises(NotFound, match="available: tsv"):
        pick_exporter(exporters, "pdf")

    async def orders():
        for number in (1, 2):
            yield {"number": number, "total": "10.00"}

    out = io.BytesIO()
    assert await pick_exporter(exporters, "tsv").write(orders(), "orders", out) == 2
    assert out.getvalue() == b"1\t10.00\n2\t10.00\n"


def test_installed_third_party_distribution_is_discovered_with_its_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_distribution(
        tmp_path, "tendero-sample-tsv", "2.3.4", {"tsv": "tendero_sample_exporter"}
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    pm = create_plugin_manager(allow=["tsv", "exporters"])
    info = {i.name: i for i in describe_plugins(pm)}["tsv"]
    assert (info.distribution, info.version) == ("tendero-sample-tsv", "2.3.4")
    assert "tsv" in [e.name for e in flatten(pm.hook.register_exporters())]


def test_import_failure_names_the_entry_point_and_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_distribution(
        tmp_path, "tendero-sample-broken", "0.9", {"broken": "tendero_sample_broken"}
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginLoadError) as caught:
        create_plugin_manager(allow=["core", "broken"])
    message = str(caught.value)
    assert "plugin 'broken' failed to load" in message
    assert "broken = tendero_sample_broken" in message
    assert "tendero-sample-broken 0.9" in message
    assert "tendero_dependency_that_is_not_installed" in message
    assert isinstance(caught.value.__cause__, ImportError)


def test_unknown_hook_is_a_clear_error() -> None:
    import tendero_sample_unknown_hook

    with pytest.raises(PluginLoadError, match="register_exporter"):
        create_plugin_manager(allow=[], extra=[tendero_sample_unknown_hook])


def test_cli_reports_a_broken_plugin_without_a_traceback(tmp_path: Path) -> None:
    install_distribution(
        tmp_path, "tendero-sample-broken", "0.9", {"broken": "tendero_sample_broken"}
    )
    path = os.pathsep.join([str(tmp_path), str(SAMPLES)])
    result = subprocess.run(
        [str(TENDERO_BIN), "plugins"],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(PYTHONPATH=path),
    )
    assert result.returncode == 1
    assert "tendero-sample-broken" in result.stderr
    assert "Traceback" not in result.stderr


# --- calling conventions -----------------------------------------------------------------------


async def test_sync_and_async_implementations_through_call_hook() -> None:
    from tendero_sample_hooks import AsyncPlugin, SyncPlugin

    pm = create_plugin_manager(allow=[], extra=[SyncPlugin(), AsyncPlugin()])
    # Later registered first: the async plugin answers first.
    assert await call_hook(pm, "register_exporters") == [["async-exporter"], ["sync-exporter"]]
    assert flatten(await call_hook(pm, "register_exporters")) == ["async-exporter", "sync-exporter"]


async def test_call_hook_drops_none_from_async_implementations() -> None:
    from tendero_sample_hooks import AsyncPlugin, SyncPlugin

    sync, asynchronous = SyncPlugin(answer=None), AsyncPlugin(answer=None)
    pm = create_plugin_manager(allow=[], extra=[sync, asynchronous])
    assert await call_hook(pm, "search_products", query="x", limit=1, catalog=None) == []
    assert sync.seen == asynchronous.seen == [("search_products", "x")]


async def test_firstresult_later_plugin_wins_and_none_passes_on() -> None:
    from tendero_sample_hooks import AsyncPlugin, SyncPlugin

    first, second = SyncPlugin(answer=["from first"]), AsyncPlugin(answer=["from second"])
    pm = create_plugin_manager(allow=[], extra=[first, second])
    assert await call_firstresult(pm, "search_products", query="q", limit=5, catalog=None) == [
        "from second"
    ]
    assert first.seen == []  # never asked

    # An async implementation that resolves to None passes the call on.
    passing = AsyncPlugin(answer=None)
    pm = create_plugin_manager(allow=[], extra=[first, passing])
    assert await call_firstresult(pm, "search_products", query="q", limit=5, catalog=None) == [
        "from first"
    ]
    assert passing.seen == [("search_products", "q")]


async def test_firstresult_answers_none_when_nobody_answers() -> None:
    from tendero_sample_hooks import SyncPlugin

    pm = create_plugin_manager(allow=[], extra=[SyncPlugin(answer=None)])
    assert await call_firstresult(pm, "search_products", query="q", limit=5, catalog=None) is None


async def test_core_search_products_is_the_fallback() -> None:
    class Catalog:
        def fuzzy_search(self, query: str, limit: int) -> list[str]:
            return [f"fuzzy:{query}:{limit}"]

    from tendero_sample_hooks import SyncPlugin

    pm = create_plugin_manager(allow=["core"], extra=[SyncPlugin(answer=None)])
    answer = await call_firstresult(
        pm, "search_products", query="gorra", limit=3, catalog=Catalog()
    )
    assert answer == ["fuzzy:gorra:3"]


async def test_failing_notification_does_not_stop_the_others() -> None:
    from tendero_sample_hooks import AsyncPlugin, FailingPlugin, SyncPlugin

    sync, asynchronous = SyncPlugin(), AsyncPlugin()
    pm = create_plugin_manager(allow=[], extra=[sync, FailingPlugin(), asynchronous])
    await notify(pm, "order_created", order={"number": 7})
    assert sync.seen == [("order_created", 7)]
    assert asynchronous.seen == [("order_created", 7)]


async def test_call_hook_propagates_errors() -> None:
    from tendero_sample_hooks import FailingPlugin

    pm = create_plugin_manager(allow=[], extra=[FailingPlugin()])
    with pytest.raises(RuntimeError, match="listener down"):
        await call_hook(pm, "order_created", order={"number": 1})


# --- tracing ------------------------------------------------------------------------------------


async def test_tracing_to_a_stream_covers_helpers_and_direct_calls() -> None:
    from tendero_sample_hooks import AsyncPlugin, FailingPlugin, SyncPlugin

    stream = io.StringIO()
    pm = create_plugin_manager(
        allow=["exporters"],
        extra=[SyncPlugin(answer=["hit"]), AsyncPlugin(), FailingPlugin()],
        trace=True,
        trace_stream=stream,
    )
    await call_firstresult(pm, "search_products", query="q", limit=1, catalog=None)
    await notify(pm, "order_created", order={"number": 3})
    await call_hook(pm, "register_exporters")
    direct = create_plugin_manager(allow=["exporters"], trace=True, trace_stream=stream)
    direct.hook.register_exporters()  # a plain pluggy call, as the sync app factory does
    lines = stream.getvalue().splitlines()
    assert any("search_products(query, limit, catalog) [first result]" in line for line in lines)
    assert any("search_products <- " in line and "['hit']" in line for line in lines)
    assert any("order_created(order) [notify]" in line for line in lines)
    assert any("raised RuntimeError('listener down')" in line for line in lines)
    assert any("register_exporters() [all results]" in line for line in lines)
    assert any("register_exporters() [sync]" in line for line in lines)


def test_tracing_off_by_default() -> None:
    pm = create_plugin_manager(allow=["exporters"])
    assert pm.tracer is None


def test_trace_env_var_writes_lines_to_stderr() -> None:
    script = textwrap.dedent(
        """
        import asyncio
        from tendero.plugins import call_hook, create_plugin_manager
        pm = create_plugin_manager(allow=["exporters", "whatsapp"])
        asyncio.run(call_hook(pm, "register_exporters"))
        print("done")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(TENDERO_TRACE_HOOKS="1"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"
    assert "[tendero.hook] register_exporters() [all results] -> exporters" in result.stderr
    assert "register_exporters <- exporters: [<tendero_exporters.csv_exporter" in result.stderr


# --- the CLI --------------------------------------------------------------------------------------


def test_tendero_plugins_lists_every_builtin_with_its_hooks() -> None:
    result = subprocess.run(
        [str(TENDERO_BIN), "plugins"], capture_output=True, text=True, timeout=60, env=clean_env()
    )
    assert result.returncode == 0, result.stderr
    for name in BUILTINS:
        assert f" {name} " in result.stdout
    for hook in ("register_channels", "register_exporters", "register_routes", "search_products"):
        assert hook in result.stdout
    assert "tendero-exporters" in result.stdout


def test_tendero_plugins_json() -> None:
    result = subprocess.run(
        [str(TENDERO_BIN), "plugins", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
    )
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert BUILTINS <= set(plugins)
    assert plugins["instagram"] == {
        "name": "instagram",
        "distribution": "tendero-instagram",
        "version": "0.1.0",
        "module": "tendero_instagram.plugin",
        "hooks": ["register_channels"],
    }
    assert plugins["core"]["hooks"] == ["agent_graph", "search_products", "shutdown", "startup"]


# --- channels --------------------------------------------------------------------------------------


def settings(**values: str) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def test_each_channel_plugin_registers_its_adapter() -> None:
    pm = create_plugin_manager(allow=["whatsapp", "facebook", "instagram"])
    channels = await collect_channels(pm, settings())
    assert set(channels) == {"whatsapp", "facebook", "instagram"}
    expected = {"whatsapp": "WhatsApp", "facebook": "Facebook Messenger", "instagram": "Instagram"}
    for name, channel in channels.items():
        assert isinstance(channel, Channel)
        assert channel.display_name == expected[name]
        assert (
            channel.icon.startswith("<svg") and f"<title>{expected[name]}</title>" in channel.icon
        )
        assert 'role="img"' in channel.icon
        assert channel.webhook_path == f"/webhooks/{name}"
        assert not channel.configured()

    wa, fb, ig = (
        channels["whatsapp"].limits,
        channels["facebook"].limits,
        channels["instagram"].limits,
    )
    assert (wa.max_buttons, wa.max_button_title_length, wa.max_list_rows) == (3, 20, 10)
    assert (wa.max_text_length, wa.text_length_unit) == (4096, "chars")
    assert (fb.max_buttons, fb.max_button_title_length, fb.max_list_rows) == (13, 20, 0)
    assert (fb.max_text_length, fb.text_length_unit) == (2000, "chars")
    assert (ig.max_buttons, ig.max_text_length, ig.text_length_unit) == (13, 999, "bytes")


async def test_channels_are_configured_by_their_credentials() -> None:
    pm = create_plugin_manager(allow=["whatsapp", "facebook", "instagram"])
    partial = settings(whatsapp_access_token="t", whatsapp_phone_number_id="1")
    channels = await collect_channels(pm, partial)
    assert channels["whatsapp"].missing_settings() == [
        "TENDERO_WHATSAPP_APP_SECRET",
        "TENDERO_WHATSAPP_VERIFY_TOKEN",
    ]
    full = settings(
        whatsapp_app_secret="s",
        whatsapp_verify_token="v",
        whatsapp_access_token="t",
        whatsapp_phone_number_id="1",
        instagram_app_secret="s",
        instagram_verify_token="v",
        instagram_access_token="t",
        instagram_account_id="17841",
    )
    assert channels["whatsapp"].configured(full)
    assert channels["instagram"].configured(full)
    assert not channels["facebook"].configured(full)


@pytest.mark.parametrize(
    "body", [b"{}", b"not json", b"[1, 2]", b'{"object": "page", "entry": "x"}', b"\xff\xfe"]
)
async def test_every_meta_channel_parses_garbage_to_nothing(body: bytes) -> None:
    pm = create_plugin_manager(allow=["whatsapp", "facebook", "instagram"])
    channels = await collect_channels(pm, settings())
    assert set(channels) == {"whatsapp", "facebook", "instagram"}
    for channel in channels.values():
        assert channel.parse(body) == []


async def test_limits_count_instagram_text_in_bytes() -> None:
    pm = create_plugin_manager(allow=["instagram", "facebook"])
    channels = await collect_channels(pm, settings())
    ig, fb = channels["instagram"].limits, channels["facebook"].limits
    accented = "ñ" * 600  # 600 characters, 1200 bytes
    assert fb.fits_text(accented)
    assert not ig.fits_text(accented)
    cut = ig.truncate_text(accented)
    assert len(cut.encode()) <= 999 and cut.endswith("…")
    parts = ig.split_text(("Hola señora, " * 200).strip())
    assert len(parts) > 1
    assert all(len(p.encode()) <= 999 for p in parts)
    assert " ".join(parts).split() == ("Hola señora, " * 200).split()


async def test_limits_list_what_a_platform_would_reject() -> None:
    pm = create_plugin_manager(allow=["whatsapp"])
    wa = (await collect_channels(pm, settings()))["whatsapp"].limits
    ok = OutboundMessage(
        channel="whatsapp",
        recipient_id="52155",
        text="¿Lo agrego?",
        buttons=(Button("yes", "Sí"), Button("no", "No")),
    )
    assert wa.problems(ok) == []
    too_many = OutboundMessage(
        channel="whatsapp",
        recipient_id="52155",
        text="x" * 1500,
        buttons=tuple(Button(str(i), f"Opción {i}") for i in range(4)),
        list_rows=tuple(ListRow(str(i), "Fila con un título muy largo") for i in range(11)),
    )
    problems = wa.problems(too_many)
    assert "text is longer than 1024 chars" in problems
    assert "4 buttons; at most 3" in problems
    assert "11 list rows; at most 10" in problems
    assert any("list row title" in p for p in problems)
    assert "a message carries buttons or a list, not both" in problems
