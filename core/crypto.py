"""Sensitive personal data at rest: AES-GCM encryption, keyed-hash blind index, masking.

A sensitive column stores ``<kid>$<base64(nonce|ciphertext)>``; the key id names which key of
the key ring encrypted it, so keys can be rotated: put the new key first in
``PINGAN_DATA_KEYS``, every new write uses it, old values still decrypt, and
``pingan crypto rotate`` re-encrypts old rows. Equality look-ups (find a person by ID
number) go through a blind index column: HMAC-SHA256 of the normalised value under
``PINGAN_INDEX_KEY``, so the database never sees the plain value.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import String
from sqlalchemy.types import TypeDecorator


class KeyRing:
    def __init__(self, data_keys: list[tuple[str, bytes]], index_key: bytes) -> None:
        if not data_keys:
            raise ValueError("at least one data key is needed")
        for kid, key in data_keys:
            if len(key) != 32 or "$" in kid or not kid:
                raise ValueError(f"data key {kid!r} must be 32 bytes with an id without '$'")
        self.current_kid = data_keys[0][0]
        self._keys = {kid: AESGCM(key) for kid, key in data_keys}
        self.index_key = index_key

    @classmethod
    def parse(cls, data_keys: str, index_key: str) -> "KeyRing":
        ring = []
        for item in data_keys.split(","):
            kid, _, b64 = item.strip().partition(":")
            ring.append((kid, base64.b64decode(b64)))
        return cls(ring, base64.b64decode(index_key))

    def encrypt(self, plain: str) -> str:
        nonce = os.urandom(12)
        blob = self._keys[self.current_kid].encrypt(nonce, plain.encode(), self.current_kid.encode())
        return f"{self.current_kid}${base64.b64encode(nonce + blob).decode()}"

    def decrypt(self, stored: str) -> str:
        kid, _, b64 = stored.partition("$")
        raw = base64.b64decode(b64)
        return self._keys[kid].decrypt(raw[:12], raw[12:], kid.encode()).decode()

    def needs_rotation(self, stored: str) -> bool:
        return not stored.startswith(self.current_kid + "$")

    def blind_index(self, plain: str) -> str:
        normalised = "".join(plain.split()).upper()
        return hmac.new(self.index_key, normalised.encode(), hashlib.sha256).hexdigest()[:32]


_ring: KeyRing | None = None


def configure(data_keys: str | None, index_key: str | None, instance_dir: Path | None = None) -> KeyRing:
    """Install the key ring; without keys (development) a per-install key file is made."""
    global _ring
    if not data_keys or not index_key:
        data_keys, index_key = _dev_keys(instance_dir or Path("instance"))
    _ring = KeyRing.parse(data_keys, index_key)
    return _ring


def ring() -> KeyRing:
    if _ring is None:
        raise RuntimeError("crypto.configure() has not been called (create the app first)")
    return _ring


def blind_index(plain: str) -> str:
    """The keyed hash of a value for equality look-ups without the plain value in the database
    (an ID number's ``id_number_bidx``, a key person's category): the current key ring's."""
    return ring().blind_index(plain)


def _dev_keys(instance_dir: Path) -> tuple[str, str]:
    instance_dir.mkdir(parents=True, exist_ok=True)
    path = instance_dir / "dev-data-keys"
    if not path.exists():
        data = base64.b64encode(secrets.token_bytes(32)).decode()
        idx = base64.b64encode(secrets.token_bytes(32)).decode()
        path.write_text(f"dev1:{data}\n{idx}\n")
        path.chmod(0o600)
    data_line, idx_line = path.read_text().split()
    return data_line, idx_line


def new_key_line(kid: str) -> str:
    """A fresh ``kid:base64key`` entry for PINGAN_DATA_KEYS (used by ``pingan crypto newkey``)."""
    return f"{kid}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


class Encrypted(TypeDecorator):
    """A text column encrypted at rest. Python side sees plain ``str``; SQL sees ciphertext."""

    impl = String(512)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else ring().encrypt(str(value))

    def process_result_value(self, value, dialect):
        return None if value is None else ring().decrypt(value)


# --- masking ------------------------------------------------------------------------------

def mask_id_number(value: str | None) -> str | None:
    """``110101199003071234`` → ``1101**********1234`` (keeps region prefix and last four)."""
    if not value:
        return value
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str | None) -> str | None:
    """``13812345678`` → ``138****5678``."""
    if not value:
        return value
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_address(value: str | None) -> str | None:
    """Keep the first half (at most six characters: the place name), hide the rest."""
    if not value:
        return value
    keep = min(6, len(value) // 2)
    return value[:keep] + "*" * max(3, min(len(value) - keep, 8))


MASKERS = {"id_number": mask_id_number, "phone": mask_phone, "address": mask_address}


@functools.cache
def sensitive_columns(model) -> tuple[str, ...]:
    """Names of a model's encrypted columns: the one definition of "sensitive field"."""
    from sqlalchemy import inspect as sa_inspect
    return tuple(c.key for c in sa_inspect(model).column_attrs if isinstance(c.columns[0].type, Encrypted))


SECRET = {"secret": True}  # mapped_column(..., info=SECRET): a hash or key the audit never records


@functools.cache
def unrecorded_columns(model) -> frozenset[str]:
    """Columns whose values the audit log shows only as ``***``: encrypted or secret ones."""
    from sqlalchemy import inspect as sa_inspect
    return frozenset(sensitive_columns(model)) | frozenset(
        c.key for c in sa_inspect(model).column_attrs if c.columns[0].info.get("secret"))
