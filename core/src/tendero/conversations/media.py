"""Store media a customer sent under ``<data dir>/media/YYYY/MM/<random>.<ext>``.

The file name is always generated (never taken from input) and the extension comes from
what the bytes are (their magic numbers), not from what the sender declared; only
images (JPEG, PNG, GIF, WebP, HEIC/HEIF, AVIF) and PDFs are kept, up to a size cap. A
file is written under a temporary name and renamed when complete, so a failed write
leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import secrets
from pathlib import Path

from tendero.db.types import utcnow

# The ceiling: downloads are cut off earlier, at TENDERO_MEDIA_MAX_BYTES (at most this).
MAX_MEDIA_BYTES = 64 * 1024 * 1024
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/heic": "heic",
    "image/avif": "avif",
    "application/pdf": "pdf",
}
# ISO base media file brands (bytes 8-12 after "ftyp") of still images.
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}


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


def sniff_media_type(content: bytes) -> str | None:
    """What ``content`` is by its first bytes: one of :data:`EXTENSIONS`' types, or None."""
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if content[4:8] == b"ftyp":
        brand = content[8:12]
        if brand in _HEIF_BRANDS:
            return "image/heic"
        if brand in _AVIF_BRANDS:
            return "image/avif"
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def store_media(
    data_dir: Path, content: bytes, media_type: str, *, max_bytes: int = MAX_MEDIA_BYTES
) -> str:
    """Write ``content`` to a new file; return its path relative to ``data_dir``.

    Raises :class:`MediaRejected` (and writes nothing) when ``content`` is over
    ``max_bytes``, when ``media_type`` (what the sender declared) is not an image or
    PDF type, or when the bytes themselves are not an image or PDF Tendero knows.
    """
    if len(content) > max_bytes:
        raise MediaRejected(f"media of {len(content)} bytes is over the {max_bytes}-byte cap")
    extension_for(media_type)  # the declared type must be one we keep, too
    actual = sniff_media_type(content)
    if actual is None:
        declared = media_type.split(";", 1)[0].strip().lower()
        raise MediaRejected(
            f"the content is not an image or PDF Tendero keeps (declared {declared!r})"
        )
    ext = EXTENSIONS[actual]
    now = utcnow()
    relative = Path("media") / f"{now:%Y}" / f"{now:%m}" / f"{secrets.token_hex(16)}.{ext}"
    root = (data_dir / "media").resolve()
    folder = (data_dir / relative.parent).resolve()
    if not folder.is_relative_to(root):  # a link inside the media folder pointing away
        raise MediaRejected(f"{relative.parent} leads outside the media folder")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / relative.name
    partial = folder / f".{relative.name}.part"
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    return relative.as_posix()
