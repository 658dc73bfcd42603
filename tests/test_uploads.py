"""``sdk.store_file`` and ``sdk.forget_file`` (core/uploads.py): a file follows the outermost
transaction — kept when it commits, deleted when it does not — and a savepoint's files follow the
savepoint: no file is left that no row names, none is lost that one does."""
from __future__ import annotations

import io

import pytest
from werkzeug.datastructures import FileStorage

from core.app import pingan
from core.errors import Invalid, PinganError
from core.storage import storage
from core.uploads import PHOTO_KINDS, forget_file, store_file

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64 + b"\xff\xd9"


def upload(name: str = "a.jpg", data: bytes = JPEG) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name)


@pytest.fixture
def files(app, demo):
    with app.app_context():
        store = storage(pingan(app).config)
        yield store, (lambda: pingan(app).db.transaction(demo.id))


def test_a_file_follows_the_outermost_transaction(files):
    store, transaction = files
    with transaction() as s:
        kept = store_file(s, upload(), PHOTO_KINDS)
    assert store.path(kept.key).exists() and kept.filename == "a.jpg" and kept.content_type == "image/jpeg"
    with pytest.raises(RuntimeError), transaction() as s:
        lost = store_file(s, upload())
        raise RuntimeError("the act failed after the file was stored")
    assert not store.path(lost.key).exists()
    with pytest.raises(RuntimeError), transaction() as s:   # forgotten in a transaction that rolls back: kept
        forget_file(s, kept.key)
        raise RuntimeError("rolled back")
    assert store.path(kept.key).exists()
    with transaction() as s:
        forget_file(s, kept.key)
    assert not store.path(kept.key).exists()


def test_a_savepoint_keeps_or_drops_only_its_own_files(files):
    store, transaction = files
    with transaction() as s:
        old = store_file(s, upload())
    with transaction() as s:
        outer = store_file(s, upload("outer.jpg"))
        try:
            with s.begin_nested():
                inner = store_file(s, upload("inner.jpg"))
                forget_file(s, old.key)
                raise RuntimeError("the savepoint rolls back")
        except RuntimeError:
            pass
        assert not store.path(inner.key).exists() and store.path(outer.key).exists()
    assert store.path(outer.key).exists() and store.path(old.key).exists()   # un-forgotten with the savepoint
    with pytest.raises(RuntimeError), transaction() as s:
        with s.begin_nested():                     # released: its file and its forgetting wait for the outer end
            released = store_file(s, upload("released.jpg"))
            forget_file(s, old.key)
        assert store.path(old.key).exists()
        raise RuntimeError("the outer transaction rolls back")
    assert not store.path(released.key).exists() and store.path(old.key).exists()


def test_what_is_refused_is_never_kept(files):
    store, transaction = files
    before = {p for p in store.root.rglob("*") if p.is_file()}
    with transaction() as s:
        with pytest.raises(Invalid):
            store_file(s, None)
        with pytest.raises(PinganError) as refused:
            store_file(s, upload("x.jpg", b"plain text, named .jpg"), PHOTO_KINDS)
        assert refused.value.status == 415
        with pytest.raises(PinganError):
            store_file(s, upload("x.pdf", b"%PDF-1.4\n%%EOF\n"), PHOTO_KINDS)   # a PDF where a photo is asked
    assert {p for p in store.root.rglob("*") if p.is_file()} == before
