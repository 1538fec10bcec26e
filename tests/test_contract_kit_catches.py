"""The contract kit fails a plugin for each broken rule, and only for that rule.

Runs the kit in a separate pytest process against :mod:`tests.flawed_plugins`
(five agencies, one flaw each) and reads which tests failed from its JUnit
report, so every contract test is shown able to fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from tests import flawed_plugins

ROOT = Path(__file__).parents[1]
KIT_RUN = """
from gateway.testing import AgencyContract
from tests import flawed_plugins

{classes}
"""
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
}


def test_each_flaw_fails_exactly_the_contract_tests_about_it(tmp_path: Path) -> None:
    classes = "\n".join(
        f"class Test{code.title()}(AgencyContract):\n    agency = {code!r}\n    plugins = (flawed_plugins,)\n"
        for code in flawed_plugins.AGENCIES
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
    failed: dict[str, set[str]] = {code: set() for code in flawed_plugins.AGENCIES}
    passed: dict[str, int] = dict.fromkeys(flawed_plugins.AGENCIES, 0)
    for case in ET.parse(report).iter("testcase"):
        code = case.get("classname", "").rsplit(".Test", 1)[-1].lower()
        name = case.get("name", "").split("[", 1)[0]
        if case.find("failure") is not None or case.find("error") is not None:
            failed[code].add(name)
        elif case.find("skipped") is None:
            passed[code] += 1
    assert failed == EXPECTED_FAILURES, run.stdout[-4000:]
    assert all(count >= 8 for count in passed.values()), passed  # everything else about each plugin passes
