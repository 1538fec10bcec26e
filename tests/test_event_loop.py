"""A serving process runs on the event loop ``[server] event_loop`` names: uvloop unless told otherwise."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import warnings
from pathlib import Path

import pytest

from gateway.api import event_loop
from gateway.config import ConfigError, load_settings
from gateway.errors import StartupError
from tests.procs import Process, free_port, write_config

AGENCIES = ("tax", "social_security", "medical", "housing_fund", "property")


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
    config = write_config(
        tmp_path / "onewindow.toml",
        store_url=f"sqlite:///{tmp_path / 'onewindow.db'}",
        district=district,
        logging={"level": "info"},
        server={"host": "127.0.0.1", "port": free_port(), "event_loop": name},
        agencies={code: {"base_url": "http://127.0.0.1:9"} for code in AGENCIES},
    )
    gateway = Process("gateway", ["serve", "--config", str(config)], tmp_path)
    try:
        await gateway.start()
        await gateway.wait_for_output("District root certificate sha256: ")
        lines = gateway.err_path.read_text(encoding="utf-8").splitlines()
        serving = [json.loads(line) for line in lines if '"gateway.serving"' in line]
        assert serving and serving[0]["event_loop"] == name, lines[-5:]
    finally:
        await gateway.stop()
