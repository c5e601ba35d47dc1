"""Shared fixtures: settings on a temp data folder, a migrated database on SQLite and
(when ``TENDERO_TEST_DATABASE_URL`` is set) PostgreSQL, and the CLI as a process.

Under ``CI=true`` a test that would be skipped for a missing service fails instead.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from tendero.db import Database
from tendero.db.migrate import upgrade
from tendero.db.models import Base
from tendero.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_URL = os.environ.get("TENDERO_TEST_DATABASE_URL", "")
TENDERO_BIN = Path(sys.executable).parent / "tendero"


def skip_or_fail(reason: str) -> None:
    """Skip locally; in CI a missing service is a failure, not a skip."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


# --- databases ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session; each test gets a copy of it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


def _run_in_thread(work: Callable[[], Awaitable[None]]) -> None:
    """Run ``work`` to completion on an event loop of its own (a fixture may be set up
    while another loop runs)."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(work())  # type: ignore[arg-type]
        except BaseException as exc:  # re-raised on the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]


@contextmanager
def fresh_postgres_database(prefix: str, *, migrate: bool = True) -> Iterator[str]:
    """A new, empty PostgreSQL database on the test server (migrated unless told not
    to), dropped afterwards; skipped — failed under ``CI=true`` — without PostgreSQL."""
    if not PG_URL:
        skip_or_fail("TENDERO_TEST_DATABASE_URL is not set (PostgreSQL tests)")
    admin_url = sa.make_url(PG_URL).set(drivername="postgresql+asyncpg")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"

    def admin(sql: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
            try:
                async with engine.connect() as conn:
                    await conn.execute(sa.text(sql))
            finally:
                await engine.dispose()

        return run

    try:
        _run_in_thread(admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # server down or unreachable
        skip_or_fail(f"PostgreSQL at {admin_url.render_as_string(hide_password=True)}: {exc}")
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        if migrate:
            upgrade(url)
        yield url
    finally:
        _run_in_thread(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated once."""
    with fresh_postgres_database("tendero_test") as url:
        yield url


def _truncate_all_sql() -> str:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    return f"TRUNCATE {tables} RESTART IDENTITY CASCADE"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database; the test runs once per engine."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "tendero.db"
        shutil.copyfile(template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")

    async def truncate() -> None:
        db = Database(url)
        try:
            async with db.session() as session:
                await session.execute(sa.text(_truncate_all_sql()))
                # The agent's LangGraph checkpoints live in the same database.
                await session.execute(
                    sa.text(
                        "DO $$ BEGIN IF to_regclass('checkpoints') IS NOT NULL THEN "
                        "TRUNCATE checkpoints, checkpoint_blobs, checkpoint_writes; "
                        "END IF; END $$"
                    )
                )
        finally:
            await db.dispose()

    asyncio.run(truncate())
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty SQLite database (for tests that need only the default engine)."""
    path = tmp_path / "tendero.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A :class:`Database` on a migrated, empty database (SQLite and PostgreSQL)."""
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings on a temp data folder and the test's database."""
    return Settings(data_dir=tmp_path / "data", database_url=database_url, _env_file=None)  # type: ignore[call-arg]


# --- the CLI as a process -------------------------------------------------------------


class CLI:
    """Runs ``tendero`` as a real process against the test's data folder and database."""

    def __init__(self, data_dir: Path, database_url: str) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TENDERO_")} | {
            "TENDERO_DATA_DIR": str(data_dir),
            "TENDERO_DATABASE_URL": database_url,
            "COLUMNS": "200",
            "NO_COLOR": "1",
        }
        self.cwd = data_dir.parent

    def __call__(
        self, *args: str, input: str | None = None, check: bool = False, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(TENDERO_BIN), *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.cwd,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"tendero {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> CLI:
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    return CLI(data_dir, database_url)


@pytest.fixture
def sqlite_cli(tmp_path: Path, sqlite_url: str) -> CLI:
    """The CLI on SQLite only, for tests where the engine makes no difference."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    return CLI(data_dir, sqlite_url)
