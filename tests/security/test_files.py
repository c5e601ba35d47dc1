"""Receipts and static files: receipts only for a logged-in merchant, under random
names nobody can guess; no path — ``..``, encoded dots and slashes, absolute paths,
NUL bytes, symbolic links — reaches a file outside their folder (404, never a 500)."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from tendero.conversations.media import store_media
from tendero.settings import Settings

from tests.web.harness import Panel
from tests.web.orders_data import PNG, RECEIPT_PATH, Seeded

ESCAPES = [
    "../secret_key",
    "..%2fsecret_key",
    "..%2Fsecret_key",
    "%2e%2e/secret_key",
    "%2e%2e%2fsecret_key",
    "%2E%2E%2Fsecret_key",
    "2026/11/..%2f..%2f..%2fsecret_key",
    "2026/../../secret_key",
    "....//secret_key",
    "%252e%252e%252fsecret_key",
    "..%5csecret_key",
    "..\\secret_key",
    "%2Fetc%2Fpasswd",
    "/etc/passwd",
    "//etc/passwd",
    "x%00.jpg",
    "2026/11/receipt-1002.jpg%00.txt",
    "a" * 5000,
    "outside.jpg",  # a symbolic link to the secret key
    "linked/secret_key",  # a symbolic link to the data folder
    "2026",  # a folder
]


async def raw_get(panel: Panel, path: str, cookie: str = "") -> tuple[int, bytes]:
    """Send ``path`` exactly as written (no client-side normalising)."""
    host, port = panel.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
    if cookie:
        head += f"Cookie: {cookie}\r\n"
    writer.write((head + "\r\n").encode())
    await writer.drain()
    answer = await reader.read()
    writer.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer


def cookie_of(client) -> str:
    return "; ".join(f"{c.key}={c.value}" for c in client.cookie_jar)


async def test_no_path_escapes_the_media_and_static_folders(
    panel: Panel, seeded: Seeded, settings: Settings
) -> None:
    data_dir = settings.data_dir
    secret = (data_dir / "secret_key").read_text().strip()
    media = data_dir / "media"
    os.symlink(data_dir / "secret_key", media / "outside.jpg")
    os.symlink(data_dir, media / "linked")
    client = await panel.logged_in()
    cookie = cookie_of(client)
    # The real receipt is served (the requests below are not refused for being raw).
    status, body = await raw_get(panel, f"/{RECEIPT_PATH}", cookie)
    assert status == 200 and body.endswith(PNG)
    status, _ = await raw_get(panel, "/static/panel.css", cookie)
    assert status == 200
    for prefix in ("/media/", "/static/"):
        for escape in ESCAPES:
            path = prefix + escape
            status, body = await raw_get(panel, path, cookie)
            assert status in (400, 404), f"{path}: {status}"
            assert secret.encode() not in body and b"root:" not in body, path
    # Logged out, even the real receipt is not served.
    status, body = await raw_get(panel, f"/{RECEIPT_PATH}")
    assert status == 303 and PNG not in body


def test_receipt_names_are_random_and_not_taken_from_input(tmp_path: Path) -> None:
    names = [store_media(tmp_path, PNG, "image/png") for _ in range(50)]
    assert len(set(names)) == 50
    for name in names:
        match = re.fullmatch(r"media/\d{4}/\d{2}/([0-9a-f]{32})\.png", name)
        assert match, name  # 128 random bits
    # What the sender declares does not shape the name: only the sniffed type does.
    declared = store_media(tmp_path, PNG, "image/jpeg; name=../../evil.sh")
    assert re.fullmatch(r"media/\d{4}/\d{2}/[0-9a-f]{32}\.png", declared)
    assert all((tmp_path / n).is_file() for n in [*names, declared])
