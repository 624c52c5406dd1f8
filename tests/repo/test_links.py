"""Links: one per side per (linkType, linkQualifier), bulk look-ups both ways."""

from __future__ import annotations

import pytest

from core.repo import Conflict

pytestmark = pytest.mark.backends("sqlite", "postgresql")

M = "systemSalesforceUser_managedUser"


def test_links_are_found_from_either_side_in_bulk(repo):
    repo.link_many(M, [(f"sf{i}", f"u{i}") for i in range(1200)])
    by_first = repo.links_by_first(M, ["sf0", "sf1199", "sf-none"])
    assert {k: v.second_id for k, v in by_first.items()} == {"sf0": "u0", "sf1199": "u1199"}
    by_second = repo.links_by_second(M, ["u7"])
    assert by_second["u7"].first_id == "sf7" and by_second["u7"].link_type == M
    assert repo.links.count(M) == 1200


def test_a_side_already_linked_is_a_conflict_naming_it(repo):
    repo.link(M, "sf1", "u1")
    with pytest.raises(Conflict, match="sf1 is already linked"):
        repo.link(M, "sf1", "u2")
    with pytest.raises(Conflict, match="u1 is already linked"):
        repo.link(M, "sf2", "u1")


def test_qualifiers_and_link_types_are_separate_namespaces(repo):
    repo.link(M, "sf1", "u1")
    repo.link(M, "sf1", "u2", qualifier="test")
    repo.link("other", "sf1", "u3")
    assert repo.links_by_first(M, ["sf1"], "test")["sf1"].second_id == "u2"
    assert repo.links_by_first("other", ["sf1"])["sf1"].second_id == "u3"


def test_unlink_removes_one_side_and_frees_both_ids(repo):
    repo.link(M, "sf1", "u1")
    assert repo.unlink(M, second_id="u1") == 1
    assert repo.links_by_first(M, ["sf1"]) == {}
    repo.link(M, "sf1", "u9")
    assert repo.unlink_many(M, first_ids=["sf1", "sf2"]) == 1


def test_iter_links_yields_every_link_of_the_type(repo):
    repo.link_many(M, [(f"sf{i}", f"u{i}") for i in range(30)])
    repo.link("other", "a", "b")
    links = list(repo.links.iter_links(M, batch=8))
    assert sorted(k.first_id for k in links) == sorted(f"sf{i}" for i in range(30))
    assert links[0].as_idm()["linkType"] == M


def test_other_sides_maps_each_linked_id_to_its_partner_per_type_and_qualifier(repo):
    repo.link_many(M, [("sf1", "u1"), ("sf2", "u2")])
    repo.link("other", "sf1", "u9")
    repo.link(M, "sf3", "u3", "test")
    assert repo.links.other_sides(M, ["sf1", "sf2", "sf3", "nope"]) == {"sf1": "u1", "sf2": "u2"}
    assert repo.links.other_sides(M, ["u2", "u9"], given="second_id") == {"u2": "sf2"}
    assert repo.links.other_sides(M, ["sf3"], qualifier="test") == {"sf3": "u3"}
    with pytest.raises(ValueError, match="given"):
        repo.links.other_sides(M, ["sf1"], given="id")
