"""The archive file: a gzipped tar written owner-only and never over another file, read member by member.

A backup holds every applicant's request and result. Its file is created
with ``O_EXCL`` and mode 0600 whatever the umask, and checked after it is
made: on a file system that ignores the mode (a share mounted without
permissions), where others could read it, the backup is refused and the
file removed. Reading never extracts by the names inside the tar: only the
members the manifest names are read, each must be a regular file, and each
is checked against the manifest's SHA-256 before anything is restored.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import stat
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from gateway.errors import BackupError

_CHUNK = 1 << 20


def check_private(fd: int, path: Path) -> None:
    """Refuse a file others could read or write (group or world bits set)."""
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    if mode & 0o077:
        raise BackupError(
            f"{path} would be readable by others (mode {mode:o}, the file system ignores 0600): a backup holds "
            "every applicant's data; write it to a file system that keeps owner-only permissions"
        )


@contextlib.contextmanager
def private_file(path: Path) -> Iterator[BinaryIO]:
    """A new file at ``path``, mode 0600, for writing; removed again if anything fails."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BackupError(f"{path} already exists: a backup never overwrites a file") from None
    except OSError as exc:
        raise BackupError(f"cannot create {path}: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o600)
        check_private(fd, path)
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise


class ArchiveWriter:
    """Members added in order, each owner-only, owned by nobody in particular."""

    def __init__(self, handle: BinaryIO) -> None:
        self.tar = tarfile.open(fileobj=handle, mode="w:gz")  # noqa: SIM115 -- closed by close()
        self.now = int(time.time())

    def add_bytes(self, name: str, data: bytes) -> None:
        self.add_stream(name, io.BytesIO(data), len(data))

    def add_file(self, name: str, path: Path) -> None:
        with path.open("rb") as handle:
            self.add_stream(name, handle, os.fstat(handle.fileno()).st_size)

    def add_stream(self, name: str, stream: BinaryIO, size: int) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, 0o600, self.now
        self.tar.addfile(info, stream)

    def close(self) -> None:
        self.tar.close()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ArchiveReader:
    """Reads named members of an archive; nothing is ever extracted by the tar's own names."""

    def __init__(self, path: Path) -> None:
        try:
            self.tar = tarfile.open(path, mode="r:gz")  # noqa: SIM115 -- closed by close()
        except FileNotFoundError:
            raise BackupError(f"no archive at {path}") from None
        except (OSError, tarfile.TarError) as exc:
            raise BackupError(f"{path} is not a backup archive (a gzipped tar): {exc}") from None
        self.path = path
        try:
            names = self.tar.getnames()
        except (OSError, tarfile.TarError, EOFError) as exc:
            raise BackupError(f"{path} is damaged: {exc}") from None
        if len(names) != len(set(names)):  # which of two members of one name is meant? refuse rather than guess
            raise BackupError(f"{path} holds two members of the same name: not an archive onewindow backup made")

    def read(self, name: str, limit: int = 1 << 20) -> bytes:
        """A small member whole (the manifest, a key); :class:`BackupError` if absent, not a file, or too big."""
        member = self._member(name)
        if member.size > limit:
            raise BackupError(f"{self.path}: {name} is {member.size} bytes, more than a {name} can be")
        stream = self.tar.extractfile(member)
        assert stream is not None
        return stream.read()

    def copy_to(self, name: str, target: Path, sha256: str) -> None:
        """A member into a new owner-only file, checked against ``sha256`` as it is copied."""
        stream = self.tar.extractfile(self._member(name))
        assert stream is not None
        digest = hashlib.sha256()
        with target.open("xb") as out:
            os.fchmod(out.fileno(), 0o600)
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            target.unlink()
            raise BackupError(f"{self.path}: {name} does not match the manifest's SHA-256 (damaged or altered)")

    def check(self, name: str, sha256: str) -> None:
        """The member is there, a regular file, and hashes to ``sha256``."""
        stream = self.tar.extractfile(self._member(name))
        assert stream is not None
        digest = hashlib.sha256()
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
        if digest.hexdigest() != sha256:
            raise BackupError(f"{self.path}: {name} does not match the manifest's SHA-256 (damaged or altered)")

    def _member(self, name: str) -> tarfile.TarInfo:
        try:
            member = self.tar.getmember(name)
        except KeyError:
            raise BackupError(f"{self.path} has no {name}: not an archive onewindow backup made, or damaged") from None
        if not member.isreg():
            raise BackupError(f"{self.path}: {name} is not a regular file (a link or a device): refused")
        return member

    def close(self) -> None:
        self.tar.close()
