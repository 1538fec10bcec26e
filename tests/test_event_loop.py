"""A serving process runs on the event loop ``[server] event_loop`` names: uvloop unless told otherwise."""

from __future__ import annotations

import asyncio
import re
import sys
import warnings
from pathlib import Path

import pytest

from gateway.api import event_loop
from gateway.config import ConfigError, load_settings
from gateway.errors import StartupError
from tests.procs import serving_line


async def _running_loop() -> str:
    return event_loop.loop_name(asyncio.get_running_loop())


def test_the_default_is_uvloop() -> None:
    assert load_settings(environ={}).event_loop == "uvloop"


@pytest.mark.parametrize("name", ["uvloop", "asyncio"])
def test_run_runs_on_the_named_loop(name: str) -> None:
    assert event_loop.run(_running_loop(), event_loop=name) == name


def test_a_missing_uvloop_is_a_one_line_start_up_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    main = _running_loop()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the coroutine is closed, never left "never awaited"
        with pytest.raises(StartupError, match=re.escape('server.event_loop = "asyncio"')):
            event_loop.run(main, event_loop="uvloop")
    assert main.cr_frame is None  # closed


def test_an_unknown_loop_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "onewindow.toml"
    path.write_text('[server]\nevent_loop = "trio"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape("server.event_loop: must be uvloop or asyncio, not 'trio'")):
        load_settings(path, environ={})


@pytest.mark.parametrize("name", ["uvloop", "asyncio"])
async def test_a_serving_gateway_runs_on_the_configured_loop(district, tmp_path: Path, name: str) -> None:
    assert (await serving_line(tmp_path, district, event_loop=name))["event_loop"] == name
