"""Siblings in the org tree in the order people read them (issue 15, item 12): by the county's
unit code, then by name, numbers read as numbers — Chinese numerals included. Sorting the
names as strings gave 七 九 八 十一 十."""
from __future__ import annotations

from types import SimpleNamespace

from core.orgtree import natural_key, tree_order


def unit(id_, parent, name, code=None, status="active", depth=3):
    path = "/" + "/".join(["1"] * (depth - 1) + [str(id_)]) + "/"
    return SimpleNamespace(id=id_, parent_id=parent, name=name, code=code, status=status, path=path)


def test_chinese_and_arabic_numbers_sort_as_numbers():
    names = ["第十组", "第七组", "第十一组", "第九组", "第八组", "第二十组", "第一百零五组", "第二组"]
    assert sorted(names, key=natural_key) == ["第二组", "第七组", "第八组", "第九组", "第十组", "第十一组",
                                              "第二十组", "第一百零五组"]
    assert sorted(["T10", "T2", "T1"], key=natural_key) == ["T1", "T2", "T10"]
    assert sorted(["二〇二六年", "二〇二五年"], key=natural_key) == ["二〇二五年", "二〇二六年"]
    assert sorted(["东湖镇", "西山乡", "东湖镇"], key=natural_key) == ["东湖镇", "东湖镇", "西山乡"]


def test_tree_order_is_depth_first_with_siblings_by_code_then_name_retired_last():
    units = [unit(1, None, "示范县", "C", depth=2),
             unit(5, 1, "七村", None), unit(6, 1, "九村", None), unit(7, 1, "八村", None),
             unit(8, 1, "十一村", None), unit(9, 1, "十村", None),
             unit(3, 1, "乙镇", "T10"), unit(2, 1, "甲镇", "T2"), unit(4, 1, "旧镇", "T1", status="retired"),
             unit(10, 2, "第十一组", depth=4), unit(11, 2, "第二组", depth=4)]
    assert [u.name for u in tree_order(units)] == [
        "示范县", "甲镇", "第二组", "第十一组", "乙镇", "七村", "八村", "九村", "十村", "十一村", "旧镇"]
