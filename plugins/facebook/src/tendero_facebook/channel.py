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
    secret; sends to ``{graph_api_url}/{version}/{page id}/messages`` with the Page
    access token. Echoes carrying ``facebook_app_id`` are this app's own sends."""

    name = "facebook"
    display_name = "Facebook Messenger"
    icon = MESSENGER_ICON
    limits = MESSENGER_LIMITS
    webhook_object = "page"
    verify_token_setting = "facebook_verify_token"
    app_secret_settings = ("facebook_app_secret",)
    app_id_setting = "facebook_app_id"
    access_token_setting = "facebook_page_access_token"
    account_id_setting = "facebook_page_id"
    graph_url_setting = "graph_api_url"
    required_settings = (
        "facebook_app_secret",
        "facebook_verify_token",
        "facebook_page_access_token",
        "facebook_page_id",
    )
