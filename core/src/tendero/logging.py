"""Structured logs (structlog) to stderr: human-readable or JSON lines.

Secrets never reach the log: every line is rendered first and then has each known
secret value (channel app secrets and access tokens, verify tokens, the LLM key, the
secret key, passwords inside the SMTP, database and LLM URLs) replaced by
:data:`MASK`, also in the URL-quoted and JSON/repr-escaped forms a value takes inside
a URL or a quoted string. :func:`hide_secrets` registers the values of a
:class:`~tendero.settings.Settings` (``create_app`` does). Tracebacks are printed
without local variables, which could hold a token cut short where no mask finds it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

import structlog

if TYPE_CHECKING:
    from tendero.settings import Settings

MASK = "[secret]"
# Settings whose whole value is a secret.
SECRET_SETTINGS = (
    "secret_key",
    "whatsapp_app_secret",
    "whatsapp_verify_token",
    "whatsapp_access_token",
    "facebook_app_secret",
    "facebook_verify_token",
    "facebook_page_access_token",
    "instagram_app_secret",
    "instagram_verify_token",
    "instagram_access_token",
    "llm_api_key",
)
# Settings that are URLs and may carry a password.
URL_SETTINGS = ("smtp_url", "database_url", "llm_base_url")
# Shorter values are not masked: they would blank out ordinary words of the log.
MIN_SECRET_LENGTH = 6

_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def secret_values(settings: Settings) -> set[str]:
    """The secret values configured in ``settings``."""
    values = {str(getattr(settings, name, "") or "") for name in SECRET_SETTINGS}
    for name in URL_SETTINGS:
        url = str(getattr(settings, name, "") or "")
        try:
            password = urlsplit(url).password
        except ValueError:  # not a URL the log could show cut up anyway
            password = None
        if password:
            values.update({password, unquote(password)})
    return {value for value in values if len(value) >= MIN_SECRET_LENGTH}


def hide_secrets(values: Iterable[str]) -> None:
    """Mask ``values`` in every log line from now on (values shorter than
    :data:`MIN_SECRET_LENGTH` characters are ignored)."""
    global _pattern
    fresh = {value for value in values if len(value) >= MIN_SECRET_LENGTH} - _secrets
    if not fresh:
        return
    _secrets.update(fresh)
    forms = set()
    for value in _secrets:
        forms.update(
            {
                value,
                quote(value),
                quote(value, safe=""),
                quote_plus(value, safe=""),
                json.dumps(value)[1:-1],
                repr(value)[1:-1],
            }
        )
    # Longest first, so a secret containing another is masked whole.
    alternatives = sorted(forms, key=len, reverse=True)
    _pattern = re.compile("|".join(re.escape(form) for form in alternatives))


def mask_secrets(text: str) -> str:
    """``text`` with every registered secret replaced by :data:`MASK`."""
    if _pattern is None:
        return text
    return _pattern.sub(MASK, text)


def _mask_rendered(logger: Any, method_name: str, rendered: Any) -> Any:
    """The last processor: masks secrets in the rendered line."""
    if isinstance(rendered, str):
        return mask_secrets(rendered)
    if isinstance(rendered, bytes):
        return mask_secrets(rendered.decode("utf-8", "replace")).encode()
    return rendered


def configure_logging(level: str = "info", fmt: str = "console") -> None:
    """Route structlog and the standard library's logging to stderr in one format."""
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer, _mask_rendered],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
                _mask_rendered,
            ],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # Migration chatter on every start is noise at info level.
    logging.getLogger("alembic").setLevel(max(numeric, logging.WARNING))
    # aiohttp's access log is noise at info level; keep it for debug.
    logging.getLogger("aiohttp.access").setLevel(
        logging.INFO if numeric <= logging.DEBUG else logging.WARNING
    )
