"""Scope: a grant covers its unit's whole subtree, nothing else (ORG-1, issue 2)."""
from __future__ import annotations


def names(client, path="/api/org-units"):
    return {u["name"] for u in client.all_items(path)}


def test_village_user_sees_its_village_and_groups_not_the_sibling(demo, login):
    # rule: ORG-1 — village → group → grid under one village
    c = login(demo, "village.cadre")
    units = c.all_items("/api/org-units")
    ids = {u["id"] for u in units}
    assert demo.unit("T01D1V1") in ids
    assert demo.unit("T01D1V1G1") in ids and demo.unit("T01D1V1W1") in ids
    assert demo.unit("T01D1V2") not in ids  # the sibling village
    assert demo.unit("T01") not in ids      # the township above
    assert c.get(f"/api/org-units/{demo.unit('T01D1V2')}").status_code == 404


def test_township_user_sees_all_its_villages(demo, login):
    c = login(demo, "donghu.admin")
    ids = {u["id"] for u in c.all_items("/api/org-units")}
    villages = [code for code in demo.units if code.startswith("T01") and code.count("V") == 1
                and "G" not in code and "W" not in code]
    assert len(villages) == 10
    assert all(demo.unit(v) in ids for v in villages)
    assert demo.unit("T02") not in ids and demo.unit("C") not in ids


def test_county_admin_sees_all(demo, login):
    c = login(demo, "county.admin")
    assert {u["id"] for u in c.all_items("/api/org-units")} == set(demo.units.values())


def test_moving_a_village_moves_its_visibility(fresh_tenant, login):
    t = fresh_tenant
    admin = login(t, "county.admin")
    old_township, new_township = login(t, "donghu.admin"), login(t, "qingshan.admin")
    village, group = t.unit("T01D1V1"), t.unit("T01D1V1G1")
    r = admin.post(f"/api/org-units/{village}/move", json={"parent_id": t.unit("T02D1")})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["parent_id"] == t.unit("T02D1")
    assert r.get_json()["path"].startswith(admin.get(f"/api/org-units/{t.unit('T02D1')}").get_json()["path"])
    assert new_township.get(f"/api/org-units/{village}").status_code == 200
    assert new_township.get(f"/api/org-units/{group}").status_code == 200
    assert old_township.get(f"/api/org-units/{village}").status_code == 404
    assert old_township.get(f"/api/org-units/{group}").status_code == 404
    # the data attached to the village moved with it
    persons = new_township.all_items(f"/api/persons?org_unit_id={village}")
    assert len(persons) == 5
    assert all(p["org_unit_id"] == village for p in persons)
    assert old_township.get(f"/api/persons/{persons[0]['id']}").status_code == 404
    # and the village's own user still sees it
    assert login(t, "village.cadre").get(f"/api/org-units/{group}").status_code == 200


def test_move_into_own_subtree_is_rejected(fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    r = admin.post(f"/api/org-units/{fresh_tenant.unit('T01')}/move",
                   json={"parent_id": fresh_tenant.unit("T01D1V1")})
    assert r.status_code == 409
    assert r.get_json()["code"] == "move_into_own_subtree"
    assert "parent_id" in r.get_json()["errors"]["json"]


def test_retire_keeps_history_and_refuses_units_with_children(fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    village = fresh_tenant.unit("T01D1V3")
    r = admin.post(f"/api/org-units/{village}/retire")
    assert r.status_code == 409 and r.get_json()["code"] == "has_active_children"
    for code, uid in fresh_tenant.units.items():
        if code.startswith("T01D1V3") and code != "T01D1V3":
            assert admin.post(f"/api/org-units/{uid}/retire").status_code == 200
    r = admin.post(f"/api/org-units/{village}/retire")
    assert r.status_code == 200 and r.get_json()["status"] == "retired"
    assert admin.get(f"/api/org-units/{village}").get_json()["status"] == "retired"
    listed = {u["id"] for u in admin.all_items("/api/org-units")}
    assert village not in listed
    assert village in {u["id"] for u in admin.all_items("/api/org-units?status=retired")}
    r = admin.post("/api/org-units", json={"parent_id": village, "name": "新组", "level": "group"})
    assert r.status_code == 409 and r.get_json()["code"] == "parent_retired"


def test_permission_held_nowhere_is_403_out_of_scope_is_404(demo, login):
    c = login(demo, "village.cadre")
    assert c.get("/api/users").status_code == 403
    assert c.get("/api/users").get_json()["code"] == "forbidden"
    assert c.get("/api/persons/999999999").status_code == 404
