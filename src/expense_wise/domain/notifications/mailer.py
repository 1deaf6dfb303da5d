"""Delivery of one outbox email: SMTP (STARTTLS when the server offers it) in production, a
local Maildir in the embedded default."""

from __future__ import annotations

import asyncio
import mailbox
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Protocol

import aiosmtplib

from expense_wise.db import models as m
from expense_wise.settings import EmailSettings

SMTP_TIMEOUT_SECONDS = 30
SMTPS_PORT = 465


class DeliveryError(Exception):
    """The message was not accepted. `permanent` when retrying cannot help (a 5xx answer)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


def build_message(row: m.OutboxEmail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Date"] = format_datetime(row.created_at)
    # Stored with the row, so a retry after an unclear failure carries the same id and the
    # receiving side can recognise the duplicate.
    message["Message-ID"] = row.message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(row.text_body)
    message.add_alternative(row.html_body, subtype="html")
    return message


class SmtpMailer:
    def __init__(self, settings: EmailSettings) -> None:
        assert settings.smtp_host is not None
        self.settings = settings

    async def send(self, message: EmailMessage) -> None:
        settings = self.settings
        implicit_tls = settings.smtp_port == SMTPS_PORT
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_user,
                password=settings.smtp_password,
                use_tls=implicit_tls,
                start_tls=False if implicit_tls else None,  # None: STARTTLS when offered
                timeout=SMTP_TIMEOUT_SECONDS,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            permanent = all(500 <= refusal.code < 600 for refusal in error.recipients)
            raise DeliveryError(f"recipient refused: {error}", permanent=permanent) from error
        except aiosmtplib.SMTPResponseException as error:
            raise DeliveryError(
                f"SMTP {error.code}: {error.message}", permanent=500 <= error.code < 600
            ) from error
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise DeliveryError(f"SMTP server unavailable: {error}") from error


class MaildirMailer:
    """Writes each message into a Maildir (`DATA_DIR/maildir`), readable by any mail client."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def send(self, message: EmailMessage) -> None:
        try:
            await asyncio.to_thread(self._add, message)
        except OSError as error:
            raise DeliveryError(f"cannot write to maildir {self.path}: {error}") from error

    def _add(self, message: EmailMessage) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        mailbox.Maildir(self.path, create=True).add(message)


def create_mailer(settings: EmailSettings) -> Mailer:
    if settings.smtp_host:
        return SmtpMailer(settings)
    return MaildirMailer(settings.maildir)
