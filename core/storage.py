"""Where files live: attachments, exports, generated documents.

One interface, :class:`LocalStorage` (a directory, ``PINGAN_STORAGE_DIR``), so an
S3-compatible store can come later behind the same four methods. Keys are generated here
(random, per tenant) and never derived from a user's file name; a key that does not match
the pattern is refused before it reaches the file system.

A store that cannot be written or read — read-only, full, over quota, its folder's
permissions wrong, an I/O error — raises :class:`core.errors.ServiceUnavailable`
(``storage_unavailable``: 503 with ``Retry-After``), not a bare ``OSError`` (a 500).
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core.errors import ServiceUnavailable
from core.runtime import running

KEY = re.compile(r"^t[0-9]+/[a-z]+/[0-9a-f]{2}/[0-9a-f]{32}$")
CHUNK = 1024 * 1024


class StorageError(RuntimeError):
    pass


# the store itself is failing (not a missing file, not a bad key): full, read-only, over quota,
# unreadable folder, broken disk
UNAVAILABLE_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EIO})


def storage_unavailable(exc: OSError) -> ServiceUnavailable:
    """The 503 for an ``OSError`` of the store (its errno name, never the file's path)."""
    name = errno.errorcode.get(exc.errno or 0, str(exc.errno))
    return ServiceUnavailable("storage_unavailable", cause=f"{type(exc).__name__} {name}: {exc.strerror}")


@contextlib.contextmanager
def _store_failures() -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        if exc.errno in UNAVAILABLE_ERRNOS:
            raise storage_unavailable(exc) from exc
        raise


@dataclass(frozen=True)
class Stored:
    key: str
    size: int
    sha256: str


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def new_key(self, tenant_id: int, kind: str) -> str:
        token = secrets.token_hex(16)
        return f"t{int(tenant_id)}/{kind}/{token[:2]}/{token}"

    def path(self, key: str) -> Path:
        if not KEY.match(key):
            raise StorageError("invalid storage key")
        return self.root / key

    def save(self, key: str, stream: BinaryIO, max_bytes: int | None = None) -> Stored:
        """Write ``stream`` under ``key`` (atomically); refuse more than ``max_bytes``."""
        target = self.path(key)
        # a name of its own per write: two writers of one key (an export's attempt taken back and
        # its successor) must not write into the same half-written file; the last replace wins
        tmp = target.with_name(f"{target.name}.{secrets.token_hex(6)}.part")
        digest, size = hashlib.sha256(), 0
        with _store_failures():
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with open(tmp, "wb") as out:
                    while chunk := stream.read(CHUNK):
                        size += len(chunk)
                        if max_bytes is not None and size > max_bytes:
                            raise StorageError("too large")
                        digest.update(chunk)
                        out.write(chunk)
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
        return Stored(key, size, digest.hexdigest())

    def open(self, key: str) -> BinaryIO:
        path = self.path(key)
        with _store_failures():
            return open(path, "rb")

    def iter(self, key: str) -> Iterator[bytes]:
        with self.open(key) as f:
            while chunk := f.read(CHUNK):
                yield chunk

    def delete(self, key: str) -> None:
        path = self.path(key)
        with _store_failures():
            path.unlink(missing_ok=True)


def storage(config=None) -> LocalStorage:
    """The storage of this process (from ``PINGAN_STORAGE_DIR``)."""
    if config is None:
        config = running().config
    return LocalStorage(config.storage_dir)
