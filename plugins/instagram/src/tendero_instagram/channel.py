"""The Instagram Direct channel adapter (Instagram API with Instagram Login).

Instagram speaks the Messenger-platform format; the shared code lives in core
(:mod:`tendero.channels.messenger`). What is Instagram's own: the text limit counts
UTF-8 **bytes** (accents and emoji cost more), and sends go to graph.instagram.com with
the Instagram user access token.
"""

from __future__ import annotations

from tendero.channels import svg_icon
from tendero.channels.messenger import MessengerPlatformChannel, messenger_limits

# Instagram: text must be UTF-8 and under 1000 bytes; 13 text-only quick replies.
INSTAGRAM_LIMITS = messenger_limits(999, "bytes")

INSTAGRAM_ICON = svg_icon(
    "Instagram",
    '<rect x="2" y="2" width="20" height="20" rx="6" fill="#E4405F"/>'
    '<circle cx="12" cy="12" r="4.2" fill="none" stroke="#fff" stroke-width="2"/>'
    '<circle cx="17.3" cy="6.7" r="1.3" fill="#fff"/>',
)


class InstagramChannel(MessengerPlatformChannel):
    """Instagram Direct for a professional account: webhooks (``object: instagram``)
    signed with the Instagram app secret; sends to
    ``{instagram_graph_api_url}/{version}/{account id}/messages``."""

    name = "instagram"
    display_name = "Instagram"
    icon = INSTAGRAM_ICON
    limits = INSTAGRAM_LIMITS
    webhook_object = "instagram"
    # Instagram Login: the Instagram app's own secret, not the Meta app secret.
    verify_token_setting = "instagram_verify_token"
    app_secret_settings = ("instagram_app_secret",)
    app_id_setting = "instagram_app_id"
    access_token_setting = "instagram_access_token"
    account_id_setting = "instagram_account_id"
    graph_url_setting = "instagram_graph_api_url"
    required_settings = (
        "instagram_app_secret",
        "instagram_verify_token",
        "instagram_access_token",
        "instagram_account_id",
    )
