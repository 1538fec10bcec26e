"""The onewindow pytest plugin (entry point pytest11): loaded everywhere, so cheap and harmless."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_loading_the_plugin_imports_nothing_heavy(tmp_path: Path) -> None:
    heavy = ("aiohttp", "structlog", "gateway.contract")
    probe = f"import sys, gateway.testing; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    assert run("-c", probe, cwd=tmp_path).stdout.strip() == "[]"


def test_an_unrelated_pytest_run_loads_the_plugin_and_is_unaffected(tmp_path: Path) -> None:
    (tmp_path / "test_unrelated.py").write_text("def test_arithmetic():\n    assert 1 + 1 == 2\n", encoding="utf-8")
    result = run("-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=tmp_path)
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr
    markers = run("-m", "pytest", "--markers", "-p", "no:cacheprovider", cwd=tmp_path).stdout
    assert "onewindow_contract: the onewindow agency plugin contract tests" in markers  # registered via pytest11
    fixtures = run("-m", "pytest", "--fixtures", "-p", "no:cacheprovider", cwd=tmp_path).stdout
    assert "agency_kit" in fixtures
