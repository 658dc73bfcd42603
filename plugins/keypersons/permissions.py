"""Permissions: read and manage per category (held on units), export, and the readers' report.

A code names the category (the permission list is the same for every county); a user's
grants never reach a URL, so the category of a person does not leak through them.
"""
from __future__ import annotations

from core.sdk import Permission, RoleTemplate

from .categories import CATEGORIES

USE = "keypersons.use"         # the module's menu and pages (what a record shows needs its category's permission)
EXPORT = "keypersons.export"
READERS = "keypersons.readers"   # the data-protection officer's report: who read which records and why
RENTAL_READ = "keypersons.rental.read"       # 出租房屋: the houses, their landlords and tenants
RENTAL_MANAGE = "keypersons.rental.manage"
TRANSFER = "keypersons.transfer"   # 跨县移交: offer a record to another county; county-wide, receive one


def read_perm(category: str) -> str:
    return f"keypersons.{category}.read"


def manage_perm(category: str) -> str:
    return f"keypersons.{category}.manage"


PERMISSIONS = [p for c in CATEGORIES.values() for p in (
    Permission(read_perm(c.key), f"查看{c.title}档案（须说明事由）", f"Read {c.key} records (with a purpose)",
               sensitive=True),
    Permission(manage_perm(c.key), f"登记和走访{c.title}", f"Register and visit {c.key} records", sensitive=True),
)] + [Permission(USE, "使用重点人员模块", "Use the key-persons module"),
      Permission(EXPORT, "导出重点人员名单（带水印）", "Export key persons (watermarked)", sensitive=True),
      Permission(READERS, "查看重点人员档案查阅记录", "See who read key-person records"),
      Permission(RENTAL_READ, "查看出租房屋", "See rental houses"),
      Permission(RENTAL_MANAGE, "登记出租房屋、承租人和房主星级", "Record rental houses, tenants and ratings"),
      Permission(TRANSFER, "跨县移交和接收重点人员", "Transfer key persons to and from other counties", sensitive=True)]

ALL = (USE, RENTAL_READ, RENTAL_MANAGE, TRANSFER, *(code for c in CATEGORIES for code in (read_perm(c), manage_perm(c))))
ROLE_TEMPLATES = [
    RoleTemplate("keypersons_officer", "重点人员管理专干", "Key-person officer", ALL),
    RoleTemplate("keypersons_dpo", "个人信息保护负责人", "Data-protection officer", (USE, READERS)),
    RoleTemplate("county_admin", "县级管理员", "County administrator", (*ALL, EXPORT, READERS)),
    RoleTemplate("unit_admin", "单位管理员", "Unit administrator", ALL),
]
