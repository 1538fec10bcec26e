"""An authenticated caller: the intake system, its office, and what the configuration lets it do."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.config import CallbackPrefix, CallbackTarget, CallerConfig, Office, Settings, allowed


@dataclass(frozen=True)
class Caller:
    """An authenticated intake system, with the office it sits in."""

    id: str
    name: str
    office: Office
    channel: str
    items: tuple[str, ...]
    callback_secret: str = ""
    callback_prefixes: tuple[CallbackPrefix, ...] = ()
    read_office_requests: bool = False
    methods: tuple[str, ...] = ("signature",)  # how it may authenticate (``methods`` in its [[callers]] table)

    def may_call_back(self, target: CallbackTarget) -> bool:
        """Whether results may be POSTed to ``target``: signed (a secret) and under a configured prefix."""
        return bool(self.callback_secret) and allowed(target, self.callback_prefixes)


def caller_of(config: CallerConfig, settings: Settings) -> Caller:
    """The caller a ``[[callers]]`` table describes, with its office resolved."""
    office = settings.office(config.office)
    assert office is not None  # checked when the configuration was loaded
    return Caller(
        config.id,
        config.name,
        office,
        config.channel,
        config.items,
        config.callback_secret,
        config.callback_prefixes,
        config.read_office_requests,
        config.methods,
    )


def callers_by_id(configs: Iterable[CallerConfig], settings: Settings) -> dict[str, Caller]:
    """Every configured caller by id."""
    return {c.id: caller_of(c, settings) for c in configs}


def caller_by_id(settings: Settings, caller_id: str) -> Caller | None:
    """The configured caller ``caller_id`` (work done later on its behalf, such as a bundle's next step)."""
    config = next((c for c in settings.callers if c.id == caller_id), None)
    return None if config is None else caller_of(config, settings)
