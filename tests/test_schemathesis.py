"""schemathesis against the running gateway's own /openapi.json: no server error, no answer off the document.

The document's request body is every item's envelope schema, with every
item's example, so the run reaches past authentication: the examples are
accepted (201/202, through the agencies' sandboxes and the seal), and the
coverage phase's variants of them reach validation (422) and
authorisation (403). The checks are the ones about the gateway's answers:
no 5xx, every status, content type, header and body as the document says.
The run is bounded by its example counts (fixed seed, one worker) and a
time limit, and it reports its figures with the fault suite's.
"""

from __future__ import annotations

import asyncio
import collections
import json
import sys
from pathlib import Path

from tests.burst import REPORTS
from tests.helpers import WINDOW_KEY

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
MAX_EXAMPLES = 10  # per operation, in the fuzzing phase; the examples and coverage phases are bounded by the document
TIME_LIMIT_S = 400


def _interactions(report: Path) -> list[tuple[str, int | None]]:
    """(operation, status) of every request the run sent, from its NDJSON events."""
    seen = []
    with report.open(encoding="utf-8") as events:
        for line in events:
            finished = json.loads(line).get("ScenarioFinished")
            if finished is None:
                continue
            recorder = finished["recorder"]
            for interaction in (recorder.get("interactions") or {}).values():
                response = interaction.get("response")
                seen.append((recorder["label"], response["status_code"] if response else None))
    return seen


async def test_schemathesis_finds_no_server_error_and_no_answer_the_document_does_not_describe(
    start_gateway, tmp_path
) -> None:
    gw = await start_gateway()
    report = tmp_path / "events.ndjson"
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        str(gw.client.make_url("/openapi.json")),
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        "20260101",
        "--workers",
        "1",
        "--header",
        f"Authorization: Bearer {WINDOW_KEY}",
        "--generation-with-security-parameters",  # the API key above authenticates; a random Signature would not
        "false",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
        "--no-color",
    ]
    process = await asyncio.create_subprocess_exec(  # in tmp_path: schemathesis keeps its cache in the cwd
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), TIME_LIMIT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"schemathesis ran past {TIME_LIMIT_S} s") from None
    text = output.decode("utf-8", "replace")
    assert process.returncode == 0, "schemathesis found failures:\n" + text[-6000:]

    seen = _interactions(report)
    statuses = collections.Counter(status for _, status in seen)
    operations = {label for label, _ in seen}
    intake = collections.Counter(status for label, status in seen if label == "POST /v1/requests")
    REPORTS.append(
        f"schemathesis: {len(operations)} operations, {len(seen)} requests, statuses "
        + ", ".join(f"{status}×{count}" for status, count in sorted(statuses.items(), key=str))
        + f"; POST /v1/requests: {intake[201]}×201, {intake[202]}×202, {intake[422]}×422, {intake[403]}×403"
    )
    catalogue = list(gw.gateway.registry.catalogue)
    assert intake[201] + intake[202] >= len(catalogue), "not every item's example reached its agency"
    assert intake[422] > 0 and 500 not in statuses
