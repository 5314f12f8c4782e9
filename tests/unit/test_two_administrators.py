"""Who may approve whose request for a wide role (`domain.access.approval_refusal`): two
administrators count as two people only if neither could be acting as the other."""

from __future__ import annotations

from custody.domain.access import Standing, approval_refusal, approvals_possible

# Made at installation: nobody asked for their role, nobody else held their password.
FIRST = Standing("first")
SECOND = Standing("second")


def test_two_administrators_the_installation_made_approve_each_other() -> None:
    assert approval_refusal(SECOND, FIRST, "erin") is None
    assert approval_refusal(FIRST, SECOND, "erin") is None
    assert approvals_possible([FIRST, SECOND])


def test_nobody_approves_their_own_request_or_their_own_role() -> None:
    assert approval_refusal(FIRST, FIRST, "erin") == (
        "the administrator who asked for a role cannot approve it"
    )
    assert approval_refusal(SECOND, FIRST, "second") == "nobody approves a role for themselves"
    assert not approvals_possible([FIRST])


def test_an_administrator_appointed_at_the_requesters_request_may_not_approve_them() -> None:
    puppet = Standing("deputy", appointed_by="first")
    assert "at first's request" in (approval_refusal(puppet, FIRST, "erin") or "")
    # Nor the one who appointed them approve what they ask: either way it is one person.
    assert "deputy was made an administrator at your request" in (
        approval_refusal(FIRST, puppet, "erin") or ""
    )
    # Someone else approves either of them.
    assert approval_refusal(SECOND, puppet, "erin") is None
    assert approval_refusal(puppet, SECOND, "erin") is None


def test_whoever_issued_the_code_of_a_password_is_not_a_second_person() -> None:
    set_up = Standing("deputy", holders=frozenset({"first"}))
    assert "reset code first issued" in (approval_refusal(set_up, FIRST, "erin") or "")
    assert "deputy's password descends from a reset code you issued" in (
        approval_refusal(FIRST, set_up, "erin") or ""
    )
    assert approval_refusal(SECOND, set_up, "erin") is None


def test_two_whose_passwords_one_person_could_have_set_are_that_one_person() -> None:
    c = Standing("c", holders=frozenset({"first"}))
    d = Standing("d", holders=frozenset({"first"}))
    assert "first issued the codes both" in (approval_refusal(c, d, "erin") or "")
    # Passwords set with codes from different people: two people.
    e = Standing("e", holders=frozenset({"second"}))
    assert approval_refusal(c, e, "erin") is None
    # Down a chain too: f's code came from e, whose code came from second.
    f = Standing("f", holders=frozenset({"e", "second"}))
    assert approval_refusal(f, SECOND, "erin") is not None
    assert approval_refusal(f, c, "erin") is None


def test_a_lone_administrator_and_their_puppet_can_never_give_a_wide_role() -> None:
    # Every way a lone administrator can make a second leaves them unable to approve each
    # other: only the installation can add an administrator then.
    deputy = Standing("deputy", appointed_by="first", holders=frozenset({"first"}))
    for puppet in (
        Standing("deputy", appointed_by="first"),
        Standing("deputy", holders=frozenset({"first"})),
        deputy,
    ):
        assert not approvals_possible([FIRST, puppet])
    # A puppet's own puppet does not help either: first could have set its password too.
    third = Standing("third", appointed_by="deputy", holders=frozenset({"deputy", "first"}))
    assert not approvals_possible([FIRST, deputy, third])
