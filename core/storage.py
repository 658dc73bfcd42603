"""Where files live: attachments, exports, generated documents.

One interface, :class:`LocalStorage` (a directory, ``PINGAN_STORAGE_DIR``), so an
S3-compatible store can come later behind the same four methods. Keys are generated here
(random, per tenant) and never derived from a user's file name; a key that does not match
the pattern is refused before it reaches the file system.
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

KEY = re.compile(r"^t[0-9]+/[a-z]+/[0-9a-f]{2}/[0-9a-f]{32}$")
CHUNK = 1024 * 1024


class StorageError(RuntimeError):
    pass


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
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        digest, size = hashlib.sha256(), 0
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
        return open(self.path(key), "rb")

    def iter(self, key: str) -> Iterator[bytes]:
        with self.open(key) as f:
            while chunk := f.read(CHUNK):
                yield chunk

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)


def storage(config=None) -> LocalStorage:
    """The storage of this process (from ``PINGAN_STORAGE_DIR``)."""
    if config is None:
        from core.jobs import running
        config = running().config
    return LocalStorage(config.storage_dir)
