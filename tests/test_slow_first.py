"""The long end-to-end tests start first, so that a parallel run does not wait for one of them alone at its end."""

from __future__ import annotations

import pytest

from tests.conftest import slow_first


class _Item:
    def __init__(self, name: str, *, slow: bool) -> None:
        self.name, self.slow = name, slow

    def get_closest_marker(self, name: str) -> object | None:
        return object() if name == "slow" and self.slow else None


def test_slow_tests_come_first_and_each_group_keeps_its_order() -> None:
    items = [_Item("a", slow=False), _Item("b", slow=True), _Item("c", slow=False), _Item("d", slow=True)]
    assert [item.name for item in slow_first(items)] == ["b", "d", "a", "c"]


def test_this_run_collected_its_slow_tests_first(request: pytest.FixtureRequest) -> None:
    marked = [item.get_closest_marker("slow") is not None for item in request.session.items]
    if not any(marked):
        pytest.skip("this run collected no test marked slow (a run of some files only)")
    first_plain = marked.index(False)
    assert not any(marked[first_plain:]), "a test marked slow was collected after an unmarked one"
