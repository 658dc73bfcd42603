"""pingan-hello: a greetings register (问候登记), the example module declared with ``core.sdk`` only.

One ``Register`` (the records, their page, API, export and audit words) and one ``Manifest``
(the catalog entry, permissions, role templates, settings, migrations, the indicator) — see
docs/plugin_registers.md. The entry point ``hello = "pingan_hello"`` names this module.
"""
from __future__ import annotations

from marshmallow import fields, validate
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.sdk import LetterKind, Manifest, Permission, Register, RegisterRecord, RoleTemplate

READ, WRITE = "hello.greeting.read", "hello.greeting.manage"


class HelloGreeting(RegisterRecord):
    """A greeting to someone in an org unit; closed with their reply."""

    __tablename__ = "hello_greeting"
    recipient: Mapped[str] = mapped_column(String(50))
    message: Mapped[str] = mapped_column(String(200))
    reply: Mapped[str | None] = mapped_column(String(200))


def compose(ctx, greeting: HelloGreeting, data: dict) -> None:
    """The message: the county's prefix (a setting) and the recipient's name."""
    greeting.message = f"{ctx.plugins['hello']['greeting_prefix']}{data['recipient']}！"


GREETINGS = Register(
    name="greetings", title=("问候登记", "Greetings"), model=HelloGreeting, read=READ, write=WRITE,
    fields={"recipient": fields.String(required=True, validate=validate.Length(min=1, max=50),
                                       metadata={"title": "问候对象"})},
    filters=("recipient",), on_create=compose, menu_order=900,
    columns=(("org_unit", ("所属单位", "Unit")), ("recipient", ("问候对象", "Recipient")),
             ("message", ("问候语", "Message")), ("status", ("状态", "Status")),
             ("created_at", ("登记时间", "Recorded at")), ("reply", ("回复", "Reply"))),
    close_fields={"reply": fields.String(load_default=None, validate=validate.Length(max=200),
                                         metadata={"title": "回复"})},
    close_title=("已回复", "Answered"))

# a kind of responsibility letter (责任书): the core keeps the letters, their page, API, PDF and
# reminders (docs/letters.md); the module gives the kind, its default text and who signs it
PLEDGE = LetterKind(
    key="hello.pledge", title="走访问候责任书", title_en="Greeting pledge",
    paragraphs=["为做好{年度}年度辖区群众走访问候工作，{发文单位}（甲方）与{责任方}（乙方）签订本责任书。",
                "乙方负责本辖区困难群众、老人的走访问候，每季度至少走访一次，并在系统中登记问候情况。",
                "本责任书自{签订日期}起生效，有效期至{年度}年12月31日。"],
    parties=("unit", "person"))

manifest = Manifest(
    name="hello", title="问候（示例模块）", title_en="Greetings (example)", version="2.0.0",
    description="插件开发示例：登记对辖区群众的问候，办结时记下回复。",
    permissions=[Permission(READ, "查看问候", "View greetings"), Permission(WRITE, "登记问候", "Record greetings")],
    roles=[RoleTemplate("hello_greeter", "问候员", "Greeter", (READ, WRITE)),
           *(RoleTemplate(key, name, en, (READ, WRITE)) for key, name, en in (
               ("county_admin", "县级管理员", "County administrator"), ("unit_admin", "单位管理员", "Unit administrator"),
               ("staff", "工作人员", "Staff"))),
           RoleTemplate("viewer", "只读用户", "Viewer", (READ,))],
    settings={"greeting_prefix": fields.String(load_default="您好，", validate=validate.Length(min=1, max=20),
                                               metadata={"title": "问候语前缀", "description": "放在每条问候前面"})},
    migrations="migrations", registers=[GREETINGS], letters=[PLEDGE],
    indicators=[GREETINGS.indicator("hello.greetings", "问候登记数", "Greetings recorded")])
manifest.hooks(globals())
