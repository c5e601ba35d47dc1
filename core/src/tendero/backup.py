"""Backups of an embedded (SQLite) installation, taken while it serves, and restores.

A backup is **one file**, a gzip-compressed tar archive of everything a restore needs
to bring the shop back as it was:

* ``tendero.db`` -- the database (orders, catalog, settings, conversations, inbox and
  outbox), copied with SQLite's online backup API;
* ``checkpoints.db`` -- the agent's conversation state (carts, checkout progress),
  copied the same way;
* ``media/`` -- the receipt photos customers sent (the orders point at these files);
* ``mail/`` -- e-mails waiting to be sent, and the ``.eml`` files of an install
  without SMTP;
* ``secret_key`` -- the key that signs panel sessions (absent when it comes from
  ``TENDERO_SECRET_KEY``); the archive is written readable by its owner only;
* ``backup.json`` -- what the archive holds: the Tendero version, the database's
  migration revision, row counts, when it was taken.

The server keeps running: each database copy reads one snapshot (a read transaction
held for the whole copy; in WAL mode writers go on meanwhile), both snapshots are taken
before the copying starts, and nothing the server writes afterwards is in the backup.
Operator settings (``tendero.toml``, ``TENDERO_*`` variables: channel credentials, the
LLM and SMTP servers) are not data and are not in the archive.

A restore needs the server stopped: it checks the archive (a Tendero backup, databases
that pass ``PRAGMA integrity_check``, a migration revision this version knows), puts the
current files aside in ``<data dir>/before-restore-<time>/``, moves the backup's files
in and migrates the database to this version's schema.

PostgreSQL installations use PostgreSQL's own tools (``pg_dump`` / ``pg_restore``):
:func:`postgres_commands` words them for the configured database.
"""

from __future__ import annotations

import io
import json
import os
import shlex
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from tendero import __version__
from tendero.agent.checkpoint import CHECKPOINT_FILE, libpq_url
from tendero.db.types import utcnow
from tendero.errors import TenderoError
from tendero.notifications.mail import MAIL_FOLDER
from tendero.settings import SECRET_KEY_FILE, Settings

MANIFEST = "backup.json"
DATABASE_FILE = "tendero.db"
MEDIA_FOLDER = "media"
#: Folders of the data folder that go into a backup, as they are.
FOLDERS = (MEDIA_FOLDER, MAIL_FOLDER)
#: Pages copied per step of the online backup (4 MB at SQLite's default 4 KB pages).
PAGES_PER_STEP = 1024
#: ``(done, total, what)``: called as the copy and the archive advance.
Progress = Callable[[int, int, str], None]


class BackupError(TenderoError):
    """A backup or restore that cannot be done; the message says why and what to do."""


class NotSQLite(BackupError):
    """The configured database is not SQLite; ``commands`` are the PostgreSQL ones."""

    def __init__(self, message: str, commands: list[str]) -> None:
        super().__init__(message)
        self.commands = commands


@dataclass
class BackupSummary:
    """What a backup holds (the manifest), and where it was written or read."""

    path: Path
    size: int
    created_at: str
    version: str
    revision: str
    counts: dict[str, int]
    files: list[str] = field(default_factory=list)
    moved_aside: Path | None = None  # restore: where the replaced files went


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite database URL; ``None`` for any other database."""
    url = sa.make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def postgres_commands(database_url: str, file: Path) -> list[str]:
    """The ``pg_dump`` and ``pg_restore`` command lines for the configured database,
    its password left out (give it with ``PGPASSWORD`` or ``~/.pgpass``)."""
    # ``URL.set(password=None)`` keeps the password (None means "unchanged" there).
    url = sa.make_url(libpq_url(database_url))._replace(password=None)
    libpq = shlex.quote(url.render_as_string(hide_password=False))
    name = shlex.quote(str(file))
    return [
        f"pg_dump --format=custom --file {name} {libpq}",
        f"pg_restore --clean --if-exists --no-owner --dbname {libpq} {name}",
    ]


def _require_sqlite(settings: Settings, file: Path, doing: str) -> Path:
    url = settings.effective_database_url
    path = sqlite_path(url)
    if path is None:
        raise NotSQLite(
            f"The database is PostgreSQL: use PostgreSQL's own tools to {doing}.",
            postgres_commands(url, file),
        )
    return path


# --- backup ------------------------------------------------------------------------------


@contextmanager
def _snapshot(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection reading one fixed snapshot of ``path`` until it is closed.

    The online backup copies pages in steps; a change committed by another connection
    between two steps would make SQLite start over, so under a busy server it might
    never end. A read transaction held on the source for the whole copy pins the
    snapshot instead (WAL mode: the server's writes go on into the WAL meanwhile).
    """
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, timeout=60)
    try:
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        yield conn
    finally:
        conn.close()


def _copy(source: sqlite3.Connection, target: Path, progress: Progress, what: str) -> None:
    with closing(sqlite3.connect(target)) as copy:

        def step(_status: int, remaining: int, total: int) -> None:
            progress(total - remaining, total, what)

        source.backup(copy, pages=PAGES_PER_STEP, progress=step)
        # One self-contained file, whatever journal mode the original used.
        copy.execute("PRAGMA journal_mode=DELETE")


def check_database(path: Path, what: str) -> None:
    """Raise :class:`BackupError` unless ``path`` is a SQLite file that passes
    ``PRAGMA integrity_check``."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{what} is not a readable SQLite database: {exc}") from exc
    if problems != ["ok"]:
        raise BackupError(f"{what} fails its integrity check", details=problems[:10])


def _describe(path: Path) -> tuple[str, dict[str, int]]:
    """The migration revision and the row counts a merchant recognises."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if "alembic_version" not in tables:
            raise BackupError(f"{path.name} is not a Tendero database (no migration version)")
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        counts = {
            table: int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
            for table in ("orders", "products", "conversations", "messages", "users")
            if table in tables
        }
    return (revision[0] if revision else ""), counts


class _Counting:
    """A file read through, reporting how many bytes went by."""

    def __init__(self, raw: IO[bytes], advance: Callable[[int], None]) -> None:
        self.raw = raw
        self.advance = advance

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.advance(len(data))
        return data


def _data_files(data_dir: Path) -> Iterator[tuple[Path, str]]:
    """(file, name in the archive) of the folders a backup takes as they are."""
    for folder in FOLDERS:
        root = data_dir / folder
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                yield path, path.relative_to(data_dir).as_posix()


def create_backup(
    settings: Settings,
    file: Path,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> BackupSummary:
    """Write a backup of the running installation to ``file`` (see the module doc).

    Refuses to overwrite ``file`` unless ``force``; writes a temporary file beside it
    and renames it at the end, so ``file`` is never half written.
    """
    report = progress or (lambda done, total, what: None)
    database = _require_sqlite(settings, file, "back it up")
    if not database.is_file():
        raise BackupError(f"there is no database at {database} (run `tendero db upgrade`?)")
    file = file.absolute()
    if file.exists() and not force:
        raise BackupError(f"{file} already exists; pass --force to overwrite it")
    if not file.parent.is_dir():
        raise BackupError(f"the folder {file.parent} does not exist")
    data_dir = settings.data_dir.resolve()
    checkpoints = data_dir / CHECKPOINT_FILE

    with tempfile.TemporaryDirectory(prefix=".tendero-backup-", dir=file.parent) as tmp:
        staged = Path(tmp)
        # Both snapshots first, then the copies: the two databases as of one moment.
        taken_at = utcnow()
        with _snapshot(database) as main, _optional_snapshot(checkpoints) as agent:
            _copy(main, staged / DATABASE_FILE, report, "database")
            if agent is not None:
                _copy(agent, staged / CHECKPOINT_FILE, report, "conversation state")
        check_database(staged / DATABASE_FILE, "the database copy")
        if agent is not None:
            check_database(staged / CHECKPOINT_FILE, "the conversation state copy")
        revision, counts = _describe(staged / DATABASE_FILE)

        members: list[tuple[Path, str]] = [(staged / DATABASE_FILE, DATABASE_FILE)]
        if (staged / CHECKPOINT_FILE).exists():
            members.append((staged / CHECKPOINT_FILE, CHECKPOINT_FILE))
        key = data_dir / SECRET_KEY_FILE
        if key.is_file():
            members.append((key, SECRET_KEY_FILE))
        members.extend(_data_files(data_dir))
        manifest = {
            "format": 1,
            "created_at": taken_at.isoformat(),
            "version": __version__,
            "revision": revision,
            "counts": counts,
            "files": [name for _, name in members],
        }
        partial = staged / "archive.partial"
        _write_archive(partial, manifest, members, report)
        os.chmod(partial, 0o600)
        os.replace(partial, file)  # same folder: an atomic rename
    return BackupSummary(
        path=file,
        size=file.stat().st_size,
        created_at=manifest["created_at"],
        version=__version__,
        revision=revision,
        counts=counts,
        files=manifest["files"],
    )


@contextmanager
def _optional_snapshot(path: Path) -> Iterator[sqlite3.Connection | None]:
    if not path.is_file():
        yield None
        return
    with _snapshot(path) as conn:
        yield conn


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _write_archive(
    target: Path, manifest: dict[str, Any], members: list[tuple[Path, str]], report: Progress
) -> None:
    total, done = sum(_size(path) for path, _ in members), 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        report(done, total, "archive")

    with open(target, "wb") as raw:
        with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=1) as tar:
            body = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(body), 0o600, int(utcnow().timestamp())
            tar.addfile(info, io.BytesIO(body))
            for path, name in members:
                try:
                    handle = open(path, "rb")  # closed by the with below
                except FileNotFoundError:
                    continue  # deleted by the server since the listing
                with handle:
                    # The size as of now (a file still being written is taken as it is).
                    info = tar.gettarinfo(arcname=name, fileobj=handle)
                    tar.addfile(info, _Counting(handle, advance))
        raw.flush()
        os.fsync(raw.fileno())


# --- restore -----------------------------------------------------------------------------


def read_manifest(file: Path) -> dict[str, Any]:
    """The manifest of a backup archive; :class:`BackupError` when ``file`` is not one."""
    try:
        with tarfile.open(file, "r:*") as tar:
            member = tar.getmember(MANIFEST)
            handle = tar.extractfile(member)
            manifest = json.loads(handle.read()) if handle else None
    except (tarfile.TarError, KeyError, OSError, ValueError, EOFError, zlib.error) as exc:
        raise BackupError(f"{file} is not a Tendero backup ({exc})") from exc
    if not isinstance(manifest, dict) or DATABASE_FILE not in manifest.get("files", []):
        raise BackupError(f"{file} is not a Tendero backup (its manifest lists no database)")
    return manifest


def _known_revision(revision: str) -> bool:
    from alembic.script import ScriptDirectory

    from tendero.db.migrate import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    try:
        return scripts.get_revision(revision) is not None
    except Exception:  # alembic raises several kinds for an unknown id
        return False


def _in_use(path: Path) -> bool:
    """Whether another process has the SQLite database at ``path`` open.

    Leaving WAL mode needs the only connection to the file; a running server holds
    some, so the switch fails (or is refused) while it runs. The file is about to be
    replaced, so the switch (which also folds the WAL into it) does no harm.
    """
    try:
        with closing(sqlite3.connect(path, timeout=0, isolation_level=None)) as conn:
            mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
    except sqlite3.OperationalError:
        return True
    return str(mode).lower() != "delete"


def _has_data(path: Path) -> bool:
    if not path.is_file() or path.stat().st_size == 0:
        return False
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if "orders" not in tables:
            return bool(tables - {"alembic_version"})
        counts = [
            conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            for table in ("orders", "products", "conversations", "users")
            if table in tables
        ]
    return any(counts)


def restore_backup(settings: Settings, file: Path, *, force: bool = False) -> BackupSummary:
    """Put the backup ``file`` in place of this installation's data (see the module doc).

    Refuses a database that holds data unless ``force``, and a database another process
    has open (a running server) always.
    """
    database = _require_sqlite(settings, file, "restore it")
    if not file.is_file():
        raise BackupError(f"there is no file {file}")
    manifest = read_manifest(file)
    data_dir = settings.ensure_data_dir().resolve()
    database = database.absolute()
    if database.exists() and _in_use(database):
        raise BackupError(
            f"{database} is in use by another process: stop `tendero serve` (and every "
            "other tendero command) before restoring"
        )
    if _has_data(database) and not force:
        raise BackupError(
            f"{database} already holds a shop's data; pass --force to replace it (the "
            "current files are kept in a before-restore folder of the data folder)"
        )

    with tempfile.TemporaryDirectory(prefix=".tendero-restore-", dir=data_dir) as tmp:
        staged = Path(tmp)
        try:
            with tarfile.open(file, "r:*") as tar:
                tar.extractall(staged, filter="data")
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            # A cut or damaged archive: nothing has been put in place yet.
            raise BackupError(f"{file} could not be read to the end: {exc}") from exc
        check_database(staged / DATABASE_FILE, "the backup's database")
        if (staged / CHECKPOINT_FILE).exists():
            check_database(staged / CHECKPOINT_FILE, "the backup's conversation state")
        revision, counts = _describe(staged / DATABASE_FILE)
        if not _known_revision(revision):
            raise BackupError(
                f"the backup's database is at migration {revision!r}, which this version of "
                f"Tendero ({__version__}) does not know: restore it with the version that "
                f"made it ({manifest.get('version', 'unknown')}) or a newer one"
            )

        # What the backup brings, and where it goes.
        moves: list[tuple[Path, Path]] = [(staged / DATABASE_FILE, database)]
        for name in (CHECKPOINT_FILE, SECRET_KEY_FILE, *FOLDERS):
            if (staged / name).exists():
                moves.append((staged / name, data_dir / name))
        aside = data_dir / f"before-restore-{utcnow():%Y%m%dT%H%M%SZ}"
        replaced = _move_aside(
            [target for _, target in moves] + [data_dir / CHECKPOINT_FILE], aside
        )
        for source, target in moves:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(source), str(target))
        if (data_dir / SECRET_KEY_FILE).exists():
            os.chmod(data_dir / SECRET_KEY_FILE, 0o600)

    from tendero.db.migrate import upgrade

    upgrade(settings.effective_database_url)
    return BackupSummary(
        path=file,
        size=file.stat().st_size,
        created_at=str(manifest.get("created_at", "")),
        version=str(manifest.get("version", "")),
        revision=revision,
        counts=counts,
        files=list(manifest.get("files", [])),
        moved_aside=aside if replaced else None,
    )


def _move_aside(targets: list[Path], aside: Path) -> bool:
    """Move every existing target (a database with its ``-wal``/``-shm`` files, a
    folder, a key) into ``aside``; whether anything was moved."""
    moved = False
    for target in dict.fromkeys(targets):
        for path in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
            if not path.exists():
                continue
            aside.mkdir(exist_ok=True)
            shutil.move(str(path), str(aside / path.name))
            moved = True
    return moved
