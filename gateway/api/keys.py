"""Typed keys for what the aiohttp application carries."""

from __future__ import annotations

from typing import Any

from aiohttp import web

GATEWAY: web.AppKey[Any] = web.AppKey("gateway", object)
