"""Outgoing mail for shares: the link to a recipient, and the one-time code that proves
they hold the address. Plain SMTP from the standard library, set up by `CUSTODY_SMTP_*`.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from custody.config import Settings
from custody.domain.shares import MailFailed

# An unanswering mail server must not hold a person's request for long.
SMTP_TIMEOUT = 20.0


@dataclass(frozen=True)
class Letter:
    to_name: str
    to_address: str
    subject: str
    body: str


def configured(settings: Settings) -> bool:
    """Whether this installation sends mail at all (a host is set)."""
    return bool(settings.smtp_host)


def send(settings: Settings, letter: Letter) -> None:
    """Hand the letter to the mail server; MailFailed (with the server's reason) if it won't."""
    if not settings.smtp_host:
        raise MailFailed("no mail server is set up (CUSTODY_SMTP_HOST)")
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = formataddr((letter.to_name, letter.to_address))
    message["Subject"] = letter.subject
    message["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2] or None)
    message.set_content(letter.body)
    context = ssl.create_default_context()
    try:
        server: smtplib.SMTP
        if settings.smtp_tls == "tls":
            server = smtplib.SMTP_SSL(
                settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT, context=context
            )
        else:
            server = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT)
        with server:
            if settings.smtp_tls == "starttls":
                server.starttls(context=context)
            if settings.smtp_username:
                server.login(settings.smtp_username, settings.smtp_password or "")
            server.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise MailFailed(f"the mail server did not take the message: {exc}") from exc
