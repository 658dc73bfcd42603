"""Words for the audit log (issue 15, item 9): what each recorded action, object type, field and
coded value is called in Chinese (and English), so the county admin's audit viewer
(``core/web/admin/audit.py``) never shows an internal key.

The core's own words are here (``CORE``); a plugin gives the words of its own actions, tables
and fields with the hook ``pingan_audit_labels`` (an :class:`AuditLabels`, ``sdk.AuditLabels``),
collected once at start-up (``core.plugins``) and checked by :func:`check`: a plugin may only
name its own actions (``<plugin>.…``) and its own tables (``<plugin>_…``).

Only labelled fields are listed one by one; the others of an entry are counted ("另有 2 项
其他字段"). A field holding personal data (ID number, phone, address, e-mail — or whose
value the log stored masked) never shows a value: "已修改". Nothing here changes what the log
records; the API (``/api/audit``) keeps answering the entries as stored.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

Label = str | tuple[str, str]  # "中文" or ("中文", "English")


@dataclass(frozen=True)
class AuditLabels:
    """A plugin's words for its audit entries (returned by ``pingan_audit_labels``).

    - ``actions``: action → label, for the actions the plugin records with ``sdk.record``
      (``"petition.rated": ("群众评价", "Rated")``); every key starts with ``<plugin>.``.
    - ``object_types``: object type → label (``"petition_watch": "稳控对象"``); the plugin's
      tables start with ``<plugin>_``.
    - ``fields``: field → label. A key ``"<table>.<field>"`` or ``"<action>.<field>"`` names one
      table's or one action's field; a plain ``"<field>"`` applies to every entry of the
      plugin (its actions and its tables).
    - ``values``: the same keys → ``{stored code: label}`` for fields holding codes
      (``"petition_watch.grade": {"red": "红色"}``).
    """

    actions: Mapping[str, Label] = field(default_factory=dict)
    object_types: Mapping[str, Label] = field(default_factory=dict)
    fields: Mapping[str, Label] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, Label]] = field(default_factory=dict)


def check(plugin: str, labels) -> AuditLabels | None:
    """A plugin's answer, checked at start-up: a ``ValueError`` names a key outside its prefix."""
    if labels is None:
        return None
    if not isinstance(labels, AuditLabels):
        raise ValueError(f"plugin {plugin!r}: pingan_audit_labels must return sdk.AuditLabels")
    own = (f"{plugin}.", f"{plugin}_")
    for key in labels.actions:
        if not key.startswith(f"{plugin}."):
            raise ValueError(f"plugin {plugin!r}: audit action {key!r} must start with '{plugin}.'")
    for key in labels.object_types:
        if not key.startswith(own):
            raise ValueError(f"plugin {plugin!r}: audit object type {key!r} must start with '{plugin}_'")
    for kind in ("fields", "values"):
        for key in getattr(labels, kind):
            if "." in key and not key.startswith(own):
                raise ValueError(f"plugin {plugin!r}: audit {kind} key {key!r} must name its own table or action")
    return labels


# --- the core's words -------------------------------------------------------------------------------

ROW_ACTIONS = {"create": ("新建", "Created"), "update": ("修改", "Changed"), "delete": ("删除", "Deleted")}

CORE = AuditLabels(
    actions={
        **ROW_ACTIONS,
        "move": ("移动组织单位", "Unit moved"),
        "login": ("登录", "Signed in"),
        "logout": ("退出登录", "Signed out"),
        "lock": ("账号锁定", "Account locked"),
        "change_password": ("修改密码", "Password changed"),
        "reset_password": ("重置密码", "Password reset"),
        "widen_account": ("账号权限扩大", "Account widened"),
        "role_template_adopt": ("采用角色模板为新角色", "Role template adopted as a new role"),
        "role_template_extend": ("将角色模板加入已有角色", "Role template added to a role"),
        "read_sensitive": ("查看敏感信息", "Personal data viewed"),
        "inbox_read_all": ("全部标为已读", "Inbox marked read"),
        "person.pii_search": ("按身份证号或电话查找人员", "Person looked up by ID number or phone"),
        "case.backdated": ("补录事项（时间早于录入）", "Case back-dated"),
        "intake.backdated": ("补录受理（时间早于录入）", "Intake back-dated"),
        "case.task.acknowledge": ("签收交办任务", "Task acknowledged"),
        "case.task.answer": ("反馈办结交办任务", "Task answered"),
        "case.task.return": ("退回交办任务", "Task returned"),
        "case.follow_up": ("回访", "Follow-up visit"),
        "member_unit.staff": ("调整成员单位人员", "Member unit staff changed"),
        "render_document": ("生成文书", "Document rendered"),
        "job_started": ("后台任务开始", "Background job started"),
        "job_finished": ("后台任务结束", "Background job finished"),
        "job_requeued": ("后台任务重新排队", "Background job requeued"),
        "ledger_import": ("导入台账（批量登记事项）", "Ledger imported (cases registered in bulk)"),
        "calendar_import": ("导入全国节假日", "National holidays imported"),
        "operator_create": ("平台开通本县", "County opened by the platform"),
        "suspend": ("暂停本县使用", "County suspended"),
        "resume": ("恢复本县使用", "County resumed"),
        "oauth_client_secret_set": ("设置第三方应用密钥", "Client secret set"),
        "oauth_authorize": ("授权第三方应用", "Client authorised"),
        "oauth_deny": ("拒绝第三方应用授权", "Client refused"),
        "oauth_token_issue": ("签发第三方应用令牌", "Client token issued"),
        "oauth_token_revoke": ("撤销第三方应用令牌", "Client token revoked"),
        "core.letter.create": ("生成责任书", "Responsibility letter created"),
        "core.letter.create_batch": ("批量生成责任书", "Responsibility letters created in bulk"),
        "core.letter.sign": ("登记责任书签订", "Responsibility letter signed"),
        "core.letter.withdraw": ("撤销责任书", "Responsibility letter withdrawn"),
        "core.letter.configure": ("设置责任书文本与提醒", "Responsibility letter text and reminders set"),
        "core.transfer.offer": ("发起跨县移交", "Transfer offered"),
        "core.transfer.withdraw": ("申请撤回跨县移交", "Transfer withdrawal asked"),
        "core.transfer.received": ("收到外县移交", "Transfer received"),
        "core.transfer.accept": ("接收外县移交", "Transfer accepted"),
        "core.transfer.decline": ("拒收外县移交", "Transfer declined"),
        "core.transfer.delivered": ("跨县移交已转入或已送达", "Transfer delivered"),
        "core.transfer.declined": ("对方县拒收移交", "Transfer declined by the other county"),
        "core.transfer.withdrawn": ("跨县移交已撤回", "Transfer withdrawn"),
        "core.transfer.undeliverable": ("外县移交接收后未能转入", "Transfer could not be delivered"),
    },
    object_types={
        "tenant": ("本县", "County"), "org_level": ("组织层级", "Level"), "org_unit": ("组织单位", "Org unit"),
        "member_unit": ("成员单位", "Member unit"), "network_role": ("包片/网格职责", "Network role"),
        "person": ("人员", "Person"), "app_user": ("用户账号", "User"), "role": ("角色", "Role"),
        "role_permission": ("角色权限", "Role permission"), "role_assignment": ("角色分配", "Role assignment"),
        "tenant_plugin": ("模块开关与设置", "Module"), "access_token": ("访问令牌", "Access token"),
        "notification": ("通知", "Notification"), "oauth_client": ("第三方应用", "OAuth client"),
        "oauth_token": ("第三方应用令牌", "OAuth token"), "case_record": ("事项", "Case"), "case": ("事项", "Case"),
        "case_flag": ("事项标记", "Case flag"), "case_person": ("事项人员", "Case person"),
        "case_event": ("办理记录", "Timeline entry"), "case_task": ("交办任务", "Task"),
        "case_follow_up": ("回访记录", "Follow-up visit"),
        "case_deadline": ("办理时限", "Time limit"), "case_extension": ("延期申请", "Extension"),
        "case_supervision": ("督办催办", "Supervision"), "intake": ("受理登记", "Intake"),
        "intake_person": ("受理人员", "Intake person"), "case_type_setting": ("事项类型设置", "Case type settings"),
        "calendar_day": ("本县调休日", "Calendar day"), "calendar_year": ("本县节假日年度", "Calendar year"),
        "national_calendar_year": ("全国节假日年度", "National calendar year"), "attachment": ("附件", "Attachment"),
        "job_run": ("后台任务", "Background job"),
        "letter": ("责任书", "Responsibility letter"), "letter_kind_config": ("责任书文本与提醒", "Letter settings"),
        "transfer_out": ("本县发起的跨县移交", "Transfer offered"), "transfer_in": ("外县移交", "Transfer received"),
    },
    fields={
        # names and places
        "tenant.units": ("组织单位数", "Org units"), "tenant.users": ("账号数", "Accounts"),
        "name": ("名称", "Name"), "display_name": ("姓名", "Name"), "username": ("用户名", "Username"),
        "person_name": ("姓名", "Name"), "title": ("标题", "Title"), "description": ("说明", "Description"),
        "org_unit_id": ("所属单位", "Unit"), "org_unit.parent_id": ("上级单位", "Parent unit"), "level": ("层级", "Level"),
        "code": ("单位编码", "Code"), "member_unit_id": ("成员单位", "Member unit"), "category": ("类别", "Category"),
        "status": ("状态", "Status"), "active": ("在用", "Active"), "enabled": ("已启用", "Enabled"),
        "retired_at": ("撤销时间", "Retired"), "units_moved": ("随同移动的单位数", "Units moved"),
        # accounts
        "phone": ("电话", "Phone"), "email": ("电子邮箱", "E-mail"), "id_number": ("身份证号", "ID number"),
        "address": ("住址", "Address"), "password_hash": ("密码", "Password"),
        "failed_logins": ("连续登录失败次数", "Failed sign-ins"), "locked_until": ("锁定至", "Locked until"),
        "must_change_password": ("须修改密码", "Must change password"),
        "password_set_at": ("密码设置时间", "Password set"), "locale": ("界面语言", "Language"),
        "user_id": ("用户", "User"), "role_id": ("角色", "Role"), "role": ("角色", "Role"),
        "permission": ("权限", "Permission"), "permissions": ("新增的权限", "Permissions gained"),
        "revoked_tokens": ("撤销的令牌数", "Tokens revoked"), "ended_sessions": ("结束的登录会话数", "Sessions ended"),
        "ip": ("IP 地址", "IP address"), "reason": ("原因", "Reason"), "fields": ("查看的字段", "Fields"),
        "field": ("字段", "Field"), "scope": ("权限范围", "Scope"), "expires_at": ("有效期至", "Expires"),
        "revoked_at": ("撤销时间", "Revoked"), "plugin": ("模块", "Module"), "settings": ("设置", "Settings"),
        "kind": ("类型", "Kind"), "started_on": ("起始日期", "From"), "ended_on": ("截止日期", "To"),
        "created_by": ("录入人", "Entered by"),
        # cases
        "case_id": ("事项", "Case"), "case_type": ("事项类型", "Case type"), "number": ("编号", "Number"),
        "content": ("内容", "Content"), "channel": ("来源渠道", "Channel"), "state": ("状态", "State"),
        "handling_unit_id": ("承办单位", "Handling unit"), "handler_id": ("经办人", "Handler"),
        "due_at": ("办理期限", "Due"), "received_at": ("收到时间", "Received"), "closed_at": ("办结时间", "Closed"),
        "flag": ("标记", "Flag"), "person_id": ("人员", "Person"), "instruction": ("要求", "Instruction"),
        "assigned_by": ("交办人", "Assigned by"), "done_at": ("完成时间", "Done"), "result": ("结果", "Result"),
        "amount": ("时长", "Amount"), "note": ("备注", "Note"), "body": ("内容", "Text"),
        "read_at": ("阅读时间", "Read"), "subject": ("事由", "Subject"), "outcome": ("处理结果", "Outcome"),
        "outcome_note": ("处理说明", "Outcome note"), "response": ("答复", "Response"),
        "decision_note": ("审批意见", "Decision note"), "filename": ("文件名", "File name"),
        "deleted_at": ("删除时间", "Deleted"), "template": ("文书", "Document"),
        "value": ("填写的时间", "Time given"), "recorded_at": ("录入时间", "Entered"),
        "beyond_limit": ("超出补录期限", "Beyond the limit"), "max_backdate_days": ("补录期限（天）", "Limit (days)"),
        "day": ("日期", "Day"), "is_workday": ("上班", "Working day"), "year": ("年度", "Year"),
        "source": ("来源", "Source"),
        "text": ("答复内容", "Answer"), "satisfaction": ("满意度", "Satisfaction"),
        "member_unit.staff.added": ("新增人员", "Added"), "member_unit.staff.removed": ("移出人员", "Removed"),
        "attempt": ("第几次执行", "Attempt"), "attempts": ("已执行次数", "Attempts"),
        "message": ("说明", "Message"), "from": ("原状态", "Was"), "by": ("发起", "By"),
        "job_run.kind": None, "job_run.done": ("已处理条数", "Done"),
        "job_run.cases": ("登记事项数", "Cases registered"), "job_run.numbers": ("编号（首、末）", "Numbers (first, last)"),
        "job_run.case_ids": ("事项 ID 范围", "Case id ranges"), "job_run.rows": ("写入的行数（按表）", "Rows written (by table)"),
        "job_run.at": ("登记时间", "Registered at"),
        "person.name": ("姓名", "Name"), "app_user.org_unit_id": ("所在单位", "Unit"),
        "org_unit.org_unit_id": ("单位", "Unit"),
        "role_template_adopt.template": ("角色模板", "Role template"),
        "role_template_adopt.permissions": ("授予的权限", "Permissions granted"),
        "role_template_extend.template": ("角色模板", "Role template"),
        "role_template_extend.permissions": ("新增的权限", "Permissions added"),
        "inbox_read_all.count": ("标为已读的条数", "Items marked read"), "inbox_read_all.kind": ("范围", "Which"),
        # responsibility letters
        "letter.kind": ("责任书种类", "Kind"), "letter.issuing_unit_id": ("发文单位", "Issuing unit"),
        "letter.party_kind": ("签订方类别", "Party kind"), "letter.party_name": ("签订方", "Signing party"),
        "letter.counterparty": ("对方签字人", "Counter-party"), "letter.signed_on": ("签订日期", "Signed on"),
        "letter.scan_filename": ("扫描件", "Scan"), "letter.withdraw_reason": ("撤销原因", "Reason withdrawn"),
        "letter.withdrawn_at": ("撤销时间", "Withdrawn"), "letter.reminded_at": ("最近提醒时间", "Last reminded"),
        "core.letter.sign.signed_on": ("签订日期", "Signed on"), "core.letter.sign.scan": ("扫描件", "Scan"),
        "core.letter.create.kind": ("责任书种类", "Kind"), "core.letter.create_batch.kind": ("责任书种类", "Kind"),
        "core.letter.create_batch.created": ("生成份数", "Created"),
        "core.letter.create_batch.skipped": ("已有而跳过的份数", "Skipped"),
        "letter_kind_config.kind": ("责任书种类", "Kind"), "letter_kind_config.paragraphs": ("正文", "Text"),
        "letter_kind_config.remind_month": ("提醒起始月", "Reminders from (month)"),
        "letter_kind_config.remind_day": ("提醒起始日", "Reminders from (day)"),
        "letter_kind_config.remind_every_days": ("提醒间隔（天）", "Remind every (days)"),
        # transfers between counties
        "transfer_out.kind": ("移交种类", "Kind"), "transfer_in.kind": ("移交种类", "Kind"),
        "transfer_out.state": ("状态", "State"), "transfer_in.state": ("状态", "State"),
        "transfer_out.to_tenant_id": ("接收县", "To county"), "transfer_in.from_tenant_id": ("移交县", "From county"),
        "transfer_out.note": ("说明", "Note"), "transfer_in.note": ("说明", "Note"),
        "transfer_out.answer": ("拒收原因", "Reason declined"), "transfer_in.answer": ("拒收原因", "Reason declined"),
        "transfer_out.org_unit_id": ("责任单位", "Unit"), "transfer_in.org_unit_id": ("接收单位", "Receiving unit"),
        "transfer_out.answered_at": ("答复时间", "Answered"), "transfer_out.delivered_at": ("转入时间", "Delivered"),
        "transfer_in.decided_at": ("答复时间", "Answered"), "transfer_in.delivered_at": ("转入时间", "Delivered"),
        "transfer_in.offered_at": ("发起时间", "Offered"), "transfer_in.received_at": ("收到时间", "Received"),
        "core.transfer.offer.kind": ("移交种类", "Kind"), "core.transfer.offer.to_tenant_id": ("接收县", "To county"),
        "core.transfer.received.kind": ("移交种类", "Kind"), "core.transfer.received.from_tenant_id": ("移交县", "From county"),
        "core.transfer.accept.kind": ("移交种类", "Kind"), "core.transfer.accept.org_unit_id": ("接收单位", "Receiving unit"),
    },
    values={
        "app_user.status": {"active": ("正常", "active"), "disabled": ("停用", "disabled")},
        "org_unit.status": {"active": ("正常", "active"), "retired": ("已撤销", "retired")},
        "locale": {"zh_CN": ("中文", "Chinese"), "en": ("英文", "English")},
        "lock.reason": {"too_many_failures": ("连续登录失败次数过多", "too many failed sign-ins")},
        "case_task.state": {"open": ("办理中", "open"), "done": ("已反馈", "reported"),
                            "returned": ("已退回", "returned"), "cancelled": ("已撤回", "withdrawn")},
        "case_supervision.kind": {"supervise": ("督办", "supervise"), "urge": ("催办", "urge")},
        "case_supervision.level": {"normal": ("一般", "normal"), "listed": ("挂牌督办", "listed")},
        "case_extension.state": {"pending": ("待审批", "pending"), "approved": ("已批准", "approved"),
                                 "rejected": ("不予延期", "refused")},
        "case_person.role": {"requester": ("反映人", "requester"), "companion": ("同行人", "companion"),
                             "party": ("当事人", "party")},
        "intake.outcome": {"pending": ("登记后分流", "pending"), "resolved": ("当场解决", "resolved"),
                           "referred": ("解释并引导", "referred"), "case": ("已转为事项", "made a case"),
                           "reported_up": ("已上报", "reported up")},
        "case_task.role": {"sole": ("承办", "handling"), "lead": ("主办", "lead"), "co": ("协办", "co-handling")},
        "satisfaction": {"satisfied": ("满意", "satisfied"), "basically_satisfied": ("基本满意", "basically satisfied"),
                         "dissatisfied": ("不满意", "dissatisfied")},
        "case_deadline.state": {"running": ("计时中", "running"), "paused": ("已暂停", "paused"),
                                "stopped": ("已停止", "stopped")},
        "case_deadline.unit": {"calendar_days": ("自然日", "calendar days"), "working_days": ("工作日", "working days"),
                               "months": ("个月", "months"), "hours": ("小时", "hours"), "minutes": ("分钟", "minutes")},
        "network_role.kind": {"area_leader": ("包片领导", "area leader"), "stationed_cadre": ("驻村干部", "stationed cadre"),
                              "mediator": ("调解员", "mediator"), "information_officer": ("信息员", "information officer"),
                              "grid_worker": ("网格员", "grid worker"), "household_head": ("治安中心户长", "household head")},
        "case_deadline.rule": {"task": ("交办任务时限", "task limit"), "manual": ("手工设定", "set by hand")},
        "case_supervision.state": {"open": ("待答复", "open"), "answered": ("已答复", "answered"),
                                   "closed": ("已结束", "closed")},
        "job_run.state": {"queued": ("排队中", "queued"), "running": ("处理中", "running"),
                          "done": ("已完成", "done"), "failed": ("失败", "failed"), "cancelled": ("已取消", "cancelled")},
        "job_run.from": {"queued": ("排队中", "queued"), "running": ("处理中", "running")},
        "job_run.by": {"sweep": ("系统巡检", "sweep"), "operator": ("运营人员", "operator")},
        "oauth_token_revoke.reason": {
            "password_changed": ("修改密码", "password changed"), "password_reset": ("重置密码", "password reset"),
            "account_widened": ("账号权限扩大", "account widened"), "refresh_replay": ("刷新令牌被重复使用", "refresh replay"),
            "code_replay": ("授权码被重复使用", "code replay"), "revoked_by_client": ("应用主动撤销", "revoked by the app")},
        "notification.kind": {"todo": ("待办", "to do"), "message": ("消息", "message")},
        "inbox_read_all.kind": {"todo": ("待办", "to do"), "message": ("消息", "messages")},
        "transfer_out.state": {"offered": ("待对方县接收", "awaiting"), "withdrawing": ("撤回中", "being withdrawn"),
                               "accepted": ("已接收，正在转入", "accepted"), "delivered": ("已移交", "delivered"),
                               "declined": ("对方县已拒收", "declined"), "withdrawn": ("已撤回", "withdrawn")},
        "transfer_in.state": {"offered": ("待对方县接收", "awaiting"), "withdrawing": ("撤回中", "being withdrawn"),
                               "accepted": ("已接收，正在转入", "accepted"), "delivered": ("已移交", "delivered"),
                               "declined": ("对方县已拒收", "declined"), "withdrawn": ("已撤回", "withdrawn")},
        "letter.status": {"unsigned": ("未签订", "unsigned"), "signed": ("已签订", "signed"),
                          "withdrawn": ("已撤销", "withdrawn")},
        "letter.party_kind": {"unit": ("组织单位", "org unit"), "member_unit": ("成员单位", "member unit"),
                              "person": ("个人", "person")},
    },
)

# personal data: never a value on the page, whatever the log holds (it stores these masked)
SENSITIVE = re.compile(r"(^|_)(id_number|phone|mobile|tel|address|email|password|secret|token)(_|$)")
# bookkeeping that says nothing to a reader (the entry's own time, ids, search keys, hashes)
HIDDEN = {"id", "tenant_id", "created_at", "updated_at", "search_grams", "path", "depth", "storage_key",
          "sha256", "request_id", "last_login_at", "bidx"}
HIDDEN_SUFFIXES = ("_bidx", "_hash")
CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(?:[.:-][A-Za-z0-9_]+)*$")  # a stored code, not words
# fields that hold codes (a state, a kind …): an unlabelled value there is shown as a code; in any
# other field an ASCII word is what someone typed (a token's name, a user name)
CODE_FIELDS = {"state", "status", "kind", "role", "category", "level", "channel", "form", "grade", "result", "outcome",
               "method", "unit", "rule", "flag", "direction", "tier", "side", "type", "from_state", "to_state",
               "case_type", "plugin", "permission", "permissions", "reason", "locale", "action", "cadence",
               "field", "fields", "satisfaction"}
# the core's plain field words that also fit a plugin's own tables (ids, names, notes); the rest of
# a plugin's fields need its own words (its "result" need not be the core's)
SHARED_FIELDS = {"name", "title", "note", "content", "description"}

# a field → the table whose row it points at (an id shown by that row's name)
REFERENCES = {
    "org_unit_id": "org_unit", "handling_unit_id": "org_unit", "arose_unit_id": "org_unit",
    "issuer_unit_id": "org_unit", "target_unit_id": "org_unit", "escalated_to_unit_id": "org_unit",
    "member_unit_id": "member_unit", "role_id": "role", "person_id": "person", "case_id": "case_record",
    "user_id": "app_user", "handler_id": "app_user", "created_by": "app_user", "created_by_id": "app_user",
    "assigned_by": "app_user", "requested_by": "app_user", "decided_by": "app_user", "issuer_id": "app_user",
    "responded_by": "app_user", "uploaded_by": "app_user", "deleted_by": "app_user", "received_by": "app_user",
    "attached_by": "app_user", "filed_by": "app_user", "recorded_by": "app_user", "closed_by": "app_user",
    "added_by": "app_user", "leader_user_id": "app_user", "assignee_id": "app_user", "escalated_by": "app_user",
    "service_user_id": "app_user", "actor_id": "app_user",
    "member_unit.staff.added": "app_user", "member_unit.staff.removed": "app_user",  # "<action>.<field>": one act's
}


def text(label: Label | None, pick) -> str | None:
    """A label in the page's language (``pick`` is ``core.i18n.pick``)."""
    if label is None:
        return None
    return label if isinstance(label, str) else pick(*label)


class Vocabulary:
    """The core's words and those of every installed plugin (a county's old entries keep their
    words after it switches a module off), looked up for one entry at a time."""

    def __init__(self, plugins: Mapping[str, AuditLabels | None], titles: Mapping[str, Label]) -> None:
        self.titles = dict(titles)  # plugin → its title (the fallback for its unlabelled entries)
        self.actions = dict(CORE.actions)
        self.object_types = dict(CORE.object_types)
        self.fields, self.values = dict(CORE.fields), dict(CORE.values)
        self.own_fields: dict[str, dict] = {}
        self.own_values: dict[str, dict] = {}
        for name, labels in plugins.items():
            if labels is None:
                continue
            self.actions.update(labels.actions)
            self.object_types.update(labels.object_types)
            self.fields.update({k: v for k, v in labels.fields.items() if "." in k})
            self.values.update({k: v for k, v in labels.values.items() if "." in k})
            self.own_fields[name] = {k: v for k, v in labels.fields.items() if "." not in k}
            self.own_values[name] = {k: v for k, v in labels.values.items() if "." not in k}

    def owner(self, action: str, object_type: str) -> str | None:
        """The plugin an entry belongs to (its action ``<plugin>.…`` or table ``<plugin>_…``)."""
        for candidate in (action.split(".", 1)[0] if "." in action else None, object_type.split("_", 1)[0]):
            if candidate in self.titles:
                return candidate
        return None

    def action(self, action: str, object_type: str, pick) -> str:
        found = text(self.actions.get(action), pick)
        if found:
            return found
        plugin = self.owner(action, object_type)
        if plugin:
            return pick(f"{text(self.titles[plugin], pick)}：其他操作", f"{text(self.titles[plugin], pick)}: other act")
        return pick("其他操作", "Other act")

    def object_type(self, object_type: str, pick) -> str:
        found = text(self.object_types.get(object_type), pick)
        if found:
            return found
        plugin = self.owner("", object_type)
        if plugin:
            return pick(f"{text(self.titles[plugin], pick)}模块的记录", f"{text(self.titles[plugin], pick)} record")
        return pick("其他记录", "Other record")

    def _lookup(self, table: dict, own: dict, action: str, object_type: str, name: str):
        for key in (f"{action}.{name}", f"{object_type}.{name}"):
            if key in table:
                return table[key]
        plugin = self.owner(action, object_type)
        if plugin and name in own.get(plugin, {}):
            return own[plugin][name]
        if "." in name or (plugin and table is self.fields and name not in REFERENCES and name not in SHARED_FIELDS):
            return None
        if plugin and table is self.values:
            return None
        return table.get(name)

    def field(self, action: str, object_type: str, name: str, pick) -> str | None:
        return text(self._lookup(self.fields, self.own_fields, action, object_type, name), pick)

    def value(self, action: str, object_type: str, name: str, code: str, pick) -> str | None:
        table = self._lookup(self.values, self.own_values, action, object_type, name) or {}
        return text(table.get(code), pick)

    def known_actions(self, pick) -> list[tuple[str, str]]:
        """(action, label) of every labelled action — the viewer's action select: the core's in
        their order here (new, change, delete, log-in …), then each module's."""
        return [(k, text(v, pick)) for k, v in self.actions.items()]

    def known_object_types(self, pick) -> list[tuple[str, str]]:
        """(object type, label), one per label ("case" and "case_record" are both 事项: the first)."""
        seen, out = set(), []
        for k, v in self.object_types.items():
            label = text(v, pick)
            if label not in seen:
                seen.add(label)
                out.append((k, label))
        return out


def hidden(name: str) -> bool:
    return name in HIDDEN or name.endswith(HIDDEN_SUFFIXES)


def sensitive(name: str) -> bool:
    return bool(SENSITIVE.search(name))
