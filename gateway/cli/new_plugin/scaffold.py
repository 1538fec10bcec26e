"""``onewindow new-plugin NAME``: a new agency plugin, installable and passing its tests as generated.

An agency developer should start from something that works -- an adapter,
a catalogue, a sandbox and the contract tests, all green -- and change it
into their agency, rather than from an empty directory and a document.
The templates (``gateway/cli/new_plugin/templates``, package data) are a small
JSON-over-HTTP agency with an API key; ``$name``-style placeholders are
filled in here.
"""

from __future__ import annotations

import hashlib
import keyword
import re
import string
from collections.abc import Iterable, Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from gateway import __version__
from gateway.errors import ScaffoldError

AGENCY_CODE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
TEMPLATE_SUFFIX = ".tmpl"
PACKAGE_DIR = "package"  # becomes onewindow_<name>/


def check_name(name: str, existing: Iterable[str]) -> None:
    """Refuse a name that is not a lower_snake_case agency code, or that an installed plugin already uses."""
    if not AGENCY_CODE.match(name) or len(name) > 40 or keyword.iskeyword(name):
        raise ScaffoldError(
            f"{name!r} is not an agency code: use at most 40 lower_snake_case letters and digits, e.g. civil_affairs "
            "(it becomes the first part of every item code)"
        )
    if name in set(existing):
        raise ScaffoldError(f"agency {name!r} already exists (an installed plugin registers it); choose another name")


PORTS = range(9200, 9900)  # new plugins' sandboxes: away from the built-in ones (9101-9105)


def sandbox_port(name: str, taken: Iterable[int] = ()) -> int:
    """The sandbox port of a new agency ``name``: fixed by its name, moved on past ports installed sandboxes use."""
    busy = set(taken)
    start = int(hashlib.sha256(name.encode()).hexdigest(), 16) % len(PORTS)
    for step in range(len(PORTS)):
        port = PORTS[(start + step) % len(PORTS)]
        if port not in busy:
            return port
    raise ScaffoldError(f"every sandbox port {PORTS.start}-{PORTS.stop - 1} is taken by an installed plugin")


def placeholders(name: str, taken_ports: Iterable[int] = ()) -> dict[str, str]:
    """The values filled into the templates for agency ``name`` (``taken_ports``: installed sandboxes' ports)."""
    camel = "".join(part.capitalize() for part in name.split("_"))
    major, minor = (int(part) for part in __version__.split(".")[:2])
    return {
        "name": name,
        "package": f"onewindow_{name}",
        "distribution": f"onewindow-{name.replace('_', '-')}",
        "name_upper": name.upper(),
        "class_name": f"{camel}Agency",
        "test_class": f"Test{camel}Contract",
        "port": str(sandbox_port(name, taken_ports)),
        "onewindow_requirement": f"onewindow>={major}.{minor},<{major}.{minor + 1}",
    }


def _templates(root: Traversable, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Traversable]]:
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.is_dir() and not entry.name.startswith("__"):
            yield from _templates(entry, (*prefix, entry.name))
        elif entry.name.endswith(TEMPLATE_SUFFIX):
            yield (*prefix, entry.name.removesuffix(TEMPLATE_SUFFIX)), entry


def scaffold(
    name: str, directory: Path, *, existing: Iterable[str] = (), taken_ports: Iterable[int] = ()
) -> list[Path]:
    """Write the plugin package for agency ``name`` into ``directory`` (new or empty); the files written."""
    check_name(name, existing)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ScaffoldError(f"{directory} is not an empty directory; choose another with --dir")
    values = placeholders(name, taken_ports)
    written = []
    for parts, template in _templates(resources.files("gateway.cli.new_plugin") / "templates"):
        relative = [values["package"] if part == PACKAGE_DIR else part for part in parts]
        target = directory.joinpath(*relative)
        text = string.Template(template.read_text(encoding="utf-8")).substitute(values)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written
