"""Issue 3 (Attachments): files on a case — decided by content, stored under random keys,
downloaded safely, scoped like the case, removed softly (the file stays as evidence)."""
from __future__ import annotations

import hashlib
import io
import struct
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from core.cases.attachments import KINDS, clean_filename, ole2_names, sniff
from core.cases.models import Attachment
from tests.casework import events, register

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"This program cannot be run in DOS mode."


def upload(client, case_id: int, content: bytes, name: str, content_type: str = "application/octet-stream"):
    return client.post(f"/api/cases/{case_id}/attachments", content_type="multipart/form-data",
                       data={"file": (io.BytesIO(content), name, content_type)})


def stored_files(config, tenant) -> list[Path]:
    root = Path(config.storage_dir) / f"t{tenant.id}"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def rows(db, tenant) -> list[Attachment]:
    with db.transaction(tenant.id) as s:
        return list(s.scalars(select(Attachment).order_by(Attachment.id)))


def ooxml(*names: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n in names:
            z.writestr(n, "<x/>")
    return buf.getvalue()


def cfb(*streams: str) -> bytes:
    """A minimal, valid OLE2 compound file holding (empty) streams with these names."""
    end, free, fatsect = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIII", header, 0x2C, 1, 1, 0, 4096)     # 1 FAT sector, directory at sector 1
    struct.pack_into("<IIII", header, 0x3C, end, 0, end, 0)    # no mini FAT, no DIFAT sectors
    struct.pack_into("<109I", header, 0x4C, 0, *([free] * 108))
    fat = struct.pack("<128I", fatsect, end, *([free] * 126))
    directory = bytearray()
    for i, (name, kind) in enumerate([("Root Entry", 5)] + [(n, 2) for n in streams]):
        entry = bytearray(128)
        raw = (name + "\0").encode("utf-16-le")
        entry[:len(raw)] = raw
        struct.pack_into("<HBB", entry, 64, len(raw), kind, 1)
        struct.pack_into("<III", entry, 68, free, free, 1 if i == 0 and streams else free)
        directory += entry
    directory += b"\x00" * (512 - len(directory) % 512 if len(directory) % 512 else 0)
    return bytes(header) + fat + bytes(directory)


def test_upload_list_download_round_trip_keeps_the_bytes_and_their_sha256(county, login, config, db):
    """issue 3: a handler of the village uploads; the file comes back byte for byte, with its
    SHA-256, the detected type, a safe download and an "attached" event on the timeline."""
    town = login(county, "donghu.admin")
    case = register(town, county.unit("T01D1V1"))
    cadre = login(county, "village.cadre")   # 罗塘村: core.case.handle on its own village
    r = upload(cadre, case["id"], PNG, "现场照片.png", "text/html")
    assert r.status_code == 201, r.get_json()
    att = r.get_json()
    assert att["filename"] == "现场照片.png" and att["content_type"] == "image/png"  # not the declared text/html
    assert att["size"] == len(PNG) and att["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert att["case_id"] == case["id"] and att["uploaded_by"]

    listed = town.get(f"/api/cases/{case['id']}/attachments").get_json()
    assert [a["id"] for a in listed] == [att["id"]]
    r = town.get(f"/api/cases/{case['id']}/attachments/{att['id']}")
    assert r.status_code == 200 and r.data == PNG
    assert hashlib.sha256(r.data).hexdigest() == att["sha256"]
    assert r.headers["Content-Type"] == "image/png"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Security-Policy"] == "sandbox"
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%E7%8E%B0%E5%9C%BA%E7%85%A7%E7%89%87.png" in disposition

    kinds = events(town, case["id"])
    assert kinds[-1] == "attached"
    event = town.get(f"/api/cases/{case['id']}/events").get_json()[-1]
    assert event["note"] == "现场照片.png" and event["data"]["attachment_id"] == att["id"]
    # stored under a random key, never under the user's name
    (row,) = rows(db, county)
    assert "现场" not in row.storage_key and row.storage_key.startswith(f"t{county.id}/attachment/")
    assert (Path(config.storage_dir) / row.storage_key).read_bytes() == PNG


def test_other_villages_and_townships_get_404_on_list_download_upload_and_delete(county, login, config):
    """issue 3: a case the user may not see answers 404 for each attachment route — as if absent."""
    town = login(county, "donghu.admin")
    case = register(town, county.unit("T01D1V1"))
    att = upload(town, case["id"], PDF, "记录.pdf").get_json()
    before = stored_files(config, county)
    for username in ("village.cadre2", "qingshan.admin"):   # 郭岭村 (T01D1V2); 青山乡 (T02)
        outsider = login(county, username)
        base = f"/api/cases/{case['id']}/attachments"
        assert outsider.get(base).status_code == 404
        assert outsider.get(f"{base}/{att['id']}").status_code == 404
        assert upload(outsider, case["id"], PDF, "x.pdf").status_code == 404
        assert outsider.delete(f"{base}/{att['id']}").status_code == 404
    assert stored_files(config, county) == before
    # an attachment id under another case of the user's own → 404 too
    other = register(town, county.unit("T01D1V1"))
    assert town.get(f"/api/cases/{other['id']}/attachments/{att['id']}").status_code == 404


def test_uploading_needs_case_handle_on_a_unit_of_the_case(county, login):
    """issue 3: reading is not enough to upload (403); handling on the case's village is."""
    town = login(county, "donghu.admin")
    case = register(town, county.unit("T01D1V1"))
    viewer = login(county, "county.viewer")   # core.case.read only
    assert viewer.get(f"/api/cases/{case['id']}/attachments").status_code == 200
    r = upload(viewer, case["id"], PDF, "a.pdf")
    assert r.status_code == 403
    assert upload(login(county, "village.cadre"), case["id"], PDF, "a.pdf").status_code == 201
    r = town.post(f"/api/cases/{case['id']}/attachments", content_type="multipart/form-data", data={})
    assert r.status_code == 422 and "file" in r.get_json()["errors"]["files"]
    r = upload(town, case["id"], b"", "empty.txt")
    assert r.status_code == 422 and r.get_json()["code"] == "empty_file"


def test_an_oversize_file_is_413_and_nothing_is_stored(county, login, config, db, app, monkeypatch):
    """issue 3: over PINGAN_UPLOAD_MAX_MB → 413 too_large, no file left, no row; the request
    limit of the app follows the setting (with room for the multipart envelope)."""
    assert app.config["MAX_CONTENT_LENGTH"] >= (config.upload_max_mb + 1) * 1024 * 1024
    town = login(county, "donghu.admin")
    case = register(town, county.unit("T01D1V1"))
    before = stored_files(config, county)
    monkeypatch.setattr(config, "upload_max_mb", 1)
    r = upload(town, case["id"], b"a" * (1024 * 1024 + 1), "big.txt")
    assert r.status_code == 413 and r.get_json()["code"] == "too_large", r.get_json()
    assert "1 MB" in r.get_json()["message"]
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)  # refused before the view runs
    r = upload(town, case["id"], b"a" * (100 * 1024), "bigger.txt")
    assert r.status_code == 413 and r.get_json()["code"] == "too_large"
    assert stored_files(config, county) == before and rows(db, county) == []
    assert "attached" not in events(town, case["id"])


@pytest.mark.parametrize("content, name", [
    (EXE, "通知.pdf"),                                              # a program renamed .pdf
    (b"\x7fELF\x02\x01\x01" + b"\x00" * 60, "readme.txt"),
    (ooxml("visits.txt"), "报表.xlsx"),                              # a zip that is no Office file
    (ooxml("[Content_Types].xml", "word/document.xml", "word/vbaProject.bin"), "宏.docx"),  # macros
    (cfb("SummaryInformation", "Property"), "setup.doc"),           # OLE2 but no document (an .msi)
    (cfb("WordDocument", "Macros", "VBA"), "宏.doc"),
    ("文本".encode("gbk"), "gbk.txt"),                               # text, but not UTF-8
    (b"text with a NUL\x00 byte", "nul.txt"),
])
def test_content_decides_the_type_and_unknown_kinds_are_415(county, login, config, db, content, name):
    """issue 3: the type is sniffed from the bytes; the name and the declared type are ignored."""
    town = login(county, "donghu.admin")
    case = register(town, county.unit("T01D1V1"))
    before = stored_files(config, county)
    r = upload(town, case["id"], content, name, "application/pdf")
    assert r.status_code == 415, r.get_json()
    assert r.get_json()["code"] == "unsupported_type" and "PDF" in r.get_json()["message"]
    assert stored_files(config, county) == before and rows(db, county) == []


@pytest.mark.parametrize("content, name, kind, shown", [
    (PDF, "scan.PDF", "application/pdf", "scan.pdf"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32, "photo.jpeg", "image/jpeg", "photo.jpeg"),
    (b"GIF89a" + b"\x00" * 32, "动图", "image/gif", "动图.gif"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32, "a.webp", "image/webp", "a.webp"),
    (ooxml("[Content_Types].xml", "word/document.xml"), "报告.exe",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "报告.docx"),
    (ooxml("[Content_Types].xml", "xl/workbook.xml"), "台账.xlsx",
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "台账.xlsx"),
    (cfb("WordDocument", "1Table"), "旧文档.doc", "application/msword", "旧文档.doc"),
    (cfb("Workbook"), "旧表格.pdf", "application/vnd.ms-excel", "旧表格.xls"),
    ("<html><script>alert(1)</script></html>\n".encode(), "page.html", "text/plain; charset=utf-8", "page.txt"),
    ("村民反映：\t道路积水\r\n".encode(), "反映.csv", "text/plain; charset=utf-8", "反映.csv"),
])
def test_accepted_kinds_get_their_type_and_a_fitting_extension(county, login, content, name, kind, shown):
    """issue 3: each accepted kind is recognised; an extension that does not fit is replaced."""
    town = login(county, "donghu.admin")
    case = register(town, county.unit("T01D1V1"))
    r = upload(town, case["id"], content, name, "image/png")
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["content_type"], r.get_json()["filename"]) == (kind, shown)
    got = town.get(f"/api/cases/{case['id']}/attachments/{r.get_json()['id']}")
    assert got.data == content and got.headers["Content-Type"] == kind


@pytest.mark.parametrize("raw, shown", [
    ("../../etc/passwd", "passwd.txt"),
    ("a\x07b\x1bc\u202etxt.exe", "abctxt.txt"),                    # bell, escape, right-to-left override
    ("re<po>rt:1|?*.txt", "re_po_rt_1___.txt"),
    ("...", "附件.txt"),
    (".bashrc", "bashrc.txt"),
    ("长" * 300 + ".txt", "长" * 196 + ".txt"),
])
def test_display_names_are_sanitised(county, login, raw, shown):
    """issue 3: base name only, no control characters or separators, at most 200 characters."""
    town = login(county, "donghu.admin")
    case = register(town, county.unit("T01D1V1"))
    r = upload(town, case["id"], "走访记录\n".encode(), raw)
    assert r.status_code == 201, r.get_json()
    name = r.get_json()["filename"]
    assert name == shown and len(name) <= 200 and "/" not in name and "\\" not in name
    assert clean_filename(raw, KINDS["text"]) == shown
    disposition = town.get(f"/api/cases/{case['id']}/attachments/{r.get_json()['id']}").headers["Content-Disposition"]
    assert "\n" not in disposition and "\x1b" not in disposition and disposition.count('"') == 2


@pytest.mark.parametrize("raw, kind, shown", [
    ("..\\..\\windows\\system32\\cmd.exe", "text", "cmd.txt"),
    ("C:\\Users\\王\\Desktop\\记录.txt", "text", "记录.txt"),
    ('a"b\nc\r\x00d.pdf', "pdf", "a_bcd.pdf"),
    ("invoice\u202efdp.exe", "pdf", "invoicefdp.pdf"),
    ("  报告 .DOCX. ", "docx", "报告.docx"),
    ("", "jpeg", "附件.jpg"),
    (None, "png", "附件.png"),
    ("x." + "a" * 20, "gif", "x.aaaaaaaaaaaaaaaaaaaa.gif"),
])
def test_clean_filename_takes_the_base_name_of_any_client_path(raw, kind, shown):
    """issue 3: the name as an old browser may send it (a Windows path), quotes, NUL, line breaks."""
    assert clean_filename(raw, KINDS[kind]) == shown


def test_removing_is_soft_by_the_uploader_or_the_diverting_unit_and_keeps_the_file(county, login, config, db):
    """issue 3: a removed attachment is 404 and no longer listed; the event is on the timeline and
    the stored file stays (evidence). Someone else who may only handle cannot remove it (403)."""
    town = login(county, "donghu.admin")             # holds core.case.divert on 东湖镇
    case = register(town, county.unit("T01D1V1"))
    cadre = login(county, "village.cadre")           # core.case.handle only
    mine = upload(cadre, case["id"], PDF, "村里的.pdf").get_json()
    theirs = upload(town, case["id"], PNG, "镇里的.png").get_json()
    base = f"/api/cases/{case['id']}/attachments"

    r = cadre.delete(f"{base}/{theirs['id']}")
    assert r.status_code == 403
    assert cadre.delete(f"{base}/{mine['id']}").status_code == 204          # the uploader
    assert town.delete(f"{base}/{theirs['id']}").status_code == 204         # the diverting unit
    assert town.get(f"{base}/{mine['id']}").status_code == 404
    assert town.delete(f"{base}/{mine['id']}").status_code == 404
    assert town.get(base).get_json() == []
    assert events(town, case["id"])[-2:] == ["attachment_removed", "attachment_removed"]
    for row in rows(db, county):
        assert row.deleted_at is not None and row.deleted_by is not None
        assert (Path(config.storage_dir) / row.storage_key).exists()


def test_a_disabled_module_hides_its_cases_attachments(county, login):
    """issue 3: the attachments of a case of a disabled module's type are 404 with the case."""
    town = login(county, "donghu.admin")
    case = register(town, county.unit("T01D1V1"))
    att = upload(town, case["id"], PDF, "a.pdf").get_json()
    admin = login(county, "county.admin")
    assert admin.put("/api/modules/visits", json={"enabled": False}).status_code == 200
    assert town.get(f"/api/cases/{case['id']}/attachments/{att['id']}").status_code == 404
    assert admin.put("/api/modules/visits", json={"enabled": True}).status_code == 200
    assert town.get(f"/api/cases/{case['id']}/attachments/{att['id']}").data == PDF


def test_sniffing_reads_ole2_directories_safely():
    """issue 3: the OLE2 reader finds the stream names, and refuses truncated or looping files."""
    assert {"WordDocument", "1Table"} <= ole2_names(io.BytesIO(cfb("WordDocument", "1Table")))
    assert ole2_names(io.BytesIO(cfb("WordDocument")[:600])) is None
    looping = bytearray(cfb("WordDocument"))
    struct.pack_into("<I", looping, 512 + 4, 1)   # the directory sector's chain points to itself
    assert ole2_names(io.BytesIO(bytes(looping))) is None
    assert sniff(io.BytesIO(b"")) is KINDS["text"]   # (empty files are refused before sniffing)
