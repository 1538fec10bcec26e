"""What an operator watches: seal expiry, the trust bundle, the audit log, agency credentials; the alert rules."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.test_metrics import QUERY, scrape, value

RULES = Path(__file__).resolve().parents[1] / "docs" / "monitoring" / "onewindow-alerts.yml"


async def test_seal_expiry_the_trust_bundle_and_the_audit_log_are_gauges(start_gateway) -> None:
    gw = await start_gateway()
    assert (await gw.post(QUERY)).status == 201
    await gw.gateway.audit.checkpoint()
    samples = await scrape(gw)
    seals = {labels: v for (name, labels), v in samples.items() if name == "onewindow_seal_certificate_expiry_days"}
    offices = {dict(labels)["office"] for labels in seals}
    assert offices == set(gw.gateway.settings.offices) and all(1000 < days < 1100 for days in seals.values())
    assert value(samples, "onewindow_trust_bundle_available") == 1
    assert 6 * 86400 < value(samples, "onewindow_trust_bundle_next_update_seconds") <= 7 * 86400
    assert value(samples, "onewindow_audit_damaged") == 0
    assert 0 <= value(samples, "onewindow_audit_last_checkpoint_age_seconds") < 60


async def test_an_agency_refusing_our_credentials_and_a_failed_audit_append_are_counted(start_gateway) -> None:
    gw = await start_gateway(agency_changes={"tax": {"secrets": {"app_key": "demo-app", "app_secret": "wrong" * 8}}})
    answer = await gw.post(QUERY)
    assert answer.status >= 400
    samples = await scrape(gw)
    assert value(samples, "onewindow_agency_auth_failures_total", agency="tax") >= 1

    async def broken(entries):  # the database refuses the append (disk full, a lost connection)
        raise OSError("the database is gone")

    gw.gateway.audit.store.append = broken
    assert (await gw.post(QUERY)).status >= 500
    assert value(await scrape(gw), "onewindow_audit_append_failures_total") >= 1


async def test_metrics_require_the_token_when_one_is_configured(start_gateway, tmp_path) -> None:
    from gateway.config import MetricsSettings

    token = tmp_path / "metrics-token"
    token.write_text("a-long-monitoring-token-1234\n", encoding="ascii")
    gw = await start_gateway(metrics=MetricsSettings(token_file=str(token)))
    refused = await gw.client.get("/metrics")
    assert refused.status == 401 and refused.content_type == "application/problem+json"
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = await gw.client.get("/metrics", headers={"Authorization": "Bearer a-long-monitoring-token-9999"})
    assert wrong.status == 401
    good = await gw.client.get("/metrics", headers={"Authorization": "Bearer a-long-monitoring-token-1234"})
    assert good.status == 200 and "onewindow_requests_accepted" in await good.text()


async def test_a_short_metrics_token_stops_the_start(start_gateway, tmp_path) -> None:
    from gateway.config import MetricsSettings
    from gateway.errors import StartupError

    token = tmp_path / "metrics-token"
    token.write_text("short\n", encoding="ascii")
    with pytest.raises(StartupError, match="at least 16"):
        await start_gateway(metrics=MetricsSettings(token_file=str(token)))


def _rules() -> list[dict]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_every_alert_rule_is_complete() -> None:
    rules = _rules()
    assert len(rules) >= 10
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert re.fullmatch(r"Onewindow[A-Za-z]+", rule["alert"])
        assert rule["labels"]["severity"] in ("warning", "critical") and rule["annotations"]["summary"]
        assert rule["expr"].count("(") == rule["expr"].count(")")
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "1m"))


async def test_every_metric_an_alert_uses_is_one_the_gateway_exports(start_gateway) -> None:
    gw = await start_gateway()
    assert (await gw.post(QUERY)).status == 201
    await gw.gateway.audit.checkpoint()
    exported = {name for name, _ in await scrape(gw)}
    text = await (await gw.client.get("/metrics")).text()
    exported |= set(re.findall(r"^# TYPE (\S+) ", text, re.MULTILINE))  # a labelled metric with no sample yet
    exported |= {f"{name}_total" for name in exported}
    used = {m for rule in _rules() for m in re.findall(r"\bonewindow_[a-z_]+\b", rule["expr"])}
    assert used and used <= exported, sorted(used - exported)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_alert_rules() -> None:
    done = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_state_gauges_register_in_a_registry_as_the_workers_share_one() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from gateway.observability.state_gauges import StateSnapshot

    registry = CollectorRegistry()  # under --workers the exposition is built in a registry of its own
    registry.register(StateSnapshot(seal_days=[("370303-BM-0001", "370303105000", "service_centre", 9.5)]))
    assert b'onewindow_seal_certificate_expiry_days{kind="service_centre"' in generate_latest(registry)
