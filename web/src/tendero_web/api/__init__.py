"""The JSON API under ``/api/v1/`` (bearer tokens) and its OpenAPI document."""

from __future__ import annotations

from aiohttp import web


def setup_api(app: web.Application) -> None:
    """Mount the API routes on ``app`` (to be built)."""
