"""Who may do what: pure functions, so every route and page asks the same question.

`decide` answers for an action on one recording, from the viewer's role, their
relationship to it (own footage, own team, case member, a search with a stated
reason) and the footage's access class. `may` answers for actions that concern
the system rather than one recording (categories, users, the fleet, the audit
trail). `listing_scope` says which recordings a role may list at all, so that a
search can filter in SQL by the same rules.

The rules are one table, `RULES`: for each role, rows of "for footage I have this
relationship with, in these access classes, I may do these actions". A viewer
may do the union of the rows that hold. When the answer is no, a viewer who may
at least list the recording hears 403; anyone else hears 404, because even the
footage's existence is none of their business.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Action(enum.StrEnum):
    # On a recording
    LIST = "list"
    VIEW = "view"  # metadata, thumbnail, GPS track
    STREAM = "stream"
    DOWNLOAD = "download"
    CATEGORISE = "categorise"
    ANNOTATE = "annotate"  # title, reference, notes, tags, bookmarks
    FLAG_EVIDENCE = "flag_evidence"
    ADD_TO_CASE = "add_to_case"
    PLACE_HOLD = "place_hold"
    # A complaint hold is professional standards' own: the officer must not learn of it.
    PLACE_COMPLAINT_HOLD = "place_complaint_hold"
    LIFT_HOLD = "lift_hold"
    VIEW_HOLDS = "view_holds"
    VIEW_AUDIT = "view_audit"
    SHARE = "share"
    EXPORT = "export"
    # Cut a clip: a new object from the original (which is never changed), for disclosure.
    CLIP = "clip"
    # Find faces, choose what to blur and render a redacted copy (a new object).
    REDACT = "redact"
    # Approve another person's redacted copy for release (never one's own).
    APPROVE_REDACTION = "approve_redaction"
    # Have a recording's speech transcribed and correct its transcript (a new version): the
    # work of whoever may annotate or redact it (granted below with either).
    TRANSCRIBE = "transcribe"
    RESTORE = "restore"  # bring a recording pending deletion back under a category


class SystemAction(enum.StrEnum):
    MANAGE_USERS = "manage_users"
    MANAGE_CATEGORIES = "manage_categories"
    MANAGE_FLEET = "manage_fleet"
    VIEW_FLEET = "view_fleet"
    MANAGE_CASES = "manage_cases"
    VIEW_CASES = "view_cases"
    RETENTION_PREVIEW = "retention_preview"
    RETENTION_RUN = "retention_run"
    REVIEW_QUEUE = "review_queue"
    # The audit log's contents: who looked at what.
    READ_AUDIT = "read_audit"
    # The log's integrity: checkpoints and their signatures (hashes, not contents).
    VERIFY_AUDIT = "verify_audit"
    SEARCH_FORCE_WIDE = "search_force_wide"
    # Every case, not only the ones a person works on (and so every case reference).
    SEE_ALL_CASES = "see_all_cases"
    # Complaint holds and who acted for professional standards: the officer under
    # complaint, their supervisor and colleagues must not learn of a complaint.
    SEE_COMPLAINT_HOLDS = "see_complaint_holds"
    # The retention page: footage of one's own (or one's team, cases) pending deletion.
    VIEW_RETENTION = "view_retention"
    # Give or take away a confidential category: it narrows who sees footage to its case
    # team and professional standards, which is theirs to decide, not the officer's.
    CLASSIFY_CONFIDENTIAL = "classify_confidential"
    # The compliance page: per team and officer, footage uncategorised, unreviewed before
    # deletion, doubtfully categorised (counts of what the person may list).
    VIEW_COMPLIANCE = "view_compliance"
    # Sign off one's team's non-evidential footage before the sweep deletes it.
    SIGN_OFF_FOOTAGE = "sign_off_footage"
    # Mark a case's recordings and clips on its disclosure schedule: exhibit, unused, sensitive.
    MARK_SCHEDULE = "mark_schedule"
    # Answer subject access requests (UK GDPR Art. 15): register, find a person's footage,
    # hold it, review it, release it to them. The requests name members of the public.
    ANSWER_SUBJECT_ACCESS = "answer_subject_access"


class AccessClass(enum.StrEnum):
    NORMAL = "normal"
    RESTRICTED = "restricted"
    CONFIDENTIAL = "confidential"


class Relationship(enum.StrEnum):
    """How a viewer stands to a recording."""

    ANY = "any"  # holds for every recording
    OWN = "own"  # the viewer's own footage (their user is linked to its officer)
    TEAM = "team"  # footage of an officer in the viewer's unit
    CASE = "case"  # footage in one of the viewer's cases
    STATED_REASON = "stated_reason"  # found by a search whose reason was stated (and audited)


ROLES = (
    "officer",
    "supervisor",
    "investigator",
    "professional_standards",
    "disclosure",
    "fleet_manager",
    "administrator",
    "auditor",
)

ROLE_TITLES = {
    "officer": "officer",
    "supervisor": "supervisor",
    "investigator": "investigator",
    "professional_standards": "professional standards",
    "disclosure": "disclosure officer",
    "fleet_manager": "fleet manager",
    "administrator": "administrator",
    "auditor": "auditor",
}

# The role of an installation's first user (`custody init`): one that may manage users, so
# that every later user is added by someone the rules let (services/identity/setup.py).
FIRST_USER_ROLE = "administrator"


@dataclass(frozen=True)
class Viewer:
    role: str
    unit: str | None
    officer_id: int | None
    user_id: int | None = None
    # Cases the viewer works on (officer in the case or member).
    case_ids: frozenset[int] = field(default_factory=frozenset)
    # An investigator searching outside their cases must say why (and it is audited).
    stated_reason: bool = False


@dataclass(frozen=True)
class RecordingFacts:
    officer_id: int | None
    officer_unit: str | None
    access_class: AccessClass = AccessClass.NORMAL
    case_ids: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    # When refused, answer 404 rather than 403: the footage's existence must not leak.
    conceal: bool = True

    def __bool__(self) -> bool:
        return self.allowed


@dataclass(frozen=True)
class Rule:
    """For footage the viewer has `relationship` with, in `classes`, they may do `actions`."""

    relationship: Relationship
    classes: frozenset[AccessClass]
    actions: frozenset[Action]
    because: str


def _rule(
    relationship: Relationship, classes: set[AccessClass], actions: set[Action], because: str
) -> Rule:
    return Rule(relationship, frozenset(classes), frozenset(actions), because)


A = Action
NORMAL = {AccessClass.NORMAL}
RESTRICTED = {AccessClass.RESTRICTED}
CONFIDENTIAL = {AccessClass.CONFIDENTIAL}
EVERY_CLASS = set(AccessClass)
EVERY_ACTION = set(Action)
# What an investigator does with footage in their case.
CASE_WORK = {
    A.LIST,
    A.VIEW,
    A.STREAM,
    A.DOWNLOAD,
    A.ANNOTATE,
    A.FLAG_EVIDENCE,
    A.ADD_TO_CASE,
    A.PLACE_HOLD,
    A.LIFT_HOLD,
    A.VIEW_HOLDS,
    A.VIEW_AUDIT,
    A.SHARE,
    A.EXPORT,
    A.CLIP,
}
# Any case member (an officer or supervisor named on a case) may watch its footage.
CASE_MEMBER = {A.LIST, A.VIEW, A.STREAM, A.ANNOTATE}

R = Relationship
RULES: dict[str, tuple[Rule, ...]] = {
    "officer": (
        _rule(
            R.OWN,
            NORMAL,
            {A.LIST, A.VIEW, A.STREAM, A.CATEGORISE, A.ANNOTATE, A.VIEW_HOLDS},
            "the officer's own footage",
        ),
        # Restricted footage (use of force, domestic abuse) is theirs to watch, but not
        # to re-categorise: the officer it concerns does not choose who may see it.
        _rule(
            R.OWN,
            RESTRICTED,
            {A.LIST, A.VIEW, A.STREAM, A.ANNOTATE, A.VIEW_HOLDS},
            "the officer's own restricted footage",
        ),
        _rule(
            R.OWN, CONFIDENTIAL, {A.LIST}, "the officer's own confidential footage: that it exists"
        ),
        _rule(R.CASE, EVERY_CLASS, CASE_MEMBER, "footage in the officer's case"),
    ),
    "supervisor": (
        _rule(
            R.TEAM,
            NORMAL,
            {
                A.LIST,
                A.VIEW,
                A.STREAM,
                A.DOWNLOAD,
                A.CATEGORISE,
                A.ANNOTATE,
                A.FLAG_EVIDENCE,
                A.VIEW_HOLDS,
                A.VIEW_AUDIT,
            },
            "footage of the supervisor's team",
        ),
        # Reviewing the team's use of force is a supervisor's duty; copies are not.
        _rule(
            R.TEAM,
            RESTRICTED,
            {
                A.LIST,
                A.VIEW,
                A.STREAM,
                A.CATEGORISE,
                A.ANNOTATE,
                A.FLAG_EVIDENCE,
                A.VIEW_HOLDS,
                A.VIEW_AUDIT,
            },
            "restricted footage of the supervisor's team (no copies)",
        ),
        _rule(R.CASE, EVERY_CLASS, CASE_MEMBER, "footage in the supervisor's case"),
    ),
    "investigator": (
        _rule(R.CASE, EVERY_CLASS, CASE_WORK, "footage in the investigator's case"),
        _rule(
            R.STATED_REASON,
            NORMAL,
            {A.LIST, A.VIEW, A.STREAM, A.ADD_TO_CASE},
            "found by a search with a stated reason",
        ),
        _rule(
            R.STATED_REASON,
            RESTRICTED,
            {A.LIST, A.VIEW, A.ADD_TO_CASE},
            "restricted footage found with a stated reason: add it to a case to play it",
        ),
    ),
    "professional_standards": (
        _rule(R.ANY, EVERY_CLASS, EVERY_ACTION, "professional standards may act on any footage"),
    ),
    "disclosure": (
        _rule(
            R.CASE,
            EVERY_CLASS,
            {
                A.LIST,
                A.VIEW,
                A.STREAM,
                A.DOWNLOAD,
                A.SHARE,
                A.EXPORT,
                A.VIEW_AUDIT,
                A.CLIP,
                A.REDACT,
                A.APPROVE_REDACTION,
            },
            "disclosure of footage in the disclosure officer's cases",
        ),
    ),
    "fleet_manager": (),
    "administrator": (
        _rule(
            R.ANY,
            EVERY_CLASS,
            {A.LIST, A.RESTORE},
            "administrators see what is stored, not the footage",
        ),
    ),
    "auditor": (
        _rule(
            R.ANY,
            EVERY_CLASS,
            {A.LIST, A.VIEW, A.VIEW_HOLDS, A.VIEW_AUDIT},
            "auditors read records and audit trails, not footage",
        ),
    ),
}

# Correcting what was said is annotating it (the words beside the player) and drives audio
# redaction (select words, mute them): whoever may do either may transcribe. Reading a
# transcript is hearing the recording, so it is STREAM's, not a new action.
RULES = {
    role: tuple(
        Rule(rule.relationship, rule.classes, rule.actions | {A.TRANSCRIBE}, rule.because)
        if rule.actions & {A.ANNOTATE, A.REDACT}
        else rule
        for rule in rules
    )
    for role, rules in RULES.items()
}

# Actions as a refusal says them: "a supervisor may not download this footage".
ACTION_PHRASES = {
    A.LIST: "list",
    A.VIEW: "view",
    A.STREAM: "play",
    A.DOWNLOAD: "download",
    A.CATEGORISE: "categorise",
    A.ANNOTATE: "annotate",
    A.FLAG_EVIDENCE: "flag as evidence",
    A.ADD_TO_CASE: "add to a case",
    A.PLACE_HOLD: "place a hold on",
    A.PLACE_COMPLAINT_HOLD: "place a complaint hold on",
    A.LIFT_HOLD: "lift a hold on",
    A.VIEW_HOLDS: "see the holds on",
    A.VIEW_AUDIT: "read the audit trail of",
    A.SHARE: "share",
    A.EXPORT: "export",
    A.CLIP: "clip",
    A.REDACT: "redact",
    A.APPROVE_REDACTION: "approve a redaction of",
    A.TRANSCRIBE: "transcribe",
    A.RESTORE: "restore",
}

# Why a role sees nothing of a recording: the reason given (and audited) on refusal.
NO_ACCESS = {
    "officer": "officers see their own footage and footage in their cases",
    "supervisor": "supervisors see their own team's footage and footage in their cases",
    "investigator": "investigators see footage in their cases, or state a reason to search",
    "professional_standards": "professional standards see all footage",
    "disclosure": "disclosure officers see footage in their cases",
    "fleet_manager": "fleet managers manage cameras and docks, not footage",
    "administrator": "administrators manage the system but do not watch footage",
    "auditor": "auditors read records and audit trails, not footage",
}


def views_footage(role: str) -> bool:
    """Whether any footage at all may be opened by this role (its page, picture or player):
    an administrator lists what is stored, as records, and opens none of it."""
    return any(Action.VIEW in rule.actions for rule in RULES.get(role, ()))


def relationships(viewer: Viewer, recording: RecordingFacts) -> frozenset[Relationship]:
    """Every relationship the viewer has with the recording."""
    held = {Relationship.ANY}
    if viewer.officer_id is not None and viewer.officer_id == recording.officer_id:
        held.add(Relationship.OWN)
    if viewer.unit is not None and viewer.unit == recording.officer_unit:
        held.add(Relationship.TEAM)
    if viewer.case_ids & recording.case_ids:
        held.add(Relationship.CASE)
    if viewer.stated_reason:
        held.add(Relationship.STATED_REASON)
    return frozenset(held)


def _matching(viewer: Viewer, recording: RecordingFacts) -> list[Rule]:
    held = relationships(viewer, recording)
    return [
        rule
        for rule in RULES.get(viewer.role, ())
        if rule.relationship in held and recording.access_class in rule.classes
    ]


def permitted(viewer: Viewer, recording: RecordingFacts) -> frozenset[Action]:
    """Every action the viewer may do to the recording."""
    actions: set[Action] = set()
    for rule in _matching(viewer, recording):
        actions |= rule.actions
    return frozenset(actions)


def decide(viewer: Viewer, action: Action, recording: RecordingFacts) -> Decision:
    """May this viewer do this action to this recording?"""
    rules = _matching(viewer, recording)
    actions = permitted(viewer, recording)
    if action in actions:
        because = next(rule.because for rule in rules if action in rule.actions)
        return Decision(True, because, False)
    if Action.LIST in actions:
        because = next(rule.because for rule in rules if Action.LIST in rule.actions)
        what = ACTION_PHRASES.get(action, action.value)
        return Decision(False, f"{_a(viewer.role)} may not {what} this footage ({because})", False)
    return Decision(False, NO_ACCESS.get(viewer.role, f"the {viewer.role} role sees no footage"))


@dataclass(frozen=True)
class ListingGrant:
    """Recordings with this relationship and one of these access classes may be listed."""

    relationship: Relationship
    classes: frozenset[AccessClass]


def listing_scope(viewer: Viewer) -> tuple[ListingGrant, ...]:
    """What a search may return for this viewer: the rows of their role that allow LIST.

    A recording belongs in the results when any grant holds for it; no grants, no results.
    """
    grants = []
    for rule in RULES.get(viewer.role, ()):
        if Action.LIST not in rule.actions:
            continue
        if rule.relationship is Relationship.STATED_REASON and not viewer.stated_reason:
            continue
        grants.append(ListingGrant(rule.relationship, rule.classes))
    return tuple(grants)


SYSTEM_RULES: dict[SystemAction, frozenset[str]] = {
    SystemAction.MANAGE_USERS: frozenset({"administrator"}),
    SystemAction.MANAGE_CATEGORIES: frozenset({"administrator"}),
    SystemAction.MANAGE_FLEET: frozenset({"administrator", "fleet_manager"}),
    SystemAction.VIEW_FLEET: frozenset({"administrator", "fleet_manager", "supervisor"}),
    SystemAction.MANAGE_CASES: frozenset({"investigator", "professional_standards"}),
    SystemAction.VIEW_CASES: frozenset(
        {"investigator", "professional_standards", "disclosure", "supervisor", "auditor"}
    ),
    SystemAction.RETENTION_PREVIEW: frozenset(
        {"administrator", "supervisor", "auditor", "professional_standards"}
    ),
    SystemAction.RETENTION_RUN: frozenset({"administrator"}),
    SystemAction.REVIEW_QUEUE: frozenset(
        {"administrator", "supervisor", "investigator", "professional_standards"}
    ),
    # Who watched what is itself sensitive (it would reveal a complaint): not for administrators.
    SystemAction.READ_AUDIT: frozenset({"auditor", "professional_standards"}),
    SystemAction.VERIFY_AUDIT: frozenset({"auditor", "professional_standards", "administrator"}),
    SystemAction.SEARCH_FORCE_WIDE: frozenset(
        {"investigator", "professional_standards", "auditor", "administrator"}
    ),
    SystemAction.SEE_ALL_CASES: frozenset({"professional_standards", "auditor"}),
    SystemAction.SEE_COMPLAINT_HOLDS: frozenset({"professional_standards", "auditor"}),
    SystemAction.CLASSIFY_CONFIDENTIAL: frozenset({"professional_standards"}),
    SystemAction.VIEW_COMPLIANCE: frozenset(
        {"supervisor", "professional_standards", "auditor", "administrator"}
    ),
    SystemAction.SIGN_OFF_FOOTAGE: frozenset({"supervisor"}),
    # The disclosure officer keeps the schedule; the case's investigators mark as they go, and
    # professional standards keep the schedules of their own (misconduct) cases.
    SystemAction.MARK_SCHEDULE: frozenset({"disclosure", "investigator", "professional_standards"}),
    # Data protection sits with professional standards here: the role that may already see
    # and hold any footage. A force with its own data protection unit gives them this role.
    SystemAction.ANSWER_SUBJECT_ACCESS: frozenset({"professional_standards"}),
    SystemAction.VIEW_RETENTION: frozenset(
        {
            "officer",
            "supervisor",
            "investigator",
            "professional_standards",
            "administrator",
            "auditor",
        }
    ),
}

# Where each role starts the day in the portal.
START_PAGES: dict[str, str] = {
    "officer": "own_footage",
    "supervisor": "team_footage",
    "investigator": "cases",
    "professional_standards": "search",
    "disclosure": "cases",
    "fleet_manager": "fleet",
    "administrator": "administration",
    "auditor": "search",
}


def _a(role: str) -> str:
    """ "an officer", "a supervisor": a role as the subject of a sentence."""
    title = ROLE_TITLES.get(role, role)
    return ("an " if title[:1] in "aeiou" else "a ") + title


def may(viewer: Viewer, action: SystemAction) -> Decision:
    """May this viewer do a system-wide action?"""
    what = action.value.replace("_", " ")
    if viewer.role not in SYSTEM_RULES[action]:
        return Decision(False, f"{_a(viewer.role)} may not {what}", False)
    if (
        action is SystemAction.SEARCH_FORCE_WIDE
        and viewer.role == "investigator"
        and not viewer.stated_reason
    ):
        return Decision(False, "investigators state a reason to search beyond their cases", False)
    return Decision(True, f"{_a(viewer.role)} may {what}", False)


def roles_that_may(action: SystemAction) -> frozenset[str]:
    """The roles the table lets do a system-wide action (for queries over users)."""
    return SYSTEM_RULES[action]


def grant_needs_a_second_administrator(role: str) -> bool:
    """Whether giving someone this role needs a second administrator to approve it: a role
    that sees footage force-wide (some rule of it, for any footage, lets it list or view)
    or that manages users, who could give themselves any of those."""
    return role in SYSTEM_RULES[SystemAction.MANAGE_USERS] or any(
        rule.relationship is Relationship.ANY and rule.actions & {Action.LIST, Action.VIEW}
        for rule in RULES.get(role, ())
    )


def start_page(viewer: Viewer) -> str:
    """Where a person's day starts: own_footage, team_footage, cases, fleet, administration
    or search. Anyone linked to an officer starts with their own footage, unless their role
    starts with their team's."""
    start = START_PAGES.get(viewer.role, "search")
    if start != "team_footage" and viewer.officer_id is not None:
        return "own_footage"
    return start


def lists_own(viewer: Viewer) -> bool:
    """Whether the role lists its own footage (an officer linked to the person)."""
    return viewer.officer_id is not None or any(
        rule.relationship is Relationship.OWN and Action.LIST in rule.actions
        for rule in RULES.get(viewer.role, ())
    )


def lists_team(viewer: Viewer) -> bool:
    """Whether the role lists its team's footage (and has a team)."""
    return viewer.unit is not None and any(
        rule.relationship is Relationship.TEAM and Action.LIST in rule.actions
        for rule in RULES.get(viewer.role, ())
    )


def lists_any(viewer: Viewer) -> bool:
    """Whether the role lists footage at all (some rule of theirs allows LIST)."""
    return any(Action.LIST in rule.actions for rule in RULES.get(viewer.role, ()))


def sees_all_cases(viewer: Viewer) -> bool:
    return bool(may(viewer, SystemAction.SEE_ALL_CASES))


def sees_complaint_holds(viewer: Viewer) -> bool:
    return bool(may(viewer, SystemAction.SEE_COMPLAINT_HOLDS))


def hold_visible(viewer: Viewer, complaint: bool, concerns_officer_id: int | None) -> bool:
    """Whether a hold on footage the viewer may see the holds of shows to them.

    A legal hold shows to anyone who sees the recording's holds. A complaint hold shows only
    to those who see complaints, and never to the officer it concerns, whatever their role.
    """
    if not complaint:
        return True
    if not sees_complaint_holds(viewer):
        return False
    return viewer.officer_id is None or viewer.officer_id != concerns_officer_id


def acts_on_any_footage(viewer: Viewer, action: Action) -> bool:
    """Whether the role may do `action` to any footage, whoever's and of any class: needed to
    act on footage it has not named (an officer's footage over a time window). Anyone else
    names each recording, so that an answer never tells them what footage exists."""
    return any(
        rule.relationship is Relationship.ANY
        and action in rule.actions
        and rule.classes == frozenset(AccessClass)
        for rule in RULES.get(viewer.role, ())
    )


def refusal_for_unnamed(viewer: Viewer, action: Action) -> Decision:
    """The decision on acting on footage not named one by one (see `acts_on_any_footage`)."""
    if acts_on_any_footage(viewer, action):
        return Decision(True, f"{_a(viewer.role)} may act on any footage", False)
    what = ACTION_PHRASES.get(action, action.value)
    return Decision(False, f"{_a(viewer.role)} may {what} only recordings named one by one", False)


# --- two administrators: who may approve whose request ----------------------------------


@dataclass(frozen=True)
class Standing:
    """What makes an administrator one person and not another's instrument: who asked for
    their role (`appointed_by`; None for one the installation made, by `custody init`), and
    who could have set their present password (`holders`): whoever issued the one-time code
    it descends from (and saw it), whoever could have set that issuer's, and so on. Nobody
    for a password set at installation; the person changing it later, knowing it, does not
    take the others out: any of them could have been the one who changed it."""

    username: str
    appointed_by: str | None = None
    holders: frozenset[str] = frozenset()

    def could_be(self) -> frozenset[str]:
        """Everyone who could be acting as this administrator: they, and the holders."""
        return self.holders | {self.username}


def approval_refusal(approver: Standing, requester: Standing, subject: str) -> str | None:
    """Why `approver` may not approve `requester`'s request to give `subject` a wide role
    (None: they may). Two administrators are two people only if no one could be acting as
    both (nobody could have set both their passwords) and neither put the other in post.

    From installations where no two administrators may approve each other, no approval can
    happen, so no administrator is added but by the installation: a lone administrator and
    the puppets they make never give a wide role."""
    if approver.username == requester.username:
        return "the administrator who asked for a role cannot approve it"
    if approver.username == subject:
        return "nobody approves a role for themselves"
    if approver.appointed_by == requester.username:
        return (
            f"you were made an administrator at {requester.username}'s request: "
            "their requests need an administrator they did not appoint"
        )
    if requester.appointed_by == approver.username:
        return (
            f"{requester.username} was made an administrator at your request: "
            "their requests need an administrator they were not appointed by"
        )
    if requester.username in approver.holders:
        return (
            f"your password descends from a reset code {requester.username} issued: "
            "their requests need an administrator whose password they could not have set"
        )
    if approver.username in requester.holders:
        return (
            f"{requester.username}'s password descends from a reset code you issued: "
            "their requests need an administrator who could not have set their password"
        )
    shared = sorted(approver.could_be() & requester.could_be())
    if shared:
        return (
            f"{shared[0]} issued the codes both your and {requester.username}'s passwords "
            "descend from, and could be acting as either: their requests need another "
            "administrator"
        )
    return None


def approvals_possible(administrators: list[Standing]) -> bool:
    """Whether any active administrator could approve a request of any other: if none could,
    no wide role can ever be given, and only the installation (`custody init
    --second-administrator`, run by the server's operator) may add an administrator."""
    return any(
        approval_refusal(approver, requester, "") is None
        for approver in administrators
        for requester in administrators
    )
