"""Joint-defence groups (十户联防、十店联防, PAT-3, seed 001 doc 4): neighbouring households or shops
in groups of the county's size (10 by default), each with a leader who signs the 治安联防责任书
with the community police officer. The letter is the core's (docs/letters.md): this module only
declares its kind and default text."""
from __future__ import annotations

from marshmallow import fields, validate

from core.sdk import Invalid, LetterKind, Register

from .models import PatrolGroup
from .permissions import MANAGE, READ

KINDS = {"households": "十户联防", "shops": "十店联防"}

# the text of seed 001 doc 4 ("三包、两防、一举报"); a county replaces it with its own on the letters page
JOINT_DEFENCE = LetterKind(
    key="patrol.joint_defence", title="治安联防责任书", title_en="Joint-defence letter",
    paragraphs=[
        "为做好{年度}年度治安联防工作，形成“一家报警，家家相助”的联防格局，{发文单位}（甲方）与治安联防组长"
        "{责任方}（乙方）签订本责任书，由{对方}指导监督。",
        "乙方组织带领本联防组开展义务巡逻，落实“三包、两防、一举报”：“三包”即包店内、门前治安秩序，"
        "包本店流动人口无违法事件发生，包内部无火灾隐患；“两防”即防内部火灾事故，防各类治安、刑事案件；"
        "“一举报”即发现可疑情况及时向上级公安机关和驻社区民警举报各类违法犯罪线索。",
        "本责任书自{签订日期}起生效。"],
    parties=("person", "unit"))


def _check_group(ctx, group: PatrolGroup, data: dict) -> None:
    size = ctx.plugins["patrol"]["joint_defence_group_size"]
    if data["households"] > size:
        raise Invalid("households", "group_too_large", f"每个联防组至多 {size} 户（店），请分为两个组")


GROUPS = Register(
    name="groups", title=("治安联防组", "Joint-defence groups"), model=PatrolGroup, read=READ, write=MANAGE,
    fields={"name": fields.String(required=True, validate=validate.Length(min=1, max=60), metadata={"title": "联防组名称"}),
            "kind": fields.String(required=True, validate=validate.OneOf(list(KINDS), labels=list(KINDS.values())),
                                  metadata={"title": "类别"}),
            "leader_person_id": fields.Integer(required=True, validate=validate.Range(min=1, max=2**63 - 1),
                                               metadata={"title": "联防组长"}),
            "households": fields.Integer(required=True, validate=validate.Range(min=1, max=1000),
                                         metadata={"title": "户（店）数"}),
            "members": fields.String(load_default=None, validate=validate.Length(max=1000),
                                     metadata={"title": "成员户（店）名单"})},
    filters=("kind",),
    columns=(("org_unit", ("所属单位", "Unit")), ("name", ("联防组名称", "Name")), ("kind", ("类别", "Kind")),
             ("households", ("户（店）数", "Households")), ("status", ("状态", "Status"))),
    close_title=("撤销", "Dissolve"), on_create=_check_group, menu_order=62)
