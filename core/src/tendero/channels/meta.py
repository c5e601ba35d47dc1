"""What the three Meta channels (WhatsApp, Messenger, Instagram) share.

* :func:`verify_handshake`: the ``GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…``
  check Meta makes whenever a callback URL is saved.
* :func:`check_signature`: ``X-Hub-Signature-256`` over the **raw** request bytes, in
  constant time, against one or several app secrets (so a secret can be rotated).
* :class:`GraphClient`: calls to the Graph API (base URL and version from the settings,
  the app's shared :class:`aiohttp.ClientSession`) and media downloads with size, time
  and type caps, only from Meta's media hosts or the configured Graph host
  (:func:`media_url_problem`); failures become :class:`GraphError`, which says whether to
  retry.
* :class:`MetaChannel`: a :class:`~tendero.channels.base.Channel` base that gives its
  subclasses the handshake and the signature check from the settings fields they name.

Signature checking lives here and nowhere else.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json as jsonlib
import socket
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import aiohttp
from aiohttp import web
from yarl import URL

from tendero.channels.base import Attachment, Channel, ChannelError

SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="

DEFAULT_TIMEOUT = 15.0
DEFAULT_MAX_DOWNLOAD_BYTES = 25 * 1024 * 1024  # Meta's own cap for audio/video attachments
DEFAULT_MEDIA_TIMEOUT = 30.0

# Where Meta serves what customers send (the content hosts Meta's own pages allow):
# Messenger's scontent-*.xx.fbcdn.net, WhatsApp's and Instagram's lookaside.fbsbx.com,
# Instagram's *.cdninstagram.com, WhatsApp's mmg.whatsapp.net. Media comes from these
# domains (or the configured Graph host) only, over HTTPS.
META_MEDIA_DOMAINS = ("fbcdn.net", "fbsbx.com", "cdninstagram.com", "whatsapp.net")
MAX_MEDIA_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

# Graph error codes worth another try later (meta-platforms.md §5.2, §5.3, §5.6): unknown or
# temporary errors (1, 2, 1200), rate limits (4, 17, 32, 613, 80007, 130429, 131056) and
# service trouble (131000, 131016, 131057). Anything else is a request, permission or
# policy problem that the same request will hit again.
RETRYABLE_CODES = frozenset(
    {1, 2, 4, 17, 32, 341, 613, 1200, 80007, 130429, 131000, 131016, 131056, 131057}
)


# --- the verify handshake ----------------------------------------------------------------


def verify_handshake(query: Mapping[str, str], verify_token: str) -> web.Response:
    """Answer Meta's subscription check.

    200 with the body being exactly ``hub.challenge`` (plain text, no quoting, no
    newline) when ``hub.mode`` is ``subscribe`` and ``hub.verify_token`` equals
    ``verify_token``; 403 otherwise. An empty configured token never matches.
    """
    mode = query.get("hub.mode", "")
    token = query.get("hub.verify_token", "")
    challenge = query.get("hub.challenge", "")
    if (
        verify_token
        and mode == "subscribe"
        and hmac.compare_digest(token.encode(), verify_token.encode())
    ):
        return web.Response(status=200, text=challenge, content_type="text/plain")
    return web.Response(status=403, text="Forbidden", content_type="text/plain")


# --- payload signatures --------------------------------------------------------------------


def sign(body: bytes, secret: str) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for ``body`` (``sha256=<hex>``)."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_signature(body: bytes, header: str | None, secrets: Sequence[str]) -> bool:
    """Whether ``header`` (the ``X-Hub-Signature-256`` value) signs ``body``.

    ``body`` must be the bytes exactly as received: Meta signs its escaped-unicode
    serialisation, so re-serialised JSON gives another digest. Any of ``secrets`` may
    match (secret rotation); empty secrets are ignored. A missing, malformed or
    sha1-only header is refused.
    """
    if not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    received = header[len(SIGNATURE_PREFIX) :].strip().lower()
    if len(received) != hashlib.sha256().digest_size * 2:
        return False
    matched = False
    for secret in secrets:
        if not secret:
            continue
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        # Check every secret, so the time taken does not say which one matched.
        matched |= hmac.compare_digest(expected, received)
    return matched


# --- Graph errors --------------------------------------------------------------------------


class GraphError(ChannelError):
    """A failed Graph API call, from Meta's error envelope (meta-platforms.md §5.1).

    ``graph_code``/``error_subcode`` are Meta's numbers (branch on these, never on the
    message text); ``code`` (the :class:`ChannelError` field) is their string form,
    ``"<code>"`` or ``"<code>/<subcode>"``, or ``"http_<status>"``, ``"timeout"``,
    ``"network"`` when Meta gave no envelope. ``retryable`` is true for 429, 5xx,
    timeouts, network errors and the codes in :data:`RETRYABLE_CODES`.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        graph_code: int | None = None,
        error_subcode: int | None = None,
        error_type: str | None = None,
        fbtrace_id: str | None = None,
        details: str | None = None,
        retryable: bool | None = None,
        code: str | None = None,
    ) -> None:
        if retryable is None:
            retryable = is_retryable(status, graph_code)
        if code is None:
            if graph_code is not None:
                code = str(graph_code) + (f"/{error_subcode}" if error_subcode else "")
            elif status is not None:
                code = f"http_{status}"
        super().__init__(message, retryable=retryable, code=code)
        self.status = status
        self.graph_code = graph_code
        self.error_subcode = error_subcode
        self.error_type = error_type
        self.fbtrace_id = fbtrace_id
        self.details = details

    @property
    def outside_window(self) -> bool:
        """Messenger/Instagram refused a send outside the 24-hour window."""
        return self.graph_code == 10 and self.error_subcode in (2018278, 2534022)

    @property
    def token_invalid(self) -> bool:
        """The access token is wrong or expired: an operator must fix the settings."""
        return self.graph_code == 190

    def __repr__(self) -> str:
        return (
            f"GraphError({str(self)!r}, status={self.status}, code={self.graph_code}, "
            f"subcode={self.error_subcode}, retryable={self.retryable})"
        )


def is_retryable(status: int | None, graph_code: int | None) -> bool:
    """Whether a Graph failure is worth another try (the outbox backs off first)."""
    if graph_code is not None and graph_code in RETRYABLE_CODES:
        return True
    return status is not None and (status == 429 or status >= 500)


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_graph_error(status: int, body: bytes | str | Mapping[str, Any] | None) -> GraphError:
    """A :class:`GraphError` from an HTTP status and a response body (raw or parsed).

    Copes with bodies that are not Meta's envelope (an HTML proxy page, empty): the
    HTTP status then decides whether to retry.
    """
    data: Any = body
    if isinstance(body, bytes | str):
        try:
            data = jsonlib.loads(body) if body else None
        except ValueError:
            data = None
    error = data.get("error") if isinstance(data, Mapping) else None
    if not isinstance(error, Mapping):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
        return GraphError(f"Graph API HTTP {status}: {text[:200]}".strip(), status=status)
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, Mapping) else None
    message = str(error.get("message") or error.get("error_user_msg") or f"HTTP {status}")
    return GraphError(
        message,
        status=status,
        graph_code=_as_int(error.get("code")),
        error_subcode=_as_int(error.get("error_subcode")),
        error_type=error.get("type"),
        fbtrace_id=error.get("fbtrace_id"),
        details=str(details) if details is not None else None,
    )


# --- the Graph API client --------------------------------------------------------------------


class GraphClient:
    """Calls to one Graph host (``https://graph.facebook.com`` or
    ``https://graph.instagram.com``) at one API version, over the app's shared session.

    >>> client = GraphClient(http, "https://graph.facebook.com", "v25.0")
    >>> await client.request("POST", "/me/messages", token=page_token, json=body)
    """

    def __init__(self, http: aiohttp.ClientSession, base_url: str, version: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.version = version.strip("/")

    def url(self, path: str) -> str:
        """``/123/messages`` → ``{base}/{version}/123/messages``."""
        return f"{self.base_url}/{self.version}/{path.lstrip('/')}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 -- a per-call HTTP timeout
    ) -> dict[str, Any]:
        """Call the Graph API and return its JSON answer.

        The token goes in an ``Authorization: Bearer`` header. Raises :class:`GraphError`
        for an error envelope or status, a timeout or a network failure (the last two
        retryable: the request may or may not have reached Meta).
        """
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with self.http.request(
                method,
                self.url(path),
                json=json,
                params=params,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError as exc:
            raise GraphError(
                f"Graph API {method} {path} timed out after {timeout:g}s",
                retryable=True,
                code="timeout",
            ) from exc
        except aiohttp.ClientError as exc:
            raise GraphError(
                f"Graph API {method} {path} failed: {exc}", retryable=True, code="network"
            ) from exc
        try:
            data = jsonlib.loads(raw) if raw else {}
        except ValueError:
            data = None
        if status >= 400 or (isinstance(data, Mapping) and "error" in data):
            raise parse_graph_error(status, data if data is not None else raw)
        if not isinstance(data, dict):
            raise GraphError(
                f"Graph API {method} {path}: answer is not a JSON object", status=status
            )
        return data

    async def download(
        self,
        url: str,
        *,
        token: str | None = None,
        max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
        allowed_types: Iterable[str] | None = None,
        timeout: float = DEFAULT_MEDIA_TIMEOUT,  # noqa: ASYNC109 -- a per-call HTTP timeout
        trusted_urls: Iterable[str] | None = None,
    ) -> tuple[bytes, str]:
        """Fetch a media file: ``(content, content type)``.

        ``url`` comes from a webhook payload, so it is checked first
        (:func:`media_url_problem`): HTTPS to one of Meta's media hosts, or the origin of
        one of ``trusted_urls`` (default: this client's Graph URL) whatever its scheme or
        address; a host that resolves to a private, loopback or link-local address is
        refused unless trusted. Redirects are followed (at most
        :data:`MAX_MEDIA_REDIRECTS`) only to URLs that pass the same check, and the
        token only ever goes to the first URL's origin.

        ``token`` adds a Bearer header (WhatsApp media URLs need it; Messenger and
        Instagram CDN URLs do not). ``allowed_types`` are content types or prefixes
        ending in ``/`` (``"image/"``); anything else, or a file over ``max_bytes``
        (refused by its Content-Length before reading, else while streaming), is a
        non-retryable :class:`GraphError`. ``timeout`` bounds the whole download,
        redirects and body included.
        """
        trusted = tuple(trusted_urls) if trusted_urls is not None else (self.base_url,)
        try:
            async with asyncio.timeout(timeout):
                return await self._fetch_media(
                    url, token, max_bytes, allowed_types, trusted, timeout
                )
        except TimeoutError as exc:
            raise GraphError(
                f"media download timed out after {timeout:g}s", retryable=True, code="timeout"
            ) from exc
        except aiohttp.ClientError as exc:
            raise GraphError(
                f"media download failed: {exc}", retryable=True, code="network"
            ) from exc

    async def _fetch_media(
        self,
        url: str,
        token: str | None,
        max_bytes: int,
        allowed_types: Iterable[str] | None,
        trusted: Sequence[str],
        timeout: float,  # noqa: ASYNC109 -- the connection's own timeout, inside the total
    ) -> tuple[bytes, str]:
        first_origin = _origin(url)
        current = url
        for _ in range(MAX_MEDIA_REDIRECTS + 1):
            problem = media_url_problem(current, trusted)
            if problem is not None:
                raise GraphError(f"media URL refused: {problem}", retryable=False, code="media_url")
            target = URL(current)
            if not _is_trusted(current, trusted):
                await _require_public_address(target.host or "", target.port or 443)
            send_token = token and _origin(current) == first_origin
            headers = {"Authorization": f"Bearer {token}"} if send_token else {}
            async with self.http.get(
                current,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                if response.status in _REDIRECTS:
                    location = response.headers.get("Location")
                    if not location:
                        raise GraphError(
                            "media redirect without a Location",
                            status=response.status,
                            retryable=False,
                            code="media_url",
                        )
                    current = str(response.url.join(URL(location)))
                    continue
                return await _read_media(response, max_bytes, allowed_types)
        raise GraphError(
            f"media download redirected more than {MAX_MEDIA_REDIRECTS} times",
            retryable=False,
            code="media_url",
        )


async def _read_media(
    response: aiohttp.ClientResponse, max_bytes: int, allowed_types: Iterable[str] | None
) -> tuple[bytes, str]:
    if response.status >= 400:
        raise parse_graph_error(response.status, await response.content.read(64 * 1024))
    content_type = (response.content_type or "application/octet-stream").lower()
    if allowed_types is not None and not _type_allowed(content_type, allowed_types):
        raise GraphError(
            f"media of type {content_type} is not accepted",
            status=response.status,
            retryable=False,
            code="media_type",
        )
    if response.content_length is not None and response.content_length > max_bytes:
        raise _too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks), content_type


# --- where media may come from -----------------------------------------------------------


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = URL(url)
    return (parsed.scheme.lower(), (parsed.host or "").lower().rstrip("."), parsed.port)


def _is_trusted(url: str, trusted: Iterable[str]) -> bool:
    origin = _origin(url)
    return any(t and _origin(t) == origin for t in trusted)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def media_url_problem(url: str, trusted_urls: Iterable[str] = ()) -> str | None:
    """Why ``url`` (from a webhook payload) must not be fetched, or None when it may be.

    Fetched are: the origin (scheme, host, port) of one of ``trusted_urls`` (the
    configured Graph URLs: whatever they say, the operator chose them), and HTTPS on the
    default port to a host name under :data:`META_MEDIA_DOMAINS`. Never an address
    literal, credentials in the URL, or any other host.
    """
    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        return "not a URL"
    if not parsed.is_absolute() or not parsed.host:
        return "not an absolute URL"
    if parsed.user is not None or parsed.password is not None:
        return "credentials in the URL"
    if _is_trusted(url, trusted_urls):
        return None
    host = parsed.host.lower().rstrip(".")
    if parsed.scheme.lower() != "https":
        return f"{parsed.scheme}:// is not https"
    if _is_ip_literal(host):
        return f"{host} is an address, not one of Meta's media hosts"
    if not any(host == domain or host.endswith("." + domain) for domain in META_MEDIA_DOMAINS):
        return f"{host} is not one of Meta's media hosts"
    if parsed.explicit_port and parsed.port != 443:
        return f"port {parsed.port} is not https's"
    return None


async def _require_public_address(host: str, port: int) -> None:
    """Refuse a host that resolves to a private, loopback, link-local or otherwise
    non-public address (a media host of Meta never does)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise GraphError(
            f"media host {host} does not resolve: {exc}", retryable=True, code="network"
        ) from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global:
            raise GraphError(
                f"media host {host} resolves to {address}, not a public address",
                retryable=False,
                code="media_url",
            )


def _type_allowed(content_type: str, allowed: Iterable[str]) -> bool:
    for pattern in allowed:
        pattern = pattern.lower()
        if content_type == pattern or (pattern.endswith("/") and content_type.startswith(pattern)):
            return True
    return False


def _too_large(max_bytes: int) -> GraphError:
    return GraphError(
        f"media is larger than {max_bytes} bytes", retryable=False, code="media_too_large"
    )


# --- the channel base ----------------------------------------------------------------------


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header value by case-insensitive name (plain dicts are case-sensitive)."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


class MetaChannel(Channel):
    """A channel whose webhooks come from Meta.

    Subclasses name their settings fields: ``verify_token_setting`` (the handshake
    token), ``app_secret_settings`` (fields holding app secrets; a field may hold
    several, comma-separated, while a secret is rotated) and ``app_id_setting`` (the
    app whose echoes are its own sends).
    """

    verify_token_setting: ClassVar[str]
    app_secret_settings: ClassVar[tuple[str, ...]]
    app_id_setting: ClassVar[str | None] = None
    # What a customer's media download may be: photos and PDFs (product pictures,
    # payment receipts) are all Tendero keeps, so nothing else is fetched. The size is
    # also capped by TENDERO_MEDIA_MAX_BYTES (see media_max_bytes).
    max_media_bytes: ClassVar[int] = DEFAULT_MAX_DOWNLOAD_BYTES
    allowed_media_types: ClassVar[tuple[str, ...]] = ("image/", "application/pdf")

    def require_http(self) -> aiohttp.ClientSession:
        if self.http is None:
            raise ChannelError(
                f"{self.display_name}: no HTTP session attached (call attach() first)"
            )
        return self.http

    def app_secrets(self) -> list[str]:
        """Every accepted app secret, from the fields named in ``app_secret_settings``."""
        found: list[str] = []
        for name in self.app_secret_settings:
            value = str(getattr(self.settings, name, "") or "")
            found.extend(part.strip() for part in value.split(",") if part.strip())
        return found

    @property
    def app_id(self) -> str:
        return (
            str(getattr(self.settings, self.app_id_setting, "") or "")
            if self.app_id_setting
            else ""
        )

    async def handle_verify(self, request: web.Request) -> web.Response:
        """Meta's GET subscription handshake, with this channel's verify token."""
        token = str(getattr(self.settings, self.verify_token_setting, "") or "")
        return verify_handshake(request.query, token)

    def authenticate(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether a webhook POST is signed with one of this channel's app secrets."""
        return check_signature(body, _header(headers, SIGNATURE_HEADER), self.app_secrets())

    _graph_timeout: float | None = None

    @property
    def graph_timeout(self) -> float:
        """Seconds a Graph API call may take (``TENDERO_GRAPH_TIMEOUT``, unless set on
        the channel); a timeout is retryable (the send may have landed)."""
        if self._graph_timeout is not None:
            return self._graph_timeout
        return float(getattr(self.settings, "graph_timeout", None) or DEFAULT_TIMEOUT)

    @graph_timeout.setter
    def graph_timeout(self, seconds: float) -> None:
        self._graph_timeout = seconds

    @property
    def media_max_bytes(self) -> int:
        """The size cap of a download: the channel's own, or the operator's if smaller."""
        configured = getattr(self.settings, "media_max_bytes", None)
        return min(self.max_media_bytes, configured or self.max_media_bytes)

    @property
    def media_timeout(self) -> float:
        """Seconds a whole download may take (``TENDERO_MEDIA_TIMEOUT``)."""
        return float(getattr(self.settings, "media_timeout", None) or DEFAULT_MEDIA_TIMEOUT)

    def trusted_media_urls(self) -> tuple[str, ...]:
        """The configured Graph URLs: media may come from their hosts (besides Meta's
        media hosts), whatever their scheme or address."""
        names = ("graph_api_url", "instagram_graph_api_url")
        return tuple(url for name in names if (url := str(getattr(self.settings, name, ""))))

    def refuse_unwanted_type(self, attachment: Attachment) -> None:
        """Refuse, before any request, media whose type the webhook already gave and
        Tendero does not keep (a voice note, a video)."""
        declared = (attachment.mime_type or "").split(";", 1)[0].strip().lower()
        if declared and not _type_allowed(declared, self.allowed_media_types):
            raise GraphError(
                f"media of type {declared} is not accepted", retryable=False, code="media_type"
            )

    async def download_media(self, attachment: Attachment) -> tuple[bytes, str]:
        """Fetch what a customer sent (default: its CDN URL, no token), within the
        channel's caps and only from where Meta serves media
        (:meth:`GraphClient.download`)."""
        self.refuse_unwanted_type(attachment)
        if not attachment.url:
            raise ChannelError(f"{self.display_name}: the attachment has no URL")
        client = GraphClient(self.require_http(), "", "")
        return await client.download(
            attachment.url,
            max_bytes=self.media_max_bytes,
            allowed_types=self.allowed_media_types,
            timeout=self.media_timeout,
            trusted_urls=self.trusted_media_urls(),
        )
