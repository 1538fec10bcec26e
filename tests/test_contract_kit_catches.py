"""The contract kit fails a plugin for each broken rule, and only for that rule.

Runs the kit in a separate pytest process against :mod:`tests.flawed_plugins`
(five agencies, one flaw each) and :mod:`tests.flawed_hooks` (a plugin per
flawed hook: raising, wrong types, other agencies' items, blocking the event
loop) and reads which tests failed from its JUnit report, so every contract
test is shown able to fail, and each hook flaw's message names the plugin.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from gateway.contract import hookimpl
from gateway.testing import AgencyContract, AgencyHarness, KitError, find_agency
from tests import flawed_hooks, flawed_plugins

ROOT = Path(__file__).parents[1]
KIT_RUN = """
from gateway.testing import AgencyContract
from tests import flawed_hooks, flawed_plugins

{classes}
"""
VALIDATE_TEST = "test_validate_answers_a_list_and_leaves_other_agencies_items_alone"
EXPECTED_FAILURES = {
    "leaky": {"test_logs_mask_personal_data"},
    "forgetful": {"test_a_repeated_submission_is_acted_on_once"},
    "swallowing": {  # the session's own read timeout is swallowed too
        "test_agency_down_is_agency_unavailable",
        "test_a_stalled_answer_is_agency_timeout",
        "test_garbage_is_agency_protocol_error",
    },
    "careless": {"test_item_samples_produce_a_valid_outcome"},
    "sketchy": {
        "test_catalogue_is_valid_and_every_guide_is_complete",
        "test_rejection_example_is_rejected_with_reasons",
    },
    "raising": {
        "test_catalogue_is_valid_and_every_guide_is_complete",
        "test_validate_answers_a_list_and_leaves_other_agencies_items_alone",
    },
    "mistyped": {
        "test_catalogue_is_valid_and_every_guide_is_complete",
        "test_validate_answers_a_list_and_leaves_other_agencies_items_alone",
    },
    "meddling": {"test_validate_answers_a_list_and_leaves_other_agencies_items_alone"},
    "blocking": {"test_no_hook_or_call_holds_the_event_loop"},
    "sleepy": {"test_no_hook_or_call_holds_the_event_loop"},
}
#: What the failure of each hook flaw says, after naming the plugin.
NAMED = {
    "raising": "plugin 'raising': onewindow_validate raised RuntimeError",
    "mistyped": "plugin 'mistyped': onewindow_validate returned str, expected a list of Problem",
    "meddling": "plugin 'meddling': onewindow_validate returned problems for tax.",
    "blocking": "plugin 'blocking': agency 'blocking' submit held the event loop for",
    "sleepy": "plugin 'sleepy': onewindow_startup held the event loop for",
}


def test_each_flaw_fails_exactly_the_contract_tests_about_it(tmp_path: Path) -> None:
    classes = "\n".join(
        f"class Test{code.title()}(AgencyContract):\n    agency = {code!r}\n    plugins = (flawed_plugins,)\n"
        for code in flawed_plugins.AGENCIES
    ) + "\n".join(
        f"class Test{code.title()}(AgencyContract):\n    agency = {code!r}\n"
        f"    plugins = (flawed_hooks.PLUGINS[{code!r}],)\n"
        for code in flawed_hooks.PLUGINS
    )
    (tmp_path / "test_flawed_contract.py").write_text(KIT_RUN.format(classes=classes), encoding="utf-8")
    report = tmp_path / "report.xml"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KIT_FLAWS_DIR": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.exists(), run.stdout + run.stderr
    codes = [*flawed_plugins.AGENCIES, *flawed_hooks.PLUGINS]
    failed: dict[str, set[str]] = {code: set() for code in codes}
    passed: dict[str, int] = dict.fromkeys(codes, 0)
    said: dict[str, str] = dict.fromkeys(codes, "")
    for case in ET.parse(report).iter("testcase"):
        code = case.get("classname", "").rsplit(".Test", 1)[-1].lower()
        name = case.get("name", "").split("[", 1)[0]
        failure = case.find("failure") if case.find("failure") is not None else case.find("error")
        if failure is not None:
            failed[code].add(name)
            said[code] += (failure.get("message") or "") + (failure.text or "")
        elif case.find("skipped") is None:
            passed[code] += 1
    assert failed == EXPECTED_FAILURES, run.stdout[-4000:]
    assert all(count >= 8 for count in passed.values()), passed  # everything else about each plugin passes
    for code, message in NAMED.items():
        assert message in said[code], said[code][-2000:]


def test_a_sandbox_that_cannot_start_fails_the_kit_naming_the_plugin(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("KIT_FLAWS_DIR", str(tmp_path))
    unstartable = flawed_hooks.Unstartable("unstartable")
    target = find_agency("unstartable", (unstartable,))
    harness = AgencyHarness(target)
    with pytest.raises(KitError) as refused:
        asyncio.run(harness.__aenter__())
    assert str(refused.value) == (
        "plugin 'unstartable': the unstartable sandbox cannot start: OSError: the agency's test data is missing"
    )


class Collecting(flawed_hooks._Plugin):
    """Well behaved; a full collection of the process's garbage falls inside its start-up hook."""

    @hookimpl
    def onewindow_startup(self, gateway: Any) -> None:
        gc.collect()


def test_a_collection_of_the_test_runs_own_garbage_is_not_put_down_to_the_plugin(tmp_path: Path, monkeypatch) -> None:
    """A long pytest run's heap, walked by a collection inside a plugin's call, does not fail the hold test."""
    monkeypatch.setenv("KIT_FLAWS_DIR", str(tmp_path))
    threshold, heap = 0.05, []
    while True:  # as large a heap as makes a full collection last three times the threshold
        heap.extend([i] for i in range(500_000))
        started = time.perf_counter()
        gc.collect()
        if time.perf_counter() - started >= 3 * threshold:
            break
        assert len(heap) < 6_000_000, "a full collection stays short on this machine: the test proves nothing"

    class TestCollecting(AgencyContract):
        agency = "collecting"
        plugins = (Collecting("collecting"),)
        block_threshold_s = threshold

    TestCollecting().test_no_hook_or_call_holds_the_event_loop()
    assert heap
