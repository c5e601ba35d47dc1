"""Notifications: emails to the merchant and the customer, chat status updates.

The built-in ``notifications`` plugin (:mod:`.plugin`) listens to the order and
conversation events. :mod:`.notifier` decides what each event sends, :mod:`.emails`
writes the emails (Spanish or English, text and HTML), :mod:`.mail` sends them (SMTP, or
``.eml`` files in the data folder) and :mod:`.chat` queues the ``shipped`` / ``ready for
pickup`` message to the customer inside the channel's 24-hour window.
"""

from tendero.notifications.chat import STATUS_UPDATES, Outcome, StatusMessenger
from tendero.notifications.emails import EmailContent, EmailWriter
from tendero.notifications.mail import (
    Attachment,
    Mailer,
    MailSettingsError,
    RetryPolicy,
    Sent,
    SmtpServer,
    compose,
    sender_address,
)
from tendero.notifications.notifier import Notifier

__all__ = [
    "STATUS_UPDATES",
    "Attachment",
    "EmailContent",
    "EmailWriter",
    "MailSettingsError",
    "Mailer",
    "Notifier",
    "Outcome",
    "RetryPolicy",
    "Sent",
    "SmtpServer",
    "StatusMessenger",
    "compose",
    "sender_address",
]
