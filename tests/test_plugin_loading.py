"""A plugin that cannot load, or whose sandbox cannot start: one line naming it, and the others still serve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.agencies.plugin_manager import plugin_manager
from gateway.api.app import create_app
from gateway.cli.main import main
from gateway.core import Gateway
from gateway.errors import PluginError
from tests.conftest import gateway_settings
from tests.flawed_hooks import Unstartable
from tests.procs import free_port_offset
from tests.test_hooks import REQUEST

BROKEN = "plugin 'broken_agency' cannot be loaded from onewindow_broken_agency: ModuleNotFoundError: No module named"


@pytest.fixture
def broken_plugin_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed distribution whose ``onewindow`` entry point imports a module that is not there."""
    site = tmp_path / "site"
    info = site / "onewindow_broken_agency-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: onewindow-broken-agency\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[onewindow]\nbroken_agency = onewindow_broken_agency\n")
    (site / "onewindow_broken_agency.py").write_text("import onewindow_lost_dependency\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))


def test_a_plugin_that_cannot_be_imported_is_refused_in_one_line_naming_it(broken_plugin_installed) -> None:
    with pytest.raises(PluginError) as refused:
        plugin_manager()
    assert str(refused.value).startswith(BROKEN) and "\n" not in str(refused.value)
    tolerant = plugin_manager(strict=False)
    assert list(tolerant.failed) == ["broken_agency"] and tolerant.get_plugin("tax") is not None


def test_the_command_line_says_so_in_one_line_with_exit_2(broken_plugin_installed, capsys) -> None:
    assert main(["catalog", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"onewindow: {BROKEN}") and err.count("\n") == 1 and "Traceback" not in err


async def test_with_sandboxes_started_the_other_agencies_serve_and_readyz_names_the_failed_plugins(
    broken_plugin_installed, district, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIT_FLAWS_DIR", str(tmp_path))
    settings = gateway_settings(
        f"sqlite:///{tmp_path}/gw.db",
        district,
        sandboxes_start=True,
        sandboxes_port_offset=free_port_offset(),  # away from a developer's sample and from other test workers
    )
    pm = plugin_manager(extra=(Unstartable("unstartable"),), strict=False)
    gateway = Gateway(settings, pm=pm)
    await gateway.start()
    client: Any = TestClient(TestServer(create_app(gateway), host="127.0.0.1"))
    await client.start_server()
    try:
        ready = await client.get("/readyz")
        report = await ready.json()
        assert ready.status == 503 and report["plugins"]["ok"] is False
        failed = report["plugins"]["failed"]
        assert sorted(failed) == ["broken_agency", "unstartable"]
        assert failed["broken_agency"].startswith(BROKEN)
        assert failed["unstartable"].startswith(
            "plugin 'unstartable': the unstartable sandbox cannot start on 127.0.0.1:"
        )
        assert "tax" in report["agencies"] and "unstartable" not in report["agencies"]
        answer = await client.post(
            "/v1/requests", json=REQUEST, headers={"Authorization": "Bearer sample-fangzhen-window-key"}
        )
        assert answer.status == 201
    finally:
        await client.close()
        await gateway.stop(grace_s=0.5)


async def test_in_production_a_plugin_that_cannot_load_stops_the_start(
    broken_plugin_installed, district, tmp_path
) -> None:
    settings = gateway_settings(f"sqlite:///{tmp_path}/gw.db", district)
    with pytest.raises(PluginError, match=r"^plugin 'broken_agency' cannot be loaded"):
        Gateway(settings)
