"""Issue 3 (Ledgers and documents): official documents rendered from plugins' templates to
PDF with Chinese text, offered only for enabled plugins and fitting case types, audited."""
from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import reportlab
from pypdf import PdfReader
from sqlalchemy import select

from core.audit import AuditEntry
from core.documents import DocumentError, DocumentTemplate, cn_date, render_pdf
from core.workdays import SHANGHAI
from tests.casework import register

NOTICE = "visits.visit_notice"
CJK_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"   # Debian's fonts-wqy-microhei, if installed


def pdf_text(data: bytes) -> str:
    """All text of a PDF, without the line breaks and spaces layout put in."""
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return "".join(text.split())


def test_the_visit_notice_renders_to_a_pdf_with_the_chinese_case_data(county, login, db):
    """issue 3: the example's 走访告知书 renders (%PDF), and the Chinese title, number,
    requester, county and date come back out of it; personal data other than names does not.
    Each rendering is audited."""
    town = login(county, "donghu.admin")
    r = town.post("/api/persons", json={"name": "王秀英", "org_unit_id": county.unit("T01D1V1"),
                                        "phone": "13912345678"})
    assert r.status_code == 201, r.get_json()
    case = register(town, county.unit("T01D1V1"), title="请求上门走访：独居老人生活困难",
                    persons=[{"person_id": r.get_json()["id"], "role": "requester"}])
    listed = town.get(f"/api/cases/{case['id']}/documents").get_json()
    assert [(d["key"], d["title"], d["case_type"]) for d in listed] == [(NOTICE, "走访告知书", "visits.visit")]

    r = town.get(f"/api/cases/{case['id']}/documents/{NOTICE}")
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    assert r.headers["Content-Type"] == "application/pdf" and r.data.startswith(b"%PDF")
    assert r.headers["Content-Disposition"].startswith("attachment;")
    text = pdf_text(r.data)
    today = dt.datetime.now(SHANGHAI).date()
    for expected in ("走访告知书", "请求上门走访：独居老人生活困难", case["number"], "王秀英", "示范县（演示）",
                     "王大爷独居，请求村里上门看看", "上门走访", f"{today.year}年{today.month}月{today.day}日"):
        assert expected in text, expected
    assert "13912345678" not in text
    with db.transaction(county.id) as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "render_document")).all()
    assert [(e.object_type, e.object_id, e.changes) for e in entries] == [
        ("case_record", str(case["id"]), {"template": NOTICE})]


def test_unknown_templates_and_invisible_cases_are_404(county, login):
    """issue 3: an unknown key, or a case the user may not see, answers 404."""
    town = login(county, "donghu.admin")
    case = register(town, county.unit("T01D1V1"))
    r = town.get(f"/api/cases/{case['id']}/documents/visits.nothing")
    assert r.status_code == 404 and r.get_json()["code"] == "unknown_document"
    qingshan = login(county, "qingshan.admin")
    assert qingshan.get(f"/api/cases/{case['id']}/documents/{NOTICE}").status_code == 404
    assert qingshan.get(f"/api/cases/{case['id']}/documents").status_code == 404
    assert login(county, "village.cadre").get(f"/api/cases/{case['id']}/documents/{NOTICE}").status_code == 200


def test_a_disabled_plugins_template_is_404_and_a_template_of_another_case_type_too(config, county, login,
                                                                                      tmp_path):
    """issue 3: a template is offered only while its plugin is enabled for the county, and
    only for the case type it names."""
    from core.app import create_app
    from core.hookspecs import hookimpl
    from tests.conftest import Client, make_token

    (tmp_path / "receipt.html").write_text("<h1>收件回执</h1><p>{{ case.number }}</p>", encoding="utf-8")

    class Stamp:
        @hookimpl
        def pingan_plugin_info(self):
            return {"title": "回执模块"}

        @hookimpl
        def pingan_case_types(self):  # the type the second template is for (a template may only name a declared one)
            from core.sdk import CaseType, State
            return [CaseType("stamp.thing", "回执事项", (State("open", "办理中"),), "open", ())]

        @hookimpl
        def pingan_document_templates(self):
            return [DocumentTemplate("stamp.receipt", "收件回执", "receipt.html", str(tmp_path)),
                    DocumentTemplate("stamp.other", "别的类型的文书", "receipt.html", str(tmp_path),
                                     case_type="stamp.thing")]

    class Undeclared:
        @hookimpl
        def pingan_plugin_info(self):
            return {"title": "文书模块"}

        @hookimpl
        def pingan_document_templates(self):
            return [DocumentTemplate("paper.x", "文书", "receipt.html", str(tmp_path), case_type="paper.nothing")]

    with pytest.raises(ValueError, match="undeclared case type"):
        create_app(config, extra_plugins={"paper": Undeclared()})
    other_app = create_app(config, extra_plugins={"stamp": Stamp()})
    other_app.testing = True
    admin = Client(other_app, county.host, {"Authorization": f"Bearer {make_token(other_app, county, 'county.admin')}"})
    case = register(admin, county.unit("T01D1V1"))
    url = f"/api/cases/{case['id']}/documents"
    assert admin.get(f"{url}/stamp.receipt").status_code == 404            # installed, not enabled
    assert [d["key"] for d in admin.get(url).get_json()] == [NOTICE]
    assert admin.put("/api/modules/stamp", json={"enabled": True}).status_code == 200
    r = admin.get(f"{url}/stamp.receipt")
    assert r.status_code == 200 and case["number"] in pdf_text(r.data)
    assert admin.get(f"{url}/stamp.other").status_code == 404              # for another case type
    assert [d["key"] for d in admin.get(url).get_json()] == ["stamp.receipt", NOTICE]  # in plugin name order
    assert admin.put("/api/modules/stamp", json={"enabled": False}).status_code == 200
    assert admin.get(f"{url}/stamp.receipt").status_code == 404


def _template(folder: Path, body: str) -> DocumentTemplate:
    (folder / "t.html").write_text(body, encoding="utf-8")
    return DocumentTemplate("test.t", "测试文书", "t.html", str(folder))


def test_context_values_are_text_and_the_markup_is_restricted(tmp_path):
    """issue 3: a case's text cannot become markup (autoescape), and a template may only use
    the restricted tags — no images, links, styles or scripts."""
    config = SimpleNamespace(pdf_font=None)
    tpl = _template(tmp_path, '<h1 class="center">{{ title }}</h1><p class="indent">{{ text }}</p>'
                              "<ul><li>一</li><li><b>二</b></li></ul><hr><table><tr><th>甲</th><td>乙</td></tr></table>")
    pdf = render_pdf(tpl, {"title": "标题", "text": '<img src="http://x/y.png"> & <b>不是粗体</b>'}, config)
    text = pdf_text(pdf)
    assert '<imgsrc="http://x/y.png">&<b>不是粗体</b>' in text and "标题" in text and "甲" in text
    for bad in ('<img src="x.png">', '<a href="http://x">链接</a>', '<p style="color:red">x</p>',
                "<script>alert(1)</script>", '<p class="evil">x</p>'):
        with pytest.raises(DocumentError):
            render_pdf(_template(tmp_path, bad), {}, config)


def test_a_configured_truetype_font_is_embedded(tmp_path):
    """issue 3: with PINGAN_PDF_FONT set, that TrueType file is embedded (here reportlab's own
    Vera, Latin only: the Chinese case is checked with a CJK font when the machine has one);
    an unusable file is refused with a message naming the setting."""
    vera = Path(reportlab.__file__).parent / "fonts" / "Vera.ttf"
    tpl = _template(tmp_path, "<p>{{ text }}</p>")
    pdf = render_pdf(tpl, {"text": "Visit notice 2026"}, SimpleNamespace(pdf_font=str(vera)))
    assert b"/FontFile2" in pdf and "Visitnotice2026" in pdf_text(pdf)
    with pytest.raises(DocumentError, match="PINGAN_PDF_FONT"):
        render_pdf(tpl, {"text": "x"}, SimpleNamespace(pdf_font=str(tmp_path / "missing.ttf")))
    if os.path.exists(CJK_FONT):
        pdf = render_pdf(tpl, {"text": "走访告知书"}, SimpleNamespace(pdf_font=CJK_FONT))
        assert b"/FontFile2" in pdf and "走访告知书" in pdf_text(pdf)


def test_the_cid_font_needs_no_file_and_dates_are_written_the_chinese_way(tmp_path):
    """issue 3: without a font file the built-in STSong-Light CID font carries the Chinese text;
    dates are Asia/Shanghai days written 2026年11月23日."""
    pdf = render_pdf(_template(tmp_path, "<p>{{ when | cn_date }}</p>"),
                     {"when": dt.datetime(2026, 11, 22, 16, 30, tzinfo=dt.timezone.utc)}, SimpleNamespace(pdf_font=None))
    assert b"STSong-Light" in pdf and b"/FontFile" not in pdf
    assert "2026年11月23日" in pdf_text(pdf)
    assert cn_date(dt.date(2026, 1, 5)) == "2026年1月5日" and cn_date(None) == ""
