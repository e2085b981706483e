"""Notification channels: a generic JSON webhook, Slack- and Teams-compatible incoming webhooks, e-mail over SMTP.
Each send either returns or raises ChannelError with a message that never contains the channel's address."""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from tickettracker.core.config import NotifySettings

CHANNEL_LABELS = {"webhook": "JSON webhook", "slack": "Slack", "teams": "Microsoft Teams", "email": "E-mail"}


class ChannelError(Exception):
    """A channel refused or could not be reached; the message is safe to log."""


@dataclass(frozen=True)
class Message:
    """What one notification says."""

    event: str  # alert | recovered | test
    title: str
    body: str
    rule: str | None = None
    dataset: str | None = None

    def document(self) -> dict[str, Any]:
        """Return the generic webhook's JSON document."""
        return {"event": self.event, "title": self.title, "text": self.body, "rule": self.rule,
                "dataset": self.dataset, "source": "Ticket Tracker"}


def send(channel: str, message: Message, settings: NotifySettings) -> None:
    """Deliver a message to a configured channel or raise ChannelError."""
    if channel not in settings.channels():
        raise ChannelError(f"the {CHANNEL_LABELS.get(channel, channel)} channel is not configured")
    if channel == "email":
        _email(message, settings)
        return
    url = {"webhook": settings.webhook_url, "slack": settings.slack_webhook_url,
           "teams": settings.teams_webhook_url}[channel]
    _post(str(url), _payload(channel, message), settings.timeout_seconds)


def _payload(channel: str, message: Message) -> dict[str, Any]:
    if channel == "slack":
        return {"text": f"*{message.title}*\n{message.body}"}
    if channel == "teams":
        return {"@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": message.title,
                "title": message.title, "text": message.body,
                "themeColor": {"alert": "C4314B", "recovered": "2E7D32"}.get(message.event, "0078D4")}
    return message.document()


def _post(url: str, payload: dict[str, Any], timeout: float) -> None:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",  # noqa: S310
                                     headers={"Content-Type": "application/json", "User-Agent": "TicketTracker"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - an admin's https URL  # nosec B310
            response.read()
    except urllib.error.HTTPError as error:
        raise ChannelError(f"the receiver answered HTTP {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ChannelError(f"the receiver could not be reached ({type(reason).__name__})") from None


def _email(message: Message, settings: NotifySettings) -> None:
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"] = message.title, str(settings.email_from), ", ".join(settings.email_to)
    mail.set_content(message.body)
    try:
        with smtplib.SMTP(str(settings.smtp_host), settings.smtp_port, timeout=settings.timeout_seconds) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username and settings.smtp_password:
                smtp.login(settings.smtp_username, settings.smtp_password)
            smtp.send_message(mail)
    except smtplib.SMTPResponseException as error:
        raise ChannelError(f"the mail server answered {error.smtp_code}") from None
    except (smtplib.SMTPException, OSError) as error:
        raise ChannelError(f"the mail server could not be reached or refused ({type(error).__name__})") from None
