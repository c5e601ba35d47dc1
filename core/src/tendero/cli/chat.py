"""``tendero chat``: talk to the agent in the terminal."""

from __future__ import annotations

import click


@click.command()
@click.option(
    "--channel",
    type=click.Choice(["whatsapp", "facebook", "instagram"]),
    default="whatsapp",
    show_default=True,
    help="Which channel the conversation pretends to come from.",
)
@click.option("--user", "user_id", default="cli-user", show_default=True, help="Customer id.")
def chat(channel: str, user_id: str) -> None:
    """Talk to the agent in the terminal, through the same pipeline as a real channel."""
    raise click.ClickException(
        "the agent is not part of this version yet: `tendero chat` arrives with the "
        "conversation pipeline and the agent."
    )
