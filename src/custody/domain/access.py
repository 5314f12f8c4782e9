"""Who may do what: pure functions, so every route and page asks the same question.

`decide` answers for an action on one recording, from the viewer's role and
relationship to it (own footage, own team, case member) and the footage's access
class. `may` answers for actions that concern the system rather than one
recording (categories, users, the fleet, the audit trail).
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
    LIFT_HOLD = "lift_hold"
    VIEW_HOLDS = "view_holds"
    VIEW_AUDIT = "view_audit"
    SHARE = "share"
    EXPORT = "export"
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
    READ_AUDIT = "read_audit"
    SEARCH_FORCE_WIDE = "search_force_wide"


class AccessClass(enum.StrEnum):
    NORMAL = "normal"
    RESTRICTED = "restricted"
    CONFIDENTIAL = "confidential"


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


def _allow(reason: str) -> Decision:
    return Decision(True, reason, False)


def _deny(reason: str, conceal: bool = True) -> Decision:
    return Decision(False, reason, conceal)


OWNER_ACTIONS = frozenset({Action.LIST, Action.VIEW, Action.STREAM, Action.CATEGORISE,
                           Action.ANNOTATE})
SUPERVISOR_ACTIONS = OWNER_ACTIONS | {Action.DOWNLOAD, Action.FLAG_EVIDENCE, Action.VIEW_AUDIT}
INVESTIGATOR_ACTIONS = frozenset({Action.LIST, Action.VIEW, Action.STREAM, Action.DOWNLOAD,
                                  Action.ANNOTATE, Action.FLAG_EVIDENCE, Action.ADD_TO_CASE,
                                  Action.VIEW_AUDIT, Action.SHARE, Action.EXPORT,
                                  Action.PLACE_HOLD})


def decide(viewer: Viewer, action: Action, recording: RecordingFacts) -> Decision:
    """May this viewer do this action to this recording?"""
    role = viewer.role
    confidential = recording.access_class is AccessClass.CONFIDENTIAL
    restricted = recording.access_class is not AccessClass.NORMAL
    if role == "professional_standards":
        return _allow("professional standards may act on any footage")
    if role == "auditor":
        if action in (Action.LIST, Action.VIEW, Action.VIEW_AUDIT, Action.VIEW_HOLDS):
            return _allow("auditors read records and audit trails")
        return _deny("auditors do not watch or change footage", conceal=False)
    if role == "administrator":
        if action is Action.RESTORE:
            return _allow("administrators restore footage pending deletion")
        if action in (Action.LIST, Action.VIEW_AUDIT):
            return _allow("administrators see what is stored, not the footage")
        return _deny("administrators manage the system but do not watch footage", conceal=False)
    if role == "investigator":
        in_case = bool(viewer.case_ids & recording.case_ids)
        if action not in INVESTIGATOR_ACTIONS:
            return _deny(f"investigators may not {action.value}")
        if in_case:
            return _allow("footage in the investigator's case")
        if confidential:
            return _deny("confidential footage is for its case team only")
        if viewer.stated_reason:
            return _allow("investigator search with a stated reason")
        return _deny("investigators must state a reason to see footage outside their cases")
    if role == "officer":
        own = viewer.officer_id is not None and viewer.officer_id == recording.officer_id
        if not own:
            return _deny("officers see only their own footage")
        if restricted:
            if action in (Action.LIST, Action.VIEW):
                return _allow("own footage (restricted: metadata only)")
            return _deny("restricted footage is not for its own officer to play", conceal=False)
        if action in OWNER_ACTIONS:
            return _allow("own footage")
        return _deny(f"officers may not {action.value}", conceal=False)
    if role == "supervisor":
        team = viewer.unit is not None and viewer.unit == recording.officer_unit
        if not team:
            return _deny("supervisors see their own team's footage")
        if confidential:
            return _deny("confidential footage is for its case team only")
        if action in SUPERVISOR_ACTIONS:
            return _allow("footage of the supervisor's team")
        return _deny(f"supervisors may not {action.value}", conceal=False)
    if role == "disclosure":
        in_case = bool(viewer.case_ids & recording.case_ids)
        if in_case and action in (Action.LIST, Action.VIEW, Action.STREAM, Action.DOWNLOAD,
                                  Action.SHARE, Action.EXPORT, Action.VIEW_AUDIT):
            return _allow("disclosure of footage in the officer's cases")
        return _deny("disclosure officers see footage of their cases")
    return _deny(f"the {role} role has no access to footage")


SYSTEM_RULES: dict[SystemAction, frozenset[str]] = {
    SystemAction.MANAGE_USERS: frozenset({"administrator"}),
    SystemAction.MANAGE_CATEGORIES: frozenset({"administrator"}),
    SystemAction.MANAGE_FLEET: frozenset({"administrator", "fleet_manager"}),
    SystemAction.VIEW_FLEET: frozenset({"administrator", "fleet_manager", "supervisor"}),
    SystemAction.MANAGE_CASES: frozenset({"investigator", "professional_standards"}),
    SystemAction.VIEW_CASES: frozenset({"investigator", "professional_standards", "disclosure",
                                        "supervisor", "auditor"}),
    SystemAction.RETENTION_PREVIEW: frozenset({"administrator", "supervisor", "auditor",
                                               "professional_standards"}),
    SystemAction.RETENTION_RUN: frozenset({"administrator"}),
    SystemAction.REVIEW_QUEUE: frozenset({"administrator", "supervisor", "investigator",
                                          "professional_standards"}),
    SystemAction.READ_AUDIT: frozenset({"auditor", "professional_standards", "administrator"}),
    SystemAction.SEARCH_FORCE_WIDE: frozenset({"investigator", "professional_standards",
                                               "auditor", "administrator"}),
}


def may(viewer: Viewer, action: SystemAction) -> Decision:
    """May this viewer do a system-wide action?"""
    if viewer.role in SYSTEM_RULES[action]:
        return _allow(f"{viewer.role} may {action.value}")
    return _deny(f"the {viewer.role} role may not {action.value}", conceal=False)
