"""The HTTP API (aiohttp): routes, middlewares and the OpenAPI document."""
