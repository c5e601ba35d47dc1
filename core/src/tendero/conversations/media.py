"""Store media a customer sent under ``<data dir>/media/YYYY/MM/<random>.<ext>``.

The file name is always generated (never taken from input) and the extension comes from
the media type; only images and PDFs are kept, up to a size cap.
"""

from __future__ import annotations

import mimetypes
import secrets
from pathlib import Path

from tendero.db.types import utcnow

MAX_MEDIA_BYTES = 16 * 1024 * 1024
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/heic": "heic",
    "application/pdf": "pdf",
}


class MediaRejected(ValueError):
    """The media is of a type Tendero does not keep, or too large."""


def extension_for(media_type: str) -> str:
    """The file extension for ``media_type``; raises :class:`MediaRejected` for types
    other than images and PDF."""
    media_type = media_type.split(";", 1)[0].strip().lower()
    if media_type in EXTENSIONS:
        return EXTENSIONS[media_type]
    if media_type.startswith("image/"):
        guessed = (mimetypes.guess_extension(media_type) or ".img").lstrip(".")
        return guessed if guessed.isalnum() else "img"
    raise MediaRejected(f"media type {media_type!r} is not stored (images and PDF only)")


def store_media(
    data_dir: Path, content: bytes, media_type: str, *, max_bytes: int = MAX_MEDIA_BYTES
) -> str:
    """Write ``content`` to a new file; return its path relative to ``data_dir``."""
    if len(content) > max_bytes:
        raise MediaRejected(f"media of {len(content)} bytes is over the {max_bytes}-byte cap")
    ext = extension_for(media_type)
    now = utcnow()
    relative = Path("media") / f"{now:%Y}" / f"{now:%m}" / f"{secrets.token_hex(16)}.{ext}"
    target = data_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    return relative.as_posix()
