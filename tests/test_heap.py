"""The serving process sets start-up's objects aside from the garbage collector."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.heap import settle_heap
from tests.procs import serving_line


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
    assert (await serving_line(tmp_path, district))["frozen_objects"] > 10_000
