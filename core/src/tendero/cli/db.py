"""``tendero db``: database maintenance."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click
from rich.progress import TaskID

from tendero.cli.common import console, fail, get_settings, progress
from tendero.settings import SECRET_KEY_FILE

if TYPE_CHECKING:
    from tendero.backup import NotSQLite


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command()
def upgrade() -> None:
    """Migrate the database to the newest schema (safe to run any time)."""
    from tendero.db.migrate import upgrade as run_upgrade

    settings = get_settings()
    run_upgrade(settings.effective_database_url)
    console.print("Database is up to date.")


@db.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite FILE if it already exists.")
def backup(file: Path, force: bool) -> None:
    """Back up the shop into one archive FILE while it keeps serving.

    The archive holds the database, the agent's conversation state, the receipt photos,
    the mail spool and the secret key: keep it somewhere safe. Restore it with
    `tendero db restore FILE`. With PostgreSQL, use pg_dump (the command says how).
    """
    from tendero.backup import create_backup

    settings = get_settings()
    with _refusals(), progress() as bar:
        tasks: dict[str, TaskID] = {}

        def report(done: int, total: int, what: str) -> None:
            if what == "archive":  # bytes, shown in kB
                label, done, total = "Writing the archive (kB)", done // 1000, total // 1000
            else:  # database pages
                label = f"Copying the {what} (pages)"
            if what not in tasks:
                tasks[what] = bar.add_task(label, total=total)
            bar.update(tasks[what], completed=done, total=total)

        summary = create_backup(settings, file, force=force, progress=report)
    console.print(
        f"Backup written to {summary.path} ({_size(summary.size)}): {_contents(summary.counts)} "
        f"(migration {summary.revision}); "
        f"with {_extras(summary.files)}.",
        highlight=False,
    )
    if SECRET_KEY_FILE in summary.files:
        console.print("It contains the secret key: keep it private.")


@db.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--force",
    is_flag=True,
    help="Replace a database that already holds data (its files are kept aside).",
)
def restore(file: Path, force: bool) -> None:
    """Restore a backup made by `tendero db backup` into this data folder.

    Stop `tendero serve` first. The archive is checked (integrity, a migration this
    version knows) before anything is touched; the current files are moved to
    <data dir>/before-restore-<time>/, and the database is migrated to this version.
    """
    from tendero.backup import restore_backup

    settings = get_settings()
    with _refusals():
        summary = restore_backup(settings, file, force=force)
    console.print(
        f"Restored {summary.path} (taken {summary.created_at} by Tendero {summary.version}): "
        f"{_contents(summary.counts)}.",
        highlight=False,
    )
    if summary.moved_aside is not None:
        console.print(f"The files it replaced are in {summary.moved_aside}.", highlight=False)


@contextmanager
def _refusals() -> Iterator[None]:
    """PostgreSQL gets the pg_dump advice (exit 2), a refused file its reason (exit 1)."""
    from tendero.backup import BackupError, NotSQLite

    try:
        yield
    except NotSQLite as exc:
        _postgres_advice(exc)
    except BackupError as exc:
        fail(str(exc))


def _postgres_advice(exc: NotSQLite) -> NoReturn:
    dump, restore_command = exc.commands
    console.print(
        f"{exc}\n  back up:  {dump}\n  restore:  {restore_command}\n"
        "The password is not shown: give it with PGPASSWORD or ~/.pgpass. Copy the data "
        "folder's media/ (receipt photos) and secret_key beside the dump.",
        highlight=False,
        soft_wrap=True,
    )
    raise SystemExit(2)


def _extras(files: list[str]) -> str:
    """What a backup holds besides the database, in words."""
    from tendero.backup import CHECKPOINT_FILE, MAIL_FOLDER, MEDIA_FOLDER

    media = sum(1 for name in files if name.startswith(f"{MEDIA_FOLDER}/"))
    mail = sum(1 for name in files if name.startswith(f"{MAIL_FOLDER}/"))
    parts = [
        "the conversation state" if CHECKPOINT_FILE in files else "no conversation state yet",
        f"{media} media file{'' if media == 1 else 's'}",
        f"{mail} mail file{'' if mail == 1 else 's'}",
    ]
    if SECRET_KEY_FILE in files:
        parts.append("the secret key")
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _size(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size / 1000:.1f} kB"


def _contents(counts: dict[str, int]) -> str:
    return ", ".join(
        f"{counts.get(what, 0)} {what}" for what in ("orders", "products", "conversations")
    )
