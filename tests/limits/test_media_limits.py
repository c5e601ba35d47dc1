"""Media a customer sends is fetched within limits: only from Meta's media hosts or the
configured Graph host, HTTPS, no redirect elsewhere, capped in size (by Content-Length
and while streaming) and in total time, and stored only when the bytes themselves are
an image or a PDF, under a name Tendero makes up, inside the data folder.

Downloads run against real local servers (``conftest.MediaHost``) and, end to end, the
fake Graph API with the running app and the real agent.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from tendero.channels import Attachment, ChannelError
from tendero.channels.meta import GraphClient, GraphError, media_url_problem
from tendero.conversations.media import MediaRejected, sniff_media_type, store_media
from tendero.settings import Settings
from tendero_facebook.channel import FacebookChannel
from tendero_whatsapp.channel import WhatsAppChannel

from tests.channels.e2e import meta_channel
from tests.limits.conftest import HTML, JPEG, PDF, PNG, SVG, Hosts

GRAPH = "https://graph.facebook.com"
IG_GRAPH = "https://graph.instagram.com"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def facebook(graph_url: str, **settings: object) -> FacebookChannel:
    return FacebookChannel(
        Settings(
            facebook_app_secret="s",
            facebook_verify_token="v",
            facebook_page_access_token="t",
            facebook_page_id="1",
            graph_api_url=graph_url,
            **settings,  # type: ignore[arg-type]
        )
    )


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


# --- where media may come from (pure rules) ---------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://scontent.xx.fbcdn.net/v/t1.15752-9/123_n.jpg?_nc_cat=1&oh=00_AbC&oe=6700AB12",
        "https://scontent-mia3-1.xx.fbcdn.net/v/t1/456.png",
        "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1234&ext=1700000000",
        "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1789&signature=AbC",
        "https://mmg.whatsapp.net/v/t62.7118-24/123.enc",
        "https://instagram.fgdl5-1.fna.cdninstagram.com/v/t51.2885-15/1.jpg",
        "https://LOOKASIDE.FBSBX.COM./whatsapp_business/attachments/?mid=1",  # case, root dot
        "https://scontent.xx.fbcdn.net:443/v/1.jpg",
    ],
)
def test_meta_media_hosts_are_allowed(url: str) -> None:
    assert media_url_problem(url, (GRAPH, IG_GRAPH)) is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://scontent.xx.fbcdn.net/v/1.jpg", "not https"),
        ("https://127.0.0.1/receipt.jpg", "an address"),
        ("https://169.254.169.254/latest/meta-data/iam/", "an address"),
        ("https://[::1]/x.jpg", "an address"),
        ("https://10.0.0.7/x.jpg", "an address"),
        ("https://evil.example/x.jpg", "not one of Meta's media hosts"),
        ("https://fbcdn.net.evil.example/x.jpg", "not one of Meta's media hosts"),
        ("https://evilfbcdn.net/x.jpg", "not one of Meta's media hosts"),
        ("https://localhost/x.jpg", "not one of Meta's media hosts"),
        ("https://graph.facebook.com.evil.example/x.jpg", "not one of Meta's media hosts"),
        ("https://scontent.xx.fbcdn.net:8443/v/1.jpg", "port 8443"),
        ("https://user:pw@scontent.xx.fbcdn.net/v/1.jpg", "credentials"),
        ("file:///etc/passwd", "not an absolute URL"),
        ("/relative/path.jpg", "not an absolute URL"),
        ("gopher://scontent.xx.fbcdn.net/1", "not https"),
    ],
)
def test_anything_else_is_refused(url: str, why: str) -> None:
    problem = media_url_problem(url, (GRAPH, IG_GRAPH))
    assert problem is not None and why in problem


def test_the_configured_graph_host_is_trusted_as_configured_and_no_further() -> None:
    local = "http://127.0.0.1:8123"
    assert media_url_problem("http://127.0.0.1:8123/cdn/a?oh=1", (local,)) is None
    assert media_url_problem("https://graph.facebook.com/v25.0/123", (GRAPH,)) is None
    # Same address, another port or scheme: not the configured host.
    assert media_url_problem("http://127.0.0.1:8124/cdn/a", (local,)) is not None
    assert media_url_problem("https://127.0.0.1:8123/cdn/a", (local,)) is not None
    assert media_url_problem("http://graph.facebook.com/v25.0/123", (GRAPH,)) is not None


# --- what is stored ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "declared", "extension"),
    [
        (JPEG, "image/jpeg", "jpg"),
        (PNG, "image/png", "png"),
        (PNG, "image/jpeg", "png"),  # the bytes decide the extension, not the label
        (b"GIF89a" + bytes(20), "image/gif", "gif"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(20), "image/webp", "webp"),
        (b"\x00\x00\x00\x18ftypheic" + bytes(20), "image/heic", "heic"),
        (b"\x00\x00\x00\x1cftypavif" + bytes(20), "image/avif", "avif"),
        (PDF, "application/pdf", "pdf"),
        (PDF, "application/pdf; charset=binary", "pdf"),
    ],
)
def test_images_and_pdfs_are_stored_by_what_they_are(
    tmp_path: Path, content: bytes, declared: str, extension: str
) -> None:
    relative = store_media(tmp_path, content, declared)
    stored = tmp_path / relative
    assert stored.read_bytes() == content and stored.suffix == f".{extension}"
    now = datetime.now(UTC)
    assert relative.startswith(f"media/{now:%Y}/{now:%m}/")
    assert len(stored.stem) == 32 and all(c in "0123456789abcdef" for c in stored.stem)
    assert files_under(tmp_path) == [stored]  # no temporary file left next to it


@pytest.mark.parametrize(
    ("content", "declared"),
    [
        (HTML, "image/jpeg"),  # a web page that calls itself a photo
        (SVG, "image/svg+xml"),  # an image type that can carry scripts
        (b"MZ\x90\x00" + bytes(60), "application/pdf"),  # a program labelled PDF
        (b"", "image/png"),
        (JPEG, "text/html"),  # a photo labelled as something we do not keep
        (JPEG, "video/mp4"),
        (b"\x00\x00\x00\x18ftypisom" + bytes(20), "image/heic"),  # an MP4, not HEIF
    ],
)
def test_anything_that_is_not_an_image_or_pdf_is_refused_and_nothing_is_written(
    tmp_path: Path, content: bytes, declared: str
) -> None:
    with pytest.raises(MediaRejected):
        store_media(tmp_path, content, declared)
    assert files_under(tmp_path) == []


def test_the_size_cap_is_checked_before_writing(tmp_path: Path) -> None:
    with pytest.raises(MediaRejected, match="cap"):
        store_media(tmp_path, JPEG + bytes(1000), "image/jpeg", max_bytes=1000)
    assert files_under(tmp_path) == []


def test_stored_media_never_leaves_the_media_folder(tmp_path: Path) -> None:
    data, outside = tmp_path / "data", tmp_path / "outside"
    outside.mkdir()
    (data / "media").mkdir(parents=True)
    # A link where this month's folder goes, pointing out of the data folder.
    (data / "media" / f"{datetime.now(UTC):%Y}").symlink_to(outside, target_is_directory=True)
    with pytest.raises(MediaRejected, match="outside"):
        store_media(data, JPEG, "image/jpeg")
    assert files_under(outside) == []


def test_the_magic_numbers_are_read_from_the_start_only() -> None:
    assert sniff_media_type(b"%PDF-1.4") == "application/pdf"
    assert sniff_media_type(b" %PDF-1.4") is None
    assert sniff_media_type(b"<html>\xff\xd8\xff") is None


# --- downloads against real servers -----------------------------------------------------


async def test_a_declared_oversized_file_is_refused_without_reading_it(
    hosts: Hosts, http: aiohttp.ClientSession
) -> None:
    client = GraphClient(http, hosts.media.base_url, "v25.0")
    started = time.monotonic()
    with pytest.raises(GraphError) as caught:
        await client.download(f"{hosts.media.base_url}/huge", max_bytes=1024 * 1024)
    assert caught.value.code == "media_too_large" and not caught.value.retryable
    assert time.monotonic() - started < 2
    # The server got as far as its first chunk; the 100 MB were never asked for.
    assert hosts.media.sent_bytes["/huge"] <= 64 * 1024 + 4


async def test_an_endless_chunked_file_is_cut_off_at_the_cap(
    hosts: Hosts, http: aiohttp.ClientSession
) -> None:
    client = GraphClient(http, hosts.media.base_url, "v25.0")
    with pytest.raises(GraphError) as caught:
        await client.download(f"{hosts.media.base_url}/endless", max_bytes=1024 * 1024)
    assert caught.value.code == "media_too_large"
    # Cut off near the cap (what was in flight in socket buffers aside), not read on.
    assert hosts.media.sent_bytes["/endless"] < 16 * 1024 * 1024


@pytest.mark.parametrize("path", ["/drip", "/hang"])
async def test_the_time_cap_bounds_the_whole_download(
    hosts: Hosts, http: aiohttp.ClientSession, path: str
) -> None:
    """A host that trickles one byte every 0.1 s never trips a per-read timeout; the
    cap is on the whole download."""
    client = GraphClient(http, hosts.media.base_url, "v25.0")
    started = time.monotonic()
    with pytest.raises(GraphError) as caught:
        await client.download(f"{hosts.media.base_url}{path}", timeout=0.8)
    elapsed = time.monotonic() - started
    assert caught.value.code == "timeout" and "0.8s" in str(caught.value)
    assert 0.7 < elapsed < 1.5


async def test_a_redirect_to_another_host_is_not_followed(
    hosts: Hosts, http: aiohttp.ClientSession
) -> None:
    client = GraphClient(http, hosts.media.base_url, "v25.0")
    target = hosts.other.add("a.jpg", JPEG, "image/jpeg")
    for url in (target, "http://169.254.169.254/latest/meta-data/", "https://evil.example/a"):
        with pytest.raises(GraphError) as caught:
            await client.download(f"{hosts.media.base_url}/redirect?to={url}")
        assert caught.value.code == "media_url" and not caught.value.retryable
    assert hosts.other.seen == []


async def test_redirects_stay_checked_and_the_token_stays_home(
    hosts: Hosts, http: aiohttp.ClientSession
) -> None:
    client = GraphClient(http, hosts.media.base_url, "v25.0")
    photo = hosts.media.add("a.jpg", JPEG, "image/jpeg")
    # Within the trusted host: followed, with the token.
    content, _ = await client.download(
        f"{hosts.media.base_url}/redirect?to={photo}", token="wa-token"
    )
    assert content == JPEG
    assert [s.headers.get("Authorization") for s in hosts.media.seen] == ["Bearer wa-token"] * 2
    # To a second host the operator also trusts: followed, without the token.
    elsewhere = hosts.other.add("b.jpg", JPEG, "image/jpeg")
    both = (hosts.media.base_url, hosts.other.base_url)
    content, _ = await client.download(
        f"{hosts.media.base_url}/redirect?to={elsewhere}", token="wa-token", trusted_urls=both
    )
    assert content == JPEG
    assert [s.headers.get("Authorization") for s in hosts.other.seen] == [None]
    # A loop ends.
    before = len(hosts.media.seen)
    with pytest.raises(GraphError, match="redirected more than 3 times"):
        await client.download(f"{hosts.media.base_url}/loop")
    assert len(hosts.media.seen) - before == 4


async def test_a_host_that_resolves_to_a_private_address_is_refused(
    http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Name checks are not enough if a name points inward: the resolved addresses are
    checked too. (``localhost`` stands in for a media host name pointing inward: the
    allow-list is widened for this test only.)"""
    monkeypatch.setattr("tendero.channels.meta.META_MEDIA_DOMAINS", ("localhost",))
    client = GraphClient(http, GRAPH, "v25.0")
    with pytest.raises(GraphError) as caught:
        await client.download("https://localhost/a.jpg")
    assert caught.value.code == "media_url" and "not a public address" in str(caught.value)


async def test_the_file_type_is_checked_on_the_header_too(
    hosts: Hosts, http: aiohttp.ClientSession
) -> None:
    client = GraphClient(http, hosts.media.base_url, "v25.0")
    page = hosts.media.add("page", HTML, "text/html")
    with pytest.raises(GraphError) as caught:
        await client.download(page, allowed_types=("image/", "application/pdf"))
    assert caught.value.code == "media_type"


# --- the channels -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{other}/file/a.jpg",  # loopback, but not the Graph host
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "https://169.254.169.254/latest/meta-data/",
        "https://evil.example/receipt.jpg",
        "http://{media}/redirect?to=http://127.0.0.1:{other}/file/a.jpg",
    ],
)
async def test_messenger_attachments_are_fetched_only_from_meta(
    hosts: Hosts, http: aiohttp.ClientSession, url: str
) -> None:
    hosts.other.add("a.jpg", JPEG, "image/jpeg")
    channel = facebook(hosts.media.base_url)
    channel.attach(http)
    url = url.format(other=hosts.other.base_url.rsplit(":", 1)[1], media=hosts.media.base_url[7:])
    with pytest.raises(ChannelError) as caught:
        await channel.download_media(Attachment(kind="image", url=url))
    assert caught.value.code == "media_url"
    assert hosts.other.seen == []


async def test_channels_take_their_caps_from_the_settings(
    hosts: Hosts, http: aiohttp.ClientSession
) -> None:
    big = hosts.media.add("big.jpg", JPEG + bytes(300 * 1024), "image/jpeg")
    video = hosts.media.add("v.mp4", b"\x00\x00\x00\x18ftypisom" + bytes(100), "video/mp4")
    channel = facebook(hosts.media.base_url, media_max_bytes=256 * 1024, media_timeout=0.5)
    channel.attach(http)
    assert channel.media_max_bytes == 256 * 1024 and channel.media_timeout == 0.5
    with pytest.raises(ChannelError) as caught:
        await channel.download_media(Attachment(kind="image", url=big))
    assert caught.value.code == "media_too_large"
    with pytest.raises(ChannelError) as caught:  # not a type Tendero keeps: not fetched
        await channel.download_media(Attachment(kind="video", url=video))
    assert caught.value.code == "media_type"
    started = time.monotonic()
    with pytest.raises(ChannelError) as caught:
        await channel.download_media(Attachment(kind="image", url=f"{hosts.media.base_url}/drip"))
    assert caught.value.code == "timeout" and time.monotonic() - started < 1.2
    # WhatsApp's own cap (16 MB) gives way to a smaller configured one, never a larger.
    whatsapp = WhatsAppChannel(Settings(media_max_bytes=1024 * 1024))
    assert whatsapp.media_max_bytes == 1024 * 1024
    assert WhatsAppChannel(Settings(media_max_bytes=64 * 1024 * 1024)).media_max_bytes == (
        16 * 1024 * 1024
    )


def test_a_write_that_fails_halfway_leaves_nothing(tmp_path: Path) -> None:
    """The disk fills up mid-file (a file size limit of 2 KB on the writing process):
    the error reaches the caller and no partial file stays behind."""
    script = f"""
import resource, signal, sys
from pathlib import Path
from tendero.conversations.media import store_media
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))
try:
    store_media(Path({str(tmp_path)!r}), {JPEG!r} + bytes(8192), "image/jpeg")
except OSError as exc:
    print("refused:", exc.strerror)
    sys.exit(0)
sys.exit("the write did not fail")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("refused: File too large")
    assert files_under(tmp_path) == []


async def test_a_type_the_webhook_names_is_refused_before_any_request(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    async with meta_channel("whatsapp", Settings(data_dir=tmp_path)) as wa:
        channel = WhatsAppChannel(wa.settings)
        channel.attach(http)
        voice = wa.whatsapp.add_media(b"OggS\x00\x02" + bytes(100), "audio/ogg")  # type: ignore[union-attr]
        with pytest.raises(GraphError) as caught:
            await channel.download_media(
                Attachment(kind="audio", media_id=voice, mime_type="audio/ogg; codecs=opus")
            )
        assert caught.value.code == "media_type"
        assert wa.graph.counters["media_lookups"] == 0
        assert wa.graph.counters["media_downloads"] == 0
        # A photo from the same fake goes through (lookup, then download with the token).
        photo = wa.whatsapp.add_media(JPEG, "image/jpeg")  # type: ignore[union-attr]
        content, media_type = await channel.download_media(
            Attachment(kind="image", media_id=photo, mime_type="image/jpeg")
        )
        assert (content, media_type) == (JPEG, "image/jpeg")
