"""A refused download never costs the customer their message: the running app (real
agent, fake Graph API, signed deliveries over a socket) takes the turn, tells the
customer the file could not be received, and keeps nothing of the refused file.

Runs on SQLite and PostgreSQL (the ``settings`` fixture)."""

from __future__ import annotations

import sqlalchemy as sa
from tendero.db.models import Conversation, InboxEvent, Lead, Message
from tendero.settings import Settings

from tests.channels.e2e import Live, meta_channel, until
from tests.fakes import webhooks as wh
from tests.limits.conftest import HTML, JPEG, PDF, Hosts

COULD_NOT_RECEIVE = "No pude recibir tu archivo"
IMAGE_UNEXPECTED = "Recibí tu imagen"


async def replies(live: Live, customer: str) -> str:
    """What the agent answered ``customer`` (the transcript, committed with the turn)."""
    async with live.db.read_session() as session:
        texts = await session.execute(
            sa.select(Message.text)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .join(Lead, Lead.id == Conversation.lead_id)
            .where(Lead.platform_id == customer, Message.direction == "out")
            .order_by(Message.id)
        )
        return "\n".join(texts.scalars())


async def all_done(live: Live, count: int) -> bool:
    return len(await live.rows(InboxEvent, InboxEvent.status == "done")) == count


def media_files(settings: Settings) -> list[str]:
    folder = settings.data_dir / "media"
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


async def test_refused_messenger_attachments_get_a_clear_answer(
    settings: Settings, hosts: Hosts
) -> None:
    async with meta_channel("facebook", settings) as fb:
        ana, bea, caro, dani, eli = (fb.customer(n) for n in range(1, 6))
        other = hosts.other.add("a.jpg", JPEG, "image/jpeg")
        page = fb.account
        payload = fb.delivery(
            [
                # A web page the CDN labels a photo.
                wh.attachment_event(ana, page, fb.graph.add_media(HTML, "image/jpeg")),
                # The cloud's metadata service, and a loopback port that is not Graph.
                wh.attachment_event(bea, page, "http://169.254.169.254/latest/meta-data/"),
                wh.attachment_event(caro, page, other),
                # A real photo and a real PDF from the CDN: stored.
                wh.attachment_event(dani, page, fb.graph.add_media(JPEG, "image/jpeg")),
                wh.attachment_event(
                    eli, page, fb.graph.add_media(PDF, "application/pdf"), kind="file"
                ),
            ]
        )
        async with fb.running(agent=True) as live:
            assert (await live.emitter.send(payload))[0] == 200
            await until(lambda: all_done(live, 5), what="five turns")
            for customer in (ana, bea, caro):
                assert COULD_NOT_RECEIVE in await replies(live, customer)
            assert IMAGE_UNEXPECTED in await replies(live, dani)
            assert COULD_NOT_RECEIVE not in await replies(live, eli)
            stored = await live.rows(Message, Message.media_path.is_not(None))
            assert sorted(m.media_path.rsplit(".", 1)[1] for m in stored) == ["jpg", "pdf"]
            # The transcript keeps why each refused file was not stored.
            refused = await live.rows(Message, Message.error.is_not(None))
            assert len(refused) == 3 and all(m.media_path is None for m in refused)
            assert all(m.error.startswith("image not stored: ") for m in refused), refused
        assert hosts.other.seen == []
        # Two files, whole, under generated names; nothing of the refused ones.
        files = media_files(fb.settings)
        assert len(files) == 2 and not any(name.startswith(".") for name in files)


async def test_refused_whatsapp_media_gets_a_clear_answer(settings: Settings) -> None:
    capped = settings.model_copy(update={"media_max_bytes": 64 * 1024})
    async with meta_channel("whatsapp", capped) as wa:
        ana, bea, caro = (wa.customer(n) for n in range(1, 4))
        payload = wa.delivery(
            [
                wa.image(ana, JPEG + bytes(100 * 1024)),  # over the configured cap
                wa.image(bea, HTML, "image/jpeg"),  # not a photo, whatever Meta says
                wa.image(caro, JPEG),
            ]
        )
        async with wa.running(agent=True) as live:
            assert (await live.emitter.send(payload))[0] == 200
            await until(lambda: all_done(live, 3), what="three turns")
            assert COULD_NOT_RECEIVE in await replies(live, ana)
            assert COULD_NOT_RECEIVE in await replies(live, bea)
            assert IMAGE_UNEXPECTED in await replies(live, caro)
        # The oversized file was refused by its announced size: never downloaded.
        assert wa.graph.counters["media_downloads"] == 2
        assert len(media_files(wa.settings)) == 1
