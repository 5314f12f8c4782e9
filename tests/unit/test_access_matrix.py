"""Who may do what: every role, action, relationship and access class, as the rule book says.

`EXPECTED` below is the policy in the force's words, independently of how
`custody.domain.access` encodes it: for each role, for footage the viewer stands
in one relationship to, in one access class, the actions they may take. Anything
not listed is refused; a refusal is a 404 for someone who may not even list the
footage, a 403 for someone who may.
"""

from __future__ import annotations

import itertools

import pytest

from custody.domain.access import (
    ROLES,
    AccessClass,
    Action,
    ListingGrant,
    RecordingFacts,
    Relationship,
    SystemAction,
    Viewer,
    decide,
    hold_visible,
    listing_scope,
    may,
    permitted,
)

A = Action
N, R, C = AccessClass.NORMAL, AccessClass.RESTRICTED, AccessClass.CONFIDENTIAL
EVERYTHING = frozenset(Action)
NOTHING: frozenset[Action] = frozenset()
CASE_MEMBER = frozenset({A.LIST, A.VIEW, A.STREAM, A.ANNOTATE, A.TRANSCRIBE})
CASE_WORK = frozenset(
    {A.LIST, A.VIEW, A.STREAM, A.DOWNLOAD, A.ANNOTATE, A.FLAG_EVIDENCE, A.ADD_TO_CASE,
     A.PLACE_HOLD, A.LIFT_HOLD, A.VIEW_HOLDS, A.VIEW_AUDIT, A.SHARE, A.EXPORT, A.CLIP,
     A.TRANSCRIBE}
)  # fmt: skip
SUPERVISION = frozenset(
    {A.LIST, A.VIEW, A.STREAM, A.CATEGORISE, A.ANNOTATE, A.FLAG_EVIDENCE, A.VIEW_HOLDS,
     A.VIEW_AUDIT, A.TRANSCRIBE}
)  # fmt: skip
DISCLOSURE = frozenset(
    {A.LIST, A.VIEW, A.STREAM, A.DOWNLOAD, A.SHARE, A.EXPORT, A.VIEW_AUDIT, A.CLIP, A.REDACT,
     A.APPROVE_REDACTION, A.TRANSCRIBE}
)  # fmt: skip
AUDITING = frozenset({A.LIST, A.VIEW, A.VIEW_HOLDS, A.VIEW_AUDIT})
ADMINISTRATION = frozenset({A.LIST, A.RESTORE})

# The relationships, each alone: how the viewer stands to the footage.
NONE, OWN, TEAM, CASE, REASON = "none", "own", "team", "case", "stated reason"
RELATIONSHIPS = (NONE, OWN, TEAM, CASE, REASON)


def same(actions: frozenset[Action]) -> dict[AccessClass, frozenset[Action]]:
    return {N: actions, R: actions, C: actions}


EXPECTED: dict[str, dict[str, dict[AccessClass, frozenset[Action]]]] = {
    "officer": {
        NONE: same(NOTHING),
        OWN: {
            # Their own footage: watch it, categorise it, note it, see that it is kept.
            N: frozenset(
                {A.LIST, A.VIEW, A.STREAM, A.CATEGORISE, A.ANNOTATE, A.VIEW_HOLDS, A.TRANSCRIBE}
            ),
            # Restricted (use of force, domestic abuse): watch, but not re-categorise.
            R: frozenset({A.LIST, A.VIEW, A.STREAM, A.ANNOTATE, A.VIEW_HOLDS, A.TRANSCRIBE}),
            # Confidential: only that it exists.
            C: frozenset({A.LIST}),
        },
        TEAM: same(NOTHING),
        CASE: same(CASE_MEMBER),
        REASON: same(NOTHING),
    },
    "supervisor": {
        NONE: same(NOTHING),
        OWN: same(NOTHING),
        TEAM: {N: SUPERVISION | {A.DOWNLOAD}, R: SUPERVISION, C: NOTHING},
        CASE: same(CASE_MEMBER),
        REASON: same(NOTHING),
    },
    "investigator": {
        NONE: same(NOTHING),
        OWN: same(NOTHING),
        TEAM: same(NOTHING),
        CASE: same(CASE_WORK),
        REASON: {
            N: frozenset({A.LIST, A.VIEW, A.STREAM, A.ADD_TO_CASE}),
            R: frozenset({A.LIST, A.VIEW, A.ADD_TO_CASE}),
            C: NOTHING,
        },
    },
    "professional_standards": {rel: same(EVERYTHING) for rel in RELATIONSHIPS},
    "disclosure": {
        NONE: same(NOTHING),
        OWN: same(NOTHING),
        TEAM: same(NOTHING),
        CASE: same(DISCLOSURE),
        REASON: same(NOTHING),
    },
    "fleet_manager": {rel: same(NOTHING) for rel in RELATIONSHIPS},
    "administrator": {rel: same(ADMINISTRATION) for rel in RELATIONSHIPS},
    "auditor": {rel: same(AUDITING) for rel in RELATIONSHIPS},
}


def case(role: str, relationship: str, access_class: AccessClass) -> tuple[Viewer, RecordingFacts]:
    """A viewer and a recording (officer 2, of Hackney, in case 7) in one relationship."""
    recording = RecordingFacts(2, "Hackney", access_class, frozenset({7}))
    viewer = {
        NONE: Viewer(role, "Camden", 1),
        OWN: Viewer(role, "Camden", 2),
        TEAM: Viewer(role, "Hackney", 1),
        CASE: Viewer(role, "Camden", 1, case_ids=frozenset({7})),
        REASON: Viewer(role, "Camden", 1, stated_reason=True),
    }[relationship]
    return viewer, recording


def test_the_rule_book_covers_every_role() -> None:
    assert set(EXPECTED) == set(ROLES)
    for role, table in EXPECTED.items():
        assert set(table) == set(RELATIONSHIPS), role
        for relationship in RELATIONSHIPS:
            assert set(table[relationship]) == set(AccessClass), (role, relationship)


@pytest.mark.parametrize("role", ROLES)
def test_every_action_relationship_and_access_class(role: str) -> None:
    # A complaint hold is not among the facts: what a person may do never changes with one
    # (a refusal would tell them of it); the door filters what it shows instead.
    wrong = []
    for relationship, access_class in itertools.product(RELATIONSHIPS, AccessClass):
        allowed = EXPECTED[role][relationship][access_class]
        viewer, recording = case(role, relationship, access_class)
        for action in Action:
            decision = decide(viewer, action, recording)
            want_conceal = A.LIST not in allowed
            if decision.allowed != (action in allowed):
                wrong.append(f"{relationship}/{access_class}/{action}: allowed={decision.allowed}")
            elif not decision.allowed and decision.conceal != want_conceal:
                wrong.append(f"{relationship}/{access_class}/{action}: conceal={decision.conceal}")
            assert decision.reason, "every answer says why"
        assert permitted(viewer, recording) == allowed, (relationship, access_class)
    assert not wrong, "\n".join(wrong)


# The same rules, told as a story: alice owns the footage, bob supervises her team,
# charlie is an officer on another team, dana investigates, erin is in standards.
ALICE = Viewer("officer", "Hackney", 1)
BOB = Viewer("supervisor", "Hackney", None)
CHARLIE = Viewer("officer", "Camden", 3)
DANA = Viewer("investigator", "CID", None, case_ids=frozenset({9}))
ERIN = Viewer("professional_standards", "DPS", None)
ALICES_ARREST = RecordingFacts(1, "Hackney")
ALICES_USE_OF_FORCE = RecordingFacts(1, "Hackney", AccessClass.RESTRICTED)
ALICES_COVERT = RecordingFacts(1, "Hackney", AccessClass.CONFIDENTIAL, frozenset({9}))


def test_alice_watches_and_categorises_her_own_footage() -> None:
    assert decide(ALICE, A.STREAM, ALICES_ARREST)
    assert decide(ALICE, A.CATEGORISE, ALICES_ARREST)
    refused = decide(ALICE, A.DOWNLOAD, ALICES_ARREST)
    assert not refused and not refused.conceal  # she knows it exists: 403


def test_bob_reviews_his_teams_footage_but_copies_no_restricted_footage() -> None:
    assert decide(BOB, A.STREAM, ALICES_ARREST)
    assert decide(BOB, A.DOWNLOAD, ALICES_ARREST)
    assert decide(BOB, A.STREAM, ALICES_USE_OF_FORCE)
    assert not decide(BOB, A.DOWNLOAD, ALICES_USE_OF_FORCE)


def test_charlie_does_not_learn_that_alices_footage_exists() -> None:
    for action in Action:
        decision = decide(CHARLIE, action, ALICES_ARREST)
        assert not decision and decision.conceal  # 404, not 403


def test_confidential_footage_is_for_the_case_team() -> None:
    assert decide(DANA, A.STREAM, ALICES_COVERT)
    assert not decide(BOB, A.LIST, ALICES_COVERT)
    assert decide(ALICE, A.LIST, ALICES_COVERT) and not decide(ALICE, A.VIEW, ALICES_COVERT)


def test_an_investigator_outside_their_cases_must_state_a_reason() -> None:
    assert not decide(DANA, A.STREAM, ALICES_ARREST)
    with_reason = Viewer("investigator", "CID", None, stated_reason=True)
    assert decide(with_reason, A.STREAM, ALICES_ARREST)
    assert not decide(with_reason, A.STREAM, ALICES_USE_OF_FORCE)  # add it to a case first


def test_a_complaint_hold_is_invisible_to_the_officer_and_her_supervisor() -> None:
    # What anyone may do to footage never depends on a complaint hold: a refusal would tell.
    # The hold itself shows only to those who see complaints, never to its own officer.
    assert not hold_visible(ALICE, True, concerns_officer_id=1)
    assert not hold_visible(BOB, True, concerns_officer_id=1)
    assert not hold_visible(DANA, True, concerns_officer_id=1)
    assert hold_visible(ERIN, True, concerns_officer_id=1)
    assert hold_visible(BOB, False, concerns_officer_id=None)  # a legal hold is no secret
    erin_under_complaint = Viewer("professional_standards", "DPS", 5)
    assert not hold_visible(erin_under_complaint, True, concerns_officer_id=5)
    assert not decide(DANA, A.PLACE_COMPLAINT_HOLD, ALICES_COVERT)
    assert decide(ERIN, A.PLACE_COMPLAINT_HOLD, ALICES_ARREST)


def test_administrators_manage_but_do_not_watch() -> None:
    admin = Viewer("administrator", None, None)
    assert decide(admin, A.LIST, ALICES_ARREST)
    assert decide(admin, A.RESTORE, ALICES_ARREST)
    assert not decide(admin, A.STREAM, ALICES_ARREST)


SYSTEM_EXPECTED: dict[SystemAction, set[str]] = {
    SystemAction.MANAGE_USERS: {"administrator"},
    SystemAction.MANAGE_CATEGORIES: {"administrator"},
    SystemAction.MANAGE_FLEET: {"administrator", "fleet_manager"},
    SystemAction.VIEW_FLEET: {"administrator", "fleet_manager", "supervisor"},
    SystemAction.MANAGE_CASES: {"investigator", "professional_standards"},
    SystemAction.VIEW_CASES: {"investigator", "professional_standards", "disclosure",
                              "supervisor", "auditor"},
    SystemAction.RETENTION_PREVIEW: {"administrator", "supervisor", "auditor",
                                     "professional_standards"},
    SystemAction.RETENTION_RUN: {"administrator"},
    SystemAction.ANSWER_SUBJECT_ACCESS: {"professional_standards"},
    SystemAction.REVIEW_QUEUE: {"administrator", "supervisor", "investigator",
                                "professional_standards"},
    SystemAction.READ_AUDIT: {"auditor", "professional_standards"},
    SystemAction.VERIFY_AUDIT: {"auditor", "professional_standards", "administrator"},
    SystemAction.SEARCH_FORCE_WIDE: {"investigator", "professional_standards", "auditor",
                                     "administrator"},
    SystemAction.SEE_ALL_CASES: {"professional_standards", "auditor"},
    SystemAction.SEE_COMPLAINT_HOLDS: {"professional_standards", "auditor"},
    SystemAction.CLASSIFY_CONFIDENTIAL: {"professional_standards"},
    SystemAction.MARK_SCHEDULE: {"disclosure", "investigator", "professional_standards"},
    SystemAction.VIEW_RETENTION: {"officer", "supervisor", "investigator",
                                  "professional_standards", "administrator", "auditor"},
    SystemAction.VIEW_COMPLIANCE: {"supervisor", "professional_standards", "auditor",
                                   "administrator"},
    SystemAction.SIGN_OFF_FOOTAGE: {"supervisor"},
}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(SystemAction))
def test_every_system_action_for_every_role(role: str, action: SystemAction) -> None:
    viewer = Viewer(role, "Hackney", None, stated_reason=True)
    decision = may(viewer, action)
    assert decision.allowed == (role in SYSTEM_EXPECTED[action])
    assert not decision.conceal


def test_an_investigator_searches_force_wide_only_with_a_reason() -> None:
    assert not may(Viewer("investigator", None, None), SystemAction.SEARCH_FORCE_WIDE)
    assert may(
        Viewer("investigator", None, None, stated_reason=True), SystemAction.SEARCH_FORCE_WIDE
    )


def _listed(grants: tuple[ListingGrant, ...], viewer: Viewer, recording: RecordingFacts) -> bool:
    held = {Relationship.ANY}
    if viewer.officer_id == recording.officer_id:
        held.add(Relationship.OWN)
    if viewer.unit == recording.officer_unit:
        held.add(Relationship.TEAM)
    if viewer.case_ids & recording.case_ids:
        held.add(Relationship.CASE)
    if viewer.stated_reason:
        held.add(Relationship.STATED_REASON)
    return any(g.relationship in held and recording.access_class in g.classes for g in grants)


@pytest.mark.parametrize("role", ROLES)
def test_a_search_lists_exactly_what_decide_lets_the_viewer_list(role: str) -> None:
    for relationship, access_class in itertools.product(RELATIONSHIPS, AccessClass):
        viewer, recording = case(role, relationship, access_class)
        listed = _listed(listing_scope(viewer), viewer, recording)
        assert listed == decide(viewer, A.LIST, recording).allowed, (relationship, access_class)
