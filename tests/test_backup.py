"""`tendero db backup` / `tendero db restore` as processes: a backup taken while a real
`tendero serve` takes orders from WhatsApp customers, restored into a new data folder
and served again; what they refuse, and the PostgreSQL answer."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import tarfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import IO, Any

import aiohttp
import pytest

from tests.conftest import CLI, TENDERO_BIN, fresh_postgres_database
from tests.fakes import graph_whatsapp as wa
from tests.fakes import webhooks as wh
from tests.fakes.graph import FakeGraph
from tests.test_serve import free_port

PHONE_NUMBER_ID = "106540352242922"
TOKEN = "EAAG-backup-test-token"
APP_SECRET = "backup-test-app-secret"
# A short Spanish checkout that ends in an order (demo store, shipping).
ORDER_SCRIPT = (
    "quiero 2 shakers negros",
    "listo",
    "envio",
    "cliente{n}@gmail.com, Av. Coyoacán 1435, Del Valle Centro, 03100, CDMX",
    "si",
)
RECEIPT = b"\xff\xd8\xff\xe0receipt" + bytes(range(256)) + b"\xff\xd9"


def read_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
        return conn.execute(sql).fetchall()


def order_numbers(path: Path) -> set[int]:
    return {row[0] for row in read_rows(path, "SELECT number FROM orders")}


def unpack(archive: Path, into: Path) -> dict[str, Any]:
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(into, filter="data")
    return json.loads((into / "backup.json").read_text())


def integrity(path: Path) -> list[str]:
    return [row[0] for row in read_rows(path, "PRAGMA integrity_check")]


def open_log(path: Path) -> IO[str]:
    return path.open("w")


def read_log(path: Path) -> str:
    return path.read_text()


@asynccontextmanager
async def serving(cli: CLI, env: dict[str, str] | None = None) -> AsyncIterator[str]:
    """`tendero serve` as a process on ``cli``'s data folder; yields its base URL."""
    port = free_port()
    log_path = Path(cli.env["TENDERO_DATA_DIR"]).parent / f"serve-{port}.log"
    log = open_log(log_path)
    proc = await asyncio.create_subprocess_exec(
        str(TENDERO_BIN),
        "serve",
        "--port",
        str(port),
        env=cli.env | (env or {}),
        cwd=cli.cwd,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 60
            while True:
                assert proc.returncode is None, read_log(log_path)
                try:
                    async with http.get(f"{base}/healthz") as answer:
                        if answer.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                assert time.monotonic() < deadline, "tendero serve did not start"
                await asyncio.sleep(0.2)
        yield base
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        log.close()


class Customers:
    """WhatsApp customers who each run :data:`ORDER_SCRIPT` to an order, one after the
    other, until stopped; each message waits for the shop's first reply."""

    def __init__(self, fake: wa.FakeWhatsApp, number: wa.Number, emitter: Any) -> None:
        self.fake = fake
        self.number = number
        self.emitter = emitter
        self.stop = asyncio.Event()
        self.sent = 0
        self._n = 0

    async def customer(self) -> None:
        while not self.stop.is_set():
            self._n += 1
            n = self._n
            phone = f"52155{n:08d}"
            for text in ORDER_SCRIPT:
                before = len(self.fake.messages_to(phone))
                message = wa.text_message(phone, text.format(n=n))
                self.fake.inbound(PHONE_NUMBER_ID, phone, message["id"])
                payload = wa.delivery(
                    wa.change(
                        self.number,
                        messages=[message],
                        contacts=[wa.contact(phone, f"Cliente {n}")],
                    )
                )
                status, _ = await self.emitter.send(payload)
                assert status == 200
                self.sent += 1
                deadline = time.monotonic() + 60
                while len(self.fake.messages_to(phone)) == before:
                    assert time.monotonic() < deadline, f"no reply to {text!r}"
                    await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_backup_while_serving_then_restore_and_serve_again(
    sqlite_cli: CLI, tmp_path: Path
) -> None:
    cli = sqlite_cli
    data = Path(cli.env["TENDERO_DATA_DIR"])
    database = Path(cli.env["TENDERO_DATABASE_URL"].split("///", 1)[1])
    # A database big enough that the copy takes many steps (~40 MB).
    cli("demo", "--orders", "15000", check=True)
    with closing(sqlite3.connect(database)) as conn, conn:
        conn.execute("UPDATE products SET stock = 1000000 WHERE stock > 0")
    (data / "media" / "2026" / "11").mkdir(parents=True)
    (data / "media" / "2026" / "11" / "receipt.jpg").write_bytes(RECEIPT)

    graph = FakeGraph("facebook")
    fake = wa.install_whatsapp(graph)
    archive = tmp_path / "shop.tar.gz"
    async with graph:
        number = fake.add_number(PHONE_NUMBER_ID, TOKEN)
        env = {
            "TENDERO_GRAPH_API_URL": graph.url,
            "TENDERO_WHATSAPP_APP_SECRET": APP_SECRET,
            "TENDERO_WHATSAPP_VERIFY_TOKEN": "verify",
            "TENDERO_WHATSAPP_ACCESS_TOKEN": TOKEN,
            "TENDERO_WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
            "TENDERO_LOG_LEVEL": "warning",
        }
        async with (
            serving(cli, env) as base,
            wh.MetaWebhookEmitter(f"{base}/webhooks/whatsapp", APP_SECRET) as emitter,
        ):
            customers = Customers(fake, number, emitter)
            shoppers = [asyncio.create_task(customers.customer()) for _ in range(4)]
            try:
                # Orders from conversations first, then the backup while they go on.
                deadline = time.monotonic() + 120
                while len(order_numbers(database)) < 15000 + 2:
                    assert time.monotonic() < deadline, "the customers made no orders"
                    assert not any(t.done() for t in shoppers), [t.exception() for t in shoppers]
                    await asyncio.sleep(0.2)
                committed = order_numbers(database)
                inbox_before = read_rows(database, "SELECT count(*) FROM inbox_events")[0][0]
                backup = await asyncio.create_subprocess_exec(
                    str(TENDERO_BIN),
                    "db",
                    "backup",
                    str(archive),
                    env=cli.env,
                    cwd=cli.cwd,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                )
                out, err = await backup.communicate()
                inbox_after = read_rows(database, "SELECT count(*) FROM inbox_events")[0][0]
                # The server kept writing to the database while the backup ran.
                assert inbox_after > inbox_before
                assert not any(t.done() for t in shoppers), [t.exception() for t in shoppers]
            finally:
                customers.stop.set()
                await asyncio.gather(*shoppers, return_exceptions=True)
            live_orders = order_numbers(database)

    assert backup.returncode == 0, err.decode()
    assert out == b""  # messages go to stderr
    assert "Backup written to" in err.decode()
    assert archive.stat().st_mode & 0o777 == 0o600
    unpacked = tmp_path / "unpacked"
    manifest = unpack(archive, unpacked)
    assert {"tendero.db", "checkpoints.db", "secret_key", "media/2026/11/receipt.jpg"} <= set(
        manifest["files"]
    )
    copy = unpacked / "tendero.db"
    assert integrity(copy) == ["ok"]
    assert integrity(unpacked / "checkpoints.db") == ["ok"]
    in_backup = order_numbers(copy)
    # Every order committed before the backup began is in it; nothing it holds is made up.
    assert committed <= in_backup <= live_orders
    assert manifest["counts"]["orders"] == len(in_backup)
    # One consistent snapshot: every order in the copy has its items.
    assert read_rows(
        copy,
        "SELECT count(*) FROM orders o WHERE NOT EXISTS "
        "(SELECT 1 FROM order_items i WHERE i.order_id = o.id)",
    ) == [(0,)]
    chat_orders = sorted(in_backup - set(range(1001, 1001 + 15000)))
    assert len(chat_orders) >= 2

    # Restore into a new data folder and serve it.
    restored_dir = tmp_path / "restored" / "data"
    restored_dir.mkdir(parents=True)
    restored = CLI(restored_dir, f"sqlite+aiosqlite:///{restored_dir.resolve() / 'tendero.db'}")
    done = restored("db", "restore", str(archive))
    assert done.returncode == 0, done.stderr
    assert f"{len(in_backup)} orders" in done.stderr
    assert (restored_dir / "media" / "2026" / "11" / "receipt.jpg").read_bytes() == RECEIPT
    assert (restored_dir / "secret_key").read_text() == (data / "secret_key").read_text()
    token = restored("tokens", "create", "--name", "restore-check", check=True).stdout.strip()
    async with serving(restored) as base, aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {token}"}
        for number in chat_orders:
            async with http.get(f"{base}/api/v1/orders/{number}", headers=headers) as answer:
                assert answer.status == 200
                order = await answer.json()
            assert order["number"] == number
            assert order["channel"] == "whatsapp"
            assert [item["sku"] for item in order["items"]]
    exported = restored("orders", "export", "--format", "json", check=True).stdout
    assert {json.loads(line)["number"] for line in exported.splitlines()} == in_backup


def test_backup_refuses_to_overwrite_a_file_without_force(sqlite_cli: CLI, tmp_path: Path) -> None:
    archive = tmp_path / "shop.tar.gz"
    first = sqlite_cli("db", "backup", str(archive))
    assert first.returncode == 0, first.stderr
    original = archive.read_bytes()

    again = sqlite_cli("db", "backup", str(archive))
    assert again.returncode == 1
    assert "already exists" in again.stderr and "--force" in again.stderr
    assert archive.read_bytes() == original

    forced = sqlite_cli("db", "backup", str(archive), "--force")
    assert forced.returncode == 0, forced.stderr
    assert archive.read_bytes() != original  # a new archive (its manifest has a new time)
    assert integrity_of_archive(archive, tmp_path / "x") == ["ok"]
    # No temporary file is left beside it.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def integrity_of_archive(archive: Path, into: Path) -> list[str]:
    unpack(archive, into)
    return integrity(into / "tendero.db")


def test_backup_of_a_missing_database_or_folder_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    cli = CLI(data, f"sqlite+aiosqlite:///{data / 'tendero.db'}")
    missing = cli("db", "backup", str(tmp_path / "b.tar.gz"))
    assert missing.returncode == 1
    assert "there is no database" in missing.stderr
    cli("db", "upgrade", check=True)
    nowhere = cli("db", "backup", str(tmp_path / "no" / "such" / "b.tar.gz"))
    assert nowhere.returncode == 1
    assert "does not exist" in nowhere.stderr


def test_postgres_backup_and_restore_say_use_pg_dump_without_the_password(
    tmp_path: Path,
) -> None:
    url = "postgresql+asyncpg://shop:s3cret-pw@db.example.com:5433/tendero?ssl=require"
    cli = CLI(tmp_path, url)
    for command, tool in (("backup", "pg_dump"), ("restore", "pg_restore")):
        answer = cli("db", command, "shop.dump")
        assert answer.returncode == 2
        assert "PostgreSQL" in answer.stderr
        assert "s3cret-pw" not in answer.stdout + answer.stderr
        assert "pg_dump --format=custom --file shop.dump " in answer.stderr
        assert "postgresql://shop@db.example.com:5433/tendero?sslmode=require" in answer.stderr
        assert tool in answer.stderr
    assert not (tmp_path / "shop.dump").exists()


@pytest.mark.postgres
def test_the_suggested_pg_dump_command_backs_up_the_database(tmp_path: Path) -> None:
    with fresh_postgres_database("h_backup") as url:
        cli = CLI(tmp_path, url)
        cli("demo", "--if-empty", check=True)
        answer = cli("db", "backup", "shop.dump")
        assert answer.returncode == 2
        line = next(
            ln.split(":", 1)[1].strip() for ln in answer.stderr.splitlines() if "pg_dump " in ln
        )
        if shutil.which("pg_dump") is None:
            pytest.fail("pg_dump is not installed")
        dumped = subprocess.run(shlex.split(line), cwd=tmp_path, capture_output=True, text=True)
        assert dumped.returncode == 0, dumped.stderr
        listing = subprocess.run(
            ["pg_restore", "--list", str(tmp_path / "shop.dump")], capture_output=True, text=True
        )
        assert listing.returncode == 0
        assert "TABLE DATA public orders" in listing.stdout
        assert "TABLE DATA public products" in listing.stdout


def _archive(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return path


def test_restore_refuses_what_is_not_a_good_tendero_backup(sqlite_cli: CLI, tmp_path: Path) -> None:
    from tendero.backup import BackupError, create_backup, restore_backup
    from tendero.settings import Settings

    source = Settings(
        data_dir=Path(sqlite_cli.env["TENDERO_DATA_DIR"]),
        database_url=sqlite_cli.env["TENDERO_DATABASE_URL"],
        _env_file=None,  # type: ignore[call-arg]
    )
    good = create_backup(source, tmp_path / "good.tar.gz").path
    parts = tmp_path / "parts"
    manifest = unpack(good, parts)
    database = (parts / "tendero.db").read_bytes()

    # A database from a newer Tendero: a migration this version does not know.
    newer = tmp_path / "newer.db"
    newer.write_bytes(database)
    with closing(sqlite3.connect(newer)) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    # A damaged database file inside an otherwise fine archive.
    damaged = bytearray(database)
    damaged[4096 : 4096 * 3] = os.urandom(4096 * 2)
    plain_db = tmp_path / "plain.db"
    with closing(sqlite3.connect(plain_db)) as conn, conn:
        conn.execute("CREATE TABLE notes (x)")
    manifest_bytes = json.dumps(manifest).encode()
    (tmp_path / "photo.jpg").write_bytes(RECEIPT)
    (tmp_path / "cut.tar.gz").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    cases = {
        "no such file": (tmp_path / "nothing.tar.gz", "there is no file"),
        "not a tar": (tmp_path / "photo.jpg", "is not a Tendero backup"),
        "no manifest": (
            _archive(tmp_path / "bare.tar.gz", {"tendero.db": database}),
            "is not a Tendero backup",
        ),
        "truncated": (tmp_path / "cut.tar.gz", "not a Tendero backup|could not be read"),
        "unknown migration": (
            _archive(
                tmp_path / "newer.tar.gz",
                {"backup.json": manifest_bytes, "tendero.db": newer.read_bytes()},
            ),
            "does not know",
        ),
        "damaged database": (
            _archive(
                tmp_path / "damaged.tar.gz",
                {"backup.json": manifest_bytes, "tendero.db": bytes(damaged)},
            ),
            "integrity check|not a readable SQLite database",
        ),
        "not a tendero database": (
            _archive(
                tmp_path / "plain.tar.gz",
                {"backup.json": manifest_bytes, "tendero.db": plain_db.read_bytes()},
            ),
            "not a Tendero database",
        ),
    }
    target = tmp_path / "target" / "data"
    target.mkdir(parents=True)
    settings = Settings(
        data_dir=target,
        database_url=f"sqlite+aiosqlite:///{target / 'tendero.db'}",
        _env_file=None,  # type: ignore[call-arg]
    )
    for label, (archive, expected) in cases.items():
        with pytest.raises(BackupError, match=expected):
            restore_backup(settings, archive)
        # Nothing was put in place, and nothing is left behind.
        assert sorted(p.name for p in target.iterdir()) == [], label

    # The command answers with the message and exit status 1.
    answer = CLI(target, settings.database_url)("db", "restore", str(tmp_path / "cut.tar.gz"))
    assert answer.returncode == 1
    assert re.search("not a Tendero backup|could not be read", answer.stderr), answer.stderr
    assert "Traceback" not in answer.stderr
    assert sorted(p.name for p in target.iterdir()) == []


def test_restore_never_replaces_data_silently_nor_a_database_in_use(
    sqlite_cli: CLI, tmp_path: Path
) -> None:
    archive = tmp_path / "shop.tar.gz"
    sqlite_cli("demo", "--if-empty", check=True)
    sqlite_cli("db", "backup", str(archive), check=True)
    database = Path(sqlite_cli.env["TENDERO_DATABASE_URL"].split("///", 1)[1])
    data = Path(sqlite_cli.env["TENDERO_DATA_DIR"])
    # The shop changes after the backup: a product renamed.
    with closing(sqlite3.connect(database)) as conn, conn:
        conn.execute(
            "UPDATE products SET sku = 'AFTER-1' WHERE id = (SELECT min(id) FROM products)"
        )
    skus_now = {row[0] for row in read_rows(database, "SELECT sku FROM products")}

    refused = sqlite_cli("db", "restore", str(archive))
    assert refused.returncode == 1
    assert "already holds" in refused.stderr and "--force" in refused.stderr
    assert {row[0] for row in read_rows(database, "SELECT sku FROM products")} == skus_now

    # A running server (here: another process's open connection in WAL mode) blocks it.
    holder = sqlite3.connect(database)
    try:
        holder.execute("PRAGMA journal_mode=WAL")
        holder.execute("SELECT count(*) FROM products").fetchone()
        busy = sqlite_cli("db", "restore", str(archive), "--force")
        assert busy.returncode == 1
        assert "in use" in busy.stderr and "tendero serve" in busy.stderr
    finally:
        holder.close()
    assert {row[0] for row in read_rows(database, "SELECT sku FROM products")} == skus_now

    forced = sqlite_cli("db", "restore", str(archive), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "AFTER-1" not in {row[0] for row in read_rows(database, "SELECT sku FROM products")}
    # The replaced database is kept aside, whole.
    aside = [p for p in data.iterdir() if p.name.startswith("before-restore-")]
    assert len(aside) == 1
    kept = aside[0] / database.name
    assert "AFTER-1" in {row[0] for row in read_rows(kept, "SELECT sku FROM products")}
    assert integrity(kept) == ["ok"]


def test_restored_database_is_migrated_to_this_version(sqlite_cli: CLI, tmp_path: Path) -> None:
    from tendero.db.migrate import downgrade

    old = tmp_path / "old" / "data"
    old.mkdir(parents=True)
    url = f"sqlite+aiosqlite:///{old / 'tendero.db'}"
    CLI(old, url)("db", "upgrade", check=True)
    downgrade(url, "0003")
    archive = tmp_path / "old.tar.gz"
    made = CLI(old, url)("db", "backup", str(archive))
    assert made.returncode == 0, made.stderr
    assert unpack(archive, tmp_path / "peek")["revision"] == "0003"

    target = tmp_path / "new" / "data"
    target.mkdir(parents=True)
    answer = CLI(target, f"sqlite+aiosqlite:///{target / 'tendero.db'}")(
        "db", "restore", str(archive)
    )
    assert answer.returncode == 0, answer.stderr
    heads = read_rows(target / "tendero.db", "SELECT version_num FROM alembic_version")
    from alembic.script import ScriptDirectory
    from tendero.db.migrate import alembic_config

    assert heads == [(ScriptDirectory.from_config(alembic_config(url)).get_current_head(),)]
