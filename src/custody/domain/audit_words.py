"""The audit trail in plain English: what each tag means to an auditor reading it, and
one line per playback rather than one per byte range the player asked for.

Tags stay as they are in the log (they are hashed); these words are only how a page
shows them. A tag without words of its own is read from its parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

PHRASES: dict[str, str] = {
    "dock:manifest:declare": "declared the recording before uploading it",
    "dock:upload:create": "began uploading",
    "dock:upload:chunk": "uploaded part of the footage",
    "dock:upload:status": "asked how much had arrived",
    "dock:upload:terminate": "abandoned an upload",
    "dock:recording:upload": "uploaded the footage",
    "dock:recording:ingest": "stored the footage, its hash checked against the camera's manifest",
    "dock:receipt:read": "read the signed receipt",
    "dock:camera:report": "reported the camera's state",
    "dock:camera:checkout": "checked a pool camera out",
    "system:recording:probe": "checked the footage plays",
    "system:recording:preview": "made the timeline pictures",
    "system:recording:delete": "deleted the recording under the retention rules",
    "system:recording:purge": "removed the deleted footage from the store",
    "system:recording:place_hold": "held the recording for a complaint",
    "system:recording:retention_corrected": "corrected the deletion date",
    "system:retention:decide": "decided how long to keep it",
    "system:retention:sweep": "ran the retention sweep",
    "user:recording:view": "opened the recording",
    "user:recording:stream": "played the footage",
    "user:recording:download": "downloaded the footage",
    "user:recording:thumbnail": "saw its picture",
    "user:recording:strip": "saw its timeline pictures",
    "user:recording:search": "searched for footage",
    "user:recording:categorise": "changed its categories",
    "user:recording:annotate": "changed its title, reference or tags",
    "user:recording:note": "wrote a note",
    "user:recording:bookmark": "bookmarked a moment",
    "user:recording:bookmark_remove": "removed a bookmark",
    "user:recording:flag_evidence": "flagged it as evidence",
    "user:recording:clear_evidence": "cleared an evidence flag",
    "user:recording:place_hold": "placed a hold",
    "user:recording:lift_hold": "lifted a hold",
    "user:recording:review": "reviewed it before deletion",
    "user:recording:restore": "restored it from pending deletion",
    "user:recording:certificate": "read its deletion certificate",
    "user:recording:audit": "read this audit trail",
    "user:recording:audit_report": "printed the continuity record",
    "user:case:add_recording": "added it to a case",
    "user:case:remove_recording": "took it out of a case",
    "user:case:create": "opened a case",
    "user:case:close": "closed a case",
    "user:case:reopen": "reopened a case",
    "user:case:view": "opened a case",
    "user:case:list": "listed cases",
    "user:case:add_member": "added someone to a case",
    "user:complaint:register": "registered a complaint",
    "user:complaint:close": "closed a complaint",
    "user:complaint:view": "opened a complaint",
    "user:complaint:list": "listed complaints",
    "user:hold:list": "listed holds",
    "user:session:sign_in": "signed in",
    "user:session:sign_out": "signed out",
    "user:password:change": "changed their password",
    "user:password:reset": "reset a password",
    "user:token:issue": "issued an API token",
    "user:token:revoke": "revoked an API token",
    "user:audit:search": "searched the audit log",
    "user:audit:verify": "verified the audit log",
    "user:audit:proof": "asked for an inclusion proof",
    "user:request:csrf": "sent a form without its session's token",
    "user:category:update": "changed a category",
    "user:speech:transcribe": "asked for what was said to be written down",
    "user:speech:view": "read what was said",
    "user:speech:correct": "corrected the transcript",
    "user:speech:search": "searched for words spoken",
    "system:speech:transcribed": "wrote down what was said",
    "fleet:camera:register": "registered the camera",
    "fleet:camera:issue": "issued the camera to an officer",
    "fleet:camera:pool": "put the camera in a pool",
    "fleet:camera:return": "returned the camera to stock",
    "fleet:camera:repair": "sent the camera for repair",
    "fleet:camera:retire": "retired the camera",
    "fleet:camera:lost": "reported the camera lost",
    "fleet:assignment:start": "began a camera's assignment",
    "fleet:assignment:end": "ended a camera's assignment",
    "fleet:dock:register": "registered a dock",
    "fleet:dock:revoke": "revoked a dock's token",
}
# Requests a player makes while one person watches: shown as one line per viewing.
PLAYBACK = frozenset({"user:recording:stream", "user:recording:thumbnail", "user:recording:strip"})
# Requests by the same person less than this apart belong to one viewing.
VIEWING_GAP = timedelta(minutes=30)


def describe(tag: str, allowed: bool = True) -> str:
    """What an event means, in a few words: "played the footage", "tried to ... (refused)"."""
    phrase = PHRASES.get(tag)
    if phrase is None:
        _, _, rest = tag.partition(":")
        subject, _, action = rest.partition(":")
        phrase = f"{action.replace('_', ' ')} ({subject.replace('_', ' ')})".strip()
    return phrase if allowed else f"was refused: {phrase}"


def who(actor: str) -> str:
    """The person or machine behind an actor: "user:dana" → "dana", "dock:Hackney-1" →
    "dock Hackney-1", "system" → "Custody"."""
    kind, _, name = actor.partition(":")
    if not name:
        return "Custody" if kind == "system" else actor
    return name if kind == "user" else f"{kind} {name}"


@dataclass(frozen=True)
class Happening:
    """One event, as the readable trail needs it."""

    seq: int
    at: datetime
    tag: str
    actor: str
    allowed: bool


@dataclass(frozen=True)
class Line:
    """One line of the readable trail: an event, or a viewing made of several requests."""

    first_seq: int
    last_seq: int
    started: datetime
    ended: datetime
    who: str
    what: str
    allowed: bool
    requests: int


def readable(events: Sequence[Happening]) -> list[Line]:
    """The trail as lines, oldest first: a person's playback requests that follow each other
    within `VIEWING_GAP` (whatever else happened between) make one line "played the footage"."""
    lines: list[Line] = []
    open_viewing: dict[str, int] = {}  # actor → index of their open viewing line
    for event in sorted(events, key=lambda e: e.seq):
        if event.tag in PLAYBACK and event.allowed:
            at = open_viewing.get(event.actor)
            if at is not None and event.at - lines[at].ended <= VIEWING_GAP:
                line = lines[at]
                what = (
                    PHRASES["user:recording:stream"]
                    if (
                        event.tag == "user:recording:stream"
                        or line.what == PHRASES["user:recording:stream"]
                    )
                    else line.what
                )
                lines[at] = Line(
                    line.first_seq, event.seq, line.started, event.at, line.who, what,
                    True, line.requests + 1,
                )  # fmt: skip
                continue
            open_viewing[event.actor] = len(lines)
        lines.append(
            Line(
                event.seq,
                event.seq,
                event.at,
                event.at,
                who(event.actor),
                describe(event.tag, event.allowed),
                event.allowed,
                1,
            )
        )
    return lines
