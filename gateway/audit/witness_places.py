"""Where the witness keeps what it is given: a directory, or an HTTP(S) base URL taking ``PUT``.

Both hold the same names -- ``latest.json`` (the latest signed checkpoint)
and ``checkpoints/<size, 20 digits>.json`` (one record per checkpoint) --
and keep the same rule: a record is written before ``latest.json`` names
it, and ``latest.json`` only ever moves up. The directory does it under an
exclusive lock (``.lock``: several gateway processes of one district publish
to it), every file written atomically (temp + fsync + rename + directory
fsync); the URL is asked first and written after, and a witness service the
bureau runs is expected to refuse a smaller ``latest.json`` itself.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol
from urllib.parse import urljoin

import aiohttp

from gateway.errors import WitnessError
from signing.audit.checkpoint import SignedCheckpoint
from signing.fsutil import atomic_write, exclusive_lock
from signing.jose import ijson

LATEST = "latest.json"


def record_name(size: int) -> str:
    """The name of the record of the checkpoint at ``size``."""
    return f"checkpoints/{size:020d}.json"


def size_of(latest: bytes | None) -> int:
    """The tree size ``latest.json`` holds (-1 when there is none or it is unreadable)."""
    if latest is None:
        return -1
    try:
        return SignedCheckpoint.from_dict(ijson.loads(latest)).checkpoint.tree_size
    except ValueError:
        return -1


class WitnessPlace(Protocol):
    """One place the witness is kept."""

    name: str

    async def read(self, name: str) -> bytes | None:
        """The file ``name``, or None when it is not there; :class:`WitnessError` when it cannot be read."""

    async def publish(self, records: list[tuple[str, bytes]], latest: bytes, size: int) -> bool:
        """Write ``records`` (where absent), then ``latest`` if ``size`` is above what it holds; True if it moved."""


class DirectoryWitness:
    """The witness as a directory: created 0700 when missing, files 0640."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.name = str(self.directory)

    async def read(self, name: str) -> bytes | None:
        return await asyncio.to_thread(self._read, name)

    def _read(self, name: str) -> bytes | None:
        try:
            return (self.directory / name).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise WitnessError(f"cannot read the witness {self.directory / name}: {exc.strerror}") from None

    async def publish(self, records: list[tuple[str, bytes]], latest: bytes, size: int) -> bool:
        return await asyncio.to_thread(self._publish, records, latest, size)

    def _publish(self, records: list[tuple[str, bytes]], latest: bytes, size: int) -> bool:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            with exclusive_lock(self.directory / ".lock"):
                for name, data in records:
                    if not (self.directory / name).exists():
                        atomic_write(self.directory / name, data, mode=0o640)
                if size_of(self._read(LATEST)) >= size:
                    return False
                atomic_write(self.directory / LATEST, latest, mode=0o640)
                return True
        except OSError as exc:
            raise WitnessError(f"cannot write the witness {self.directory}: {exc.strerror or exc}") from None


class HttpWitness:
    """The witness as a base URL: ``GET``/``PUT`` under it; redirects are never followed (they count as failures)."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        self.base = base_url if base_url.endswith("/") else base_url + "/"
        self.name = self.base
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def read(self, name: str) -> bytes | None:
        try:
            async with (
                aiohttp.ClientSession(timeout=self.timeout) as session,
                session.get(urljoin(self.base, name), allow_redirects=False) as response,
            ):
                if response.status == 404:
                    return None
                if response.status != 200:
                    raise WitnessError(f"the witness {self.base} answered {response.status} for {name}")
                return await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise WitnessError(f"cannot reach the witness {self.base}: {type(exc).__name__}: {exc}") from None

    async def publish(self, records: list[tuple[str, bytes]], latest: bytes, size: int) -> bool:
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as session:
                for name, data in records:
                    await self._put(session, name, data)
                current = await self.read(LATEST)
                if size_of(current) >= size:
                    return False
                await self._put(session, LATEST, latest)
                return True
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise WitnessError(f"cannot reach the witness {self.base}: {type(exc).__name__}: {exc}") from None

    async def _put(self, session: aiohttp.ClientSession, name: str, data: bytes) -> None:
        headers = {"Content-Type": "application/json"}
        async with session.put(urljoin(self.base, name), data=data, headers=headers, allow_redirects=False) as answer:
            if not 200 <= answer.status < 300:
                raise WitnessError(f"the witness {self.base} refused {name}: HTTP {answer.status}")
