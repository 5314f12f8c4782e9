"""The running system's parts, wired once, and the unit of work every use case opens."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from custody import audit
from custody.audit import log as audit_log
from custody.audit import sequencer
from custody.audit.log import PENDING_FLAG, AuditEntry
from custody.config import Settings
from custody.domain.actor import Actor
from custody.domain.clock import Clock
from custody.storage import BlobStore
from custody.storage.staging import Staging, open_staging


class JobQueue(Protocol):
    """What services may ask of the background workers (wired by bootstrap)."""

    def probe_recording(self, recording_id: str) -> None: ...

    def verify_audit(self, verification_id: int) -> None: ...
    def build_bundle(self, export_id: str) -> None: ...
    def detect_faces(self, scan_id: str) -> None: ...
    def render_redaction(self, redaction_id: str) -> None: ...
    def transcribe(self, transcript_id: str) -> None: ...


class NoJobs:
    """A queue that drops work: for tools that never need the workers."""

    def probe_recording(self, recording_id: str) -> None:
        return None

    def verify_audit(self, verification_id: int) -> None:
        return None

    def build_bundle(self, export_id: str) -> None:
        return None

    def detect_faces(self, scan_id: str) -> None:
        return None

    def render_redaction(self, redaction_id: str) -> None:
        return None

    def transcribe(self, transcript_id: str) -> None:
        return None


@dataclass
class System:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: BlobStore
    clock: Clock
    server_key: Ed25519PrivateKey
    jobs: JobQueue = field(default_factory=NoJobs)
    # Partial uploads: beside the store (S3 staging for an S3 store), made when first asked.
    staged: Staging | None = None
    # Servers and workers sequence audit events in a background thread (see
    # `start_sequencer`); without one (commands, tests) a commit sequences in line.
    background: sequencer.Background | None = None

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self)

    def start_sequencer(self) -> None:
        """Sequence in a background thread from now on: soon after each commit (a burst of
        commits from many threads makes one batch) and every couple of seconds."""
        if self.background is None:
            self.background = sequencer.Background(self.sessions)
            self.background.start()

    def stop_sequencer(self) -> None:
        if self.background is not None:
            self.background.stop()
            self.background = None

    def audit_committed(self) -> None:
        """Sequence the events a unit of work just committed, soon.

        On PostgreSQL with a background sequencer, wake it (it gathers many nodes' and
        threads' commits into one batch); otherwise (SQLite, one writer at a time anyway,
        where it costs a few statements; or no background thread) sequence in line, after
        any sequencer already busy, so the event is chained before the request returns.
        Never fails the caller, whose change and events are already committed: pending
        events wait for the timer or the next read that sequences first.
        """
        if self.background is not None and self.engine.dialect.name != "sqlite":
            self.background.notify()
            return
        try:
            # Without a background sequencer nothing else would come for these rows: a busy
            # sequencer may have read its batch before this commit, so wait for it and then
            # sequence what is left, rather than skip and leave the events pending.
            sequencer.sequence(self.sessions, wait=True, limit=sequencer.BATCH)
        except Exception as exc:  # logged: the events are safe as pending rows
            sequencer.log_failure(exc)

    def seqs_of(self, entries: Sequence[AuditEntry]) -> list[int]:
        """The sequence numbers of committed audit events, by the entries `audit` gave."""
        return sequencer.seqs_of(self.sessions, entries)

    def sequence_audit(self) -> int:
        """Sequence every pending event now (waiting for another sequencer): for reads that
        need sequence numbers, checkpoints and the timer."""
        return sequencer.sequence(self.sessions)

    @property
    def staging(self) -> Staging:
        if self.staged is None:
            self.staged = open_staging(
                self.settings.resolved_storage_url, self.settings.staging_dir, self.store
            )
        return self.staged


class UnitOfWork:
    """One transaction. It rolls back unless `commit()` is called; jobs go out only after commit."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.clock = system.clock
        self._after_commit: list[Callable[[], None]] = []
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("the unit of work is not open")
        return self._session

    def __enter__(self) -> UnitOfWork:
        self._session = self.system.sessions()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed, and unlike rollback() it leaves
        # loaded objects readable after the unit of work ends.
        self.session.close()
        self._session = None

    def commit(self) -> None:
        self.session.commit()
        if self.session.info.pop(PENDING_FLAG, False):
            self.system.audit_committed()
        pending, self._after_commit = self._after_commit, []
        for send in pending:
            send()

    def rollback(self) -> None:
        self.session.rollback()
        self._after_commit.clear()

    def after_commit(self, send: Callable[[], None]) -> None:
        """Run `send` once the transaction has committed (never for a rolled-back one)."""
        self._after_commit.append(send)

    def now(self) -> datetime:
        return self.clock.now()

    def entry_ids(self, entries: Sequence[AuditEntry]) -> list[int]:
        """The entry ids of audit events this unit of work appended (written now if need be),
        for a record that names them before the transaction commits."""
        return audit_log.entry_ids(self.session, entries)

    def audit(
        self,
        tag: str,
        actor: Actor,
        *,
        object_type: str | None = None,
        object_id: str | None = None,
        allowed: bool = True,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Write an audit event in this unit of work's transaction (durable iff it commits);
        its entry (`System.seqs_of` finds its sequence number after commit)."""
        if actor.confidential:
            details = {**(details or {}), "confidential": True}
        return audit.append(
            self.session,
            at=self.now(),
            tag=tag,
            actor=actor,
            object_type=object_type,
            object_id=object_id,
            allowed=allowed,
            reason=reason,
            details=details,
        )
