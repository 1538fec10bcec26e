"""``onewindow new-plugin``: a plugin package that installs, is found, and passes its tests as generated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from gateway.agencies.plugin_manager import plugin_manager
from gateway.agencies.sandboxes import sandbox_specs
from gateway.cli.main import main
from gateway.cli.new_plugin.scaffold import PORTS, check_name, placeholders, sandbox_port
from gateway.errors import ScaffoldError
from tests.procs import free_port, free_port_offset

BIN = Path(sys.executable).parent
NAME = "civil_affairs"


def generate(tmp_path: Path, name: str = NAME) -> Path:
    target = tmp_path / f"onewindow-{name}"
    assert main(["new-plugin", name, "--dir", str(target)]) == 0
    return target


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("Civil-Affairs", "is not an agency code"),
        ("civil affairs", "is not an agency code"),
        ("_civil", "is not an agency code"),
        ("civil__affairs", "is not an agency code"),
        ("class", "is not an agency code"),
        ("tax", "agency 'tax' already exists"),
        ("property", "agency 'property' already exists"),
    ],
)
def test_a_bad_name_is_refused_in_one_line_with_exit_2(tmp_path: Path, capsys, name: str, why: str) -> None:
    assert main(["new-plugin", name, "--dir", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("onewindow: ") and err.count("\n") == 1 and why in err
    assert not (tmp_path / "x").exists()


def test_a_non_empty_directory_is_refused(tmp_path: Path, capsys) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["new-plugin", NAME, "--dir", str(tmp_path)]) == 2
    assert "is not an empty directory" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_the_default_directory_is_onewindow_name(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["new-plugin", "water_supply"]) == 0
    package = tmp_path / "onewindow-water_supply"
    assert (package / "onewindow_water_supply" / "plugin.py").exists()
    assert 'water_supply = "onewindow_water_supply.plugin"' in (package / "pyproject.toml").read_text(encoding="utf-8")


def test_the_package_has_every_part_filled_in_and_is_ruff_clean(tmp_path: Path) -> None:
    target = generate(tmp_path)
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "onewindow_civil_affairs/__init__.py",
        "onewindow_civil_affairs/catalogue.toml",
        "onewindow_civil_affairs/client.py",
        "onewindow_civil_affairs/plugin.py",
        "onewindow_civil_affairs/sandbox.py",
        "pyproject.toml",
        "tests/test_client.py",
        "tests/test_contract.py",
    ]
    pyproject = (target / "pyproject.toml").read_text(encoding="utf-8")
    assert 'name = "onewindow-civil-affairs"' in pyproject
    assert f'dependencies = ["{placeholders(NAME)["onewindow_requirement"]}"]' in pyproject
    assert "class TestCivilAffairsContract(AgencyContract)" in (target / "tests/test_contract.py").read_text("utf-8")
    for path in target.rglob("*"):
        assert not path.is_file() or "${" not in path.read_text(encoding="utf-8"), path
    lint = subprocess.run([BIN / "ruff", "check", "."], cwd=target, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    fmt = subprocess.run([BIN / "ruff", "format", "--check", "."], cwd=target, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout


def test_the_sandbox_port_is_fixed_by_the_name_and_moves_past_ports_installed_sandboxes_use(
    tmp_path: Path, capsys
) -> None:
    port = sandbox_port(NAME)
    assert port in PORTS and sandbox_port(NAME) == port
    assert sandbox_port(NAME, {port}) not in (port, *range(9101, 9106))
    assert placeholders(NAME, {port})["port"] == str(sandbox_port(NAME, {port}))
    target = generate(tmp_path)
    said = capsys.readouterr().out
    installed = {spec.default_port for spec in sandbox_specs(plugin_manager())}
    chosen = sandbox_port(NAME, installed)
    assert f"Its sandbox serves on 127.0.0.1:{chosen} (no installed plugin's sandbox uses it" in said
    assert f"default_port={chosen}," in (target / "onewindow_civil_affairs" / "sandbox.py").read_text("utf-8")


def test_names_are_checked_before_anything_is_written() -> None:
    with pytest.raises(ScaffoldError, match="already exists"):
        check_name("medical", ["tax", "medical"])
    check_name("civil_affairs2", ["tax"])


@pytest.mark.slow
def test_a_generated_plugin_installs_is_found_and_passes_its_tests(tmp_path: Path) -> None:
    target = generate(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site_packages = next((venv / "lib").glob("python3*/site-packages"))
    # The new environment sees onewindow and its dependencies without copying them (nor touching this venv).
    project_site = sysconfig.get_paths()["purelib"]
    (site_packages / "onewindow-env.pth").write_text(f"import site; site.addsitedir({project_site!r})\n")
    python = venv / "bin" / "python"

    def run(*args: str | Path, cwd: Path = target) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300)

    installed = run(python, "-m", "pip", "install", "--quiet", "--no-deps", "-e", target)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    found = run(
        python,
        "-c",
        "from importlib.metadata import entry_points; print(entry_points(group='onewindow')['civil_affairs'].value)",
        cwd=tmp_path,  # not the package directory, whose build metadata would be found on sys.path[0]
    )
    assert found.stdout.strip() == "onewindow_civil_affairs.plugin", found.stderr
    tests = run(python, "-m", "pytest", "-q")
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert "18 passed" in tests.stdout
    listing = run(python, "-m", "gateway.cli.main", "catalog", "list", "--agency", NAME, cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert "civil_affairs.allowance-record" in listing.stdout and "civil_affairs.temporary-assistance" in listing.stdout
    sealed = serve_and_submit(python, tmp_path / "gateway")  # docs/plugins.md step 4: to a sealed result
    assert sealed["status"] == "completed" and sealed["result"]["seal"]["number"].startswith("370303-BM-")
    ours = run(
        sys.executable,
        "-c",
        "from importlib.metadata import entry_points; print(sorted(entry_points(group='onewindow').names))",
        cwd=tmp_path,
    )
    assert "tax" in ours.stdout and NAME not in ours.stdout  # the project's own environment is untouched


#: docs/plugins.md, step 4: the district names the new agency (the sample district names only its own five).
IDENTITY = {
    "ONEWINDOW_AGENCIES__CIVIL_AFFAIRS__NAME_ZH": "示范民政局",
    "ONEWINDOW_AGENCIES__CIVIL_AFFAIRS__NAME_EN": "Example civil affairs bureau",
    "ONEWINDOW_AGENCIES__CIVIL_AFFAIRS__AUTHORITY_ZH": "示范民政局",
    "ONEWINDOW_AGENCIES__CIVIL_AFFAIRS__AUTHORITY_EN": "Example civil affairs bureau",
    "ONEWINDOW_AGENCIES__CIVIL_AFFAIRS__CREDIT_CODE": "11000000MB00000001",
}
SUBMIT = {  # the request of docs/plugins.md, step 4
    "item": "civil_affairs.allowance-record",
    "applicant": {"kind": "person", "id_number": "370303199001011239", "name": "张伟"},
    "materials": {"year": 2025},
    "office": "370303105000",
    "operator": "fz-window-01",
    "channel": "window",
}


def serve_and_submit(python: Path, workdir: Path) -> dict[str, Any]:
    """Start the sample gateway with the new plugin (its own ports), submit the documented request, stop."""
    workdir.mkdir()
    port = free_port()
    installed = {spec.default_port for spec in sandbox_specs(plugin_manager())}
    env = {
        **os.environ,
        **IDENTITY,
        "ONEWINDOW_SERVER__PORT": str(port),
        # away from a running sample, another test's sandboxes and the ephemeral ports
        "ONEWINDOW_SANDBOXES__PORT_OFFSET": str(free_port_offset(sandbox_port(NAME, installed))),
    }
    log = workdir / "gateway.log"
    with log.open("w") as out:
        gateway = subprocess.Popen(
            [str(python), "-m", "gateway.cli.main", "serve"], cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        # serving, with the new plugin's sandbox listed (a line printed after "Onewindow is serving")
        _wait_for(gateway, log, "civil_affairs=http://127.0.0.1:", timeout=120)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/requests",
            data=json.dumps(SUBMIT, ensure_ascii=False).encode(),
            headers={"Authorization": "Bearer sample-fangzhen-window-key", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 201
            return dict(json.loads(answer.read()))
    finally:
        gateway.terminate()
        try:
            gateway.wait(timeout=30)
        except subprocess.TimeoutExpired:
            gateway.kill()
            gateway.wait(timeout=10)


def _wait_for(process: subprocess.Popen[str], log: Path, text: str, *, timeout: float) -> str:
    """What ``process`` wrote to ``log`` once it holds ``text`` (bounded in time)."""
    give_up = time.monotonic() + timeout
    while text not in (said := log.read_text(encoding="utf-8", errors="replace")):
        assert time.monotonic() < give_up and process.poll() is None, said[-3000:]
        time.sleep(0.2)
    return said
