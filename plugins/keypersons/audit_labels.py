"""The words of the key-persons module's audit entries (hook ``pingan_audit_labels``). The
category and the person are encrypted or secret columns: the audit shows them as ***."""
from __future__ import annotations

from core.sdk import AuditLabels

from .categories import RISK_LEVELS
from .records import RESULTS, WAYS

LABELS = AuditLabels(
    actions={
        "keypersons.overdue": ("重点人员走访逾期", "Visit overdue"),
        "keypersons.anonymised": ("重点人员档案到期匿名化", "Record anonymised (retention)"),
        "keypersons.export": ("导出重点人员名单", "Key persons exported"),
        "keypersons.handed_over": ("重点人员移交", "Record handed over"),
        "keypersons.transferred_in": ("外县移交的重点人员转入", "Record transferred in from another county"),
        "keypersons.transferred_out": ("重点人员移交外县，本县撤销列管", "Record transferred to another county"),
    },
    object_types={"keypersons_record": ("重点人员档案", "Key-person record"),
                  "keypersons_visit": ("走访记录", "Visit"),
                  "keypersons_handover": ("重点人员移交记录", "Hand-over"),
                  "keypersons_rental_house": ("出租房屋", "Rental house"),
                  "keypersons_rental_tenant": ("承租人", "Tenant"),
                  "keypersons_rental_rating": ("房主星级评定", "Landlord rating")},
    fields={
        "person_id": ("人员", "Person"), "category": ("类别", "Category"), "category_bidx": None,
        "risk_level": ("风险等级", "Risk level"), "details": ("类别信息", "Category fields"),
        "helpers": ("帮教小组", "Helpers"), "next_visit_due": ("下次走访期限", "Next visit due"),
        "last_visit_on": ("最近走访日期", "Last visit"), "overdue_since": ("逾期日期", "Overdue since"),
        "ended_on": ("撤销列管日期", "Supervision ended"), "anonymised_at": ("匿名化时间", "Anonymised"),
        "record_id": ("重点人员档案", "Record"), "visited_on": ("走访日期", "Visited on"),
        "due_on": ("应走访日期", "Due on"), "way": ("方式", "Way"), "visitor": ("走访人", "Visitor"),
        "content": ("走访内容", "Content"), "result": ("结果", "Result"), "due": ("应走访日期", "Due"),
        "reason": ("原因", "Reason"), "rows": ("条数", "Rows"),
        "handed_over_on": ("移交日期", "Handed over on"), "on": ("移交日期", "On"),
        "from_unit_id": ("原责任单位", "From unit"), "to_unit_id": ("接收单位", "To unit"),
        "owner_person_id": ("房主", "Landlord"), "address": ("房屋地址", "Address"), "rooms": ("出租间数", "Rooms let"),
        "note": ("备注", "Note"), "cards": ("已发放的卡", "Cards issued"), "house_id": ("出租房屋", "Rental house"),
        "moved_in": ("入住日期", "Moved in"), "moved_out": ("迁出日期", "Moved out"), "year": ("年度", "Year"),
        "stars": ("获得的星", "Stars"), "rated_on": ("评定日期", "Rated on"),
        "transferred_history": ("转入前其他县的记录", "History kept by other counties"),
    },
    values={"risk_level": RISK_LEVELS, "way": WAYS, "result": RESULTS,
            "keypersons.anonymised.reason": {"retention": "超过保存期限"}},
)
