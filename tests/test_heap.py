"""The serving process sets start-up's objects aside from the garbage collector."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.heap import settle_heap
from tests.procs import Process, free_port, write_config

AGENCIES = ("tax", "social_security", "medical", "housing_fund", "property")


@pytest.fixture
def restored_collector() -> Iterator[None]:
    try:
        yield
    finally:
        gc.unfreeze()


def _walked(target: object) -> bool:
    """Whether a collection walks ``target`` (the collector's generations hold it)."""
    return any(candidate is target for candidate in gc.get_objects())


def test_what_start_up_built_is_never_walked_again(restored_collector) -> None:
    built = {"catalogue": [{"item": i} for i in range(1000)]}  # long-lived, as start-up's objects are
    assert _walked(built)
    frozen = settle_heap()
    assert frozen >= len(built["catalogue"])
    assert not _walked(built) and not _walked(built["catalogue"][0])
    later = [{"request": [1]}]
    assert _walked(later)  # what is made after start-up is collected as before


async def test_a_serving_gateway_says_how_many_objects_it_set_aside(district, tmp_path: Path) -> None:
    port = free_port()
    config = write_config(
        tmp_path / "onewindow.toml",
        store_url=f"sqlite:///{tmp_path / 'onewindow.db'}",
        district=district,
        logging={"level": "info"},
        server={"host": "127.0.0.1", "port": port},
        agencies={code: {"base_url": "http://127.0.0.1:9"} for code in AGENCIES},
    )
    gateway = Process("gateway", ["serve", "--config", str(config)], tmp_path)
    try:
        await gateway.start()
        await gateway.wait_for_output("District root certificate sha256: ")
        lines = gateway.err_path.read_text(encoding="utf-8").splitlines()
        serving = [json.loads(line) for line in lines if '"gateway.serving"' in line]
        assert serving and serving[0]["frozen_objects"] > 10_000, lines[-5:]
    finally:
        await gateway.stop()
