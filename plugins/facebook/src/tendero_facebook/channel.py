"""The Facebook Messenger channel adapter (a Page's inbox).

Everything Messenger shares with Instagram lives in core
(:mod:`tendero.channels.messenger`); this module only says what is Messenger's own.
"""

from __future__ import annotations

from tendero.channels import svg_icon
from tendero.channels.messenger import MessengerPlatformChannel, messenger_limits

# Messenger Send API: text ≤ 2000 characters; 13 quick replies, titles ≤ 20.
MESSENGER_LIMITS = messenger_limits(2000, "chars")

MESSENGER_ICON = svg_icon(
    "Facebook Messenger",
    '<path fill="#0866FF" d="M12 2C6.4 2 2 6.1 2 11.7c0 2.9 1.2 5.5 3.2 7.2V22l3-1.6c1.2.3'
    ' 2.5.5 3.8.5 5.6 0 10-4.1 10-9.7S17.6 2 12 2z"/>'
    '<path fill="#fff" d="m6 14.6 3-4.7 2.9 2.3 3-2.3-3 4.7-2.9-2.3z"/>',
)


class FacebookChannel(MessengerPlatformChannel):
    """Messenger for a Facebook Page: webhooks (``object: page``) signed with the app
    secret; sends with the Page access token."""

    name = "facebook"
    display_name = "Facebook Messenger"
    icon = MESSENGER_ICON
    limits = MESSENGER_LIMITS
    webhook_object = "page"
    required_settings = (
        "facebook_app_secret",
        "facebook_verify_token",
        "facebook_page_access_token",
        "facebook_page_id",
    )
