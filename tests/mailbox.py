"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it is sent, for share tests."""

from __future__ import annotations

import email
import email.policy
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.conftest import free_port


@dataclass
class Mailbox:
    """The messages the server took, in order, and the port it listens on."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.arrived:
            self.messages.append(message)
            self.arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 15.0) -> list[EmailMessage]:
        """The first `count` messages, once that many have come (the server is a thread)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{count} message(s) expected, {len(self.messages)} came"
                self.arrived.wait(left)
            return list(self.messages[:count])

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]

    def body(self, index: int) -> str:
        part = self.messages[index].get_body(("plain",))
        assert part is not None
        return str(part.get_content())

    def link(self, index: int) -> str:
        found = re.search(r"https?://\S+/shared/\S+", self.body(index))
        assert found, self.body(index)
        return found.group(0)

    def code(self, index: int) -> str:
        found = re.search(r"code is (\d+)", self.body(index))
        assert found, self.body(index)
        return found.group(1)


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    """An SMTP server (plain, no TLS: the tests set CUSTODY_SMTP_TLS=none) on a free port."""
    box = Mailbox(free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
