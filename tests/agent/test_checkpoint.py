"""The agent's checkpoint store: restart, thread isolation, pruning and deletion (SQLite and
PostgreSQL)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, TypedDict

import pytest
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from tendero.agent.checkpoint import (
    CHECKPOINT_FILE,
    delete_thread,
    libpq_url,
    open_checkpointer,
    prune_checkpoints,
)
from tendero.settings import Settings

WINDOW = 3


class State(TypedDict, total=False):
    item: str
    items: list[str]
    count: int


async def step(state: State) -> State:
    items = [*state.get("items", []), state["item"]][-WINDOW:]
    return {"items": items, "count": state.get("count", 0) + 1}


def build(saver: Any) -> Any:
    graph = StateGraph(State)
    graph.add_node("step", step)
    graph.add_edge(START, "step")
    graph.add_edge("step", END)
    return graph.compile(checkpointer=saver)


def config(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


async def turn(graph: Any, thread_id: str, item: str, durability: str = "exit") -> State:
    return await graph.ainvoke({"item": item}, config=config(thread_id), durability=durability)


def make_settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, _env_file=None)  # type: ignore[call-arg]


async def rows(saver: Any, thread_ids: list[str]) -> dict[str, int]:
    """Rows per checkpoint table for these threads."""
    if isinstance(saver, AsyncSqliteSaver):
        marks = ", ".join("?" * len(thread_ids))
        out = {}
        for table in ("checkpoints", "writes"):
            sql = f"SELECT count(*) FROM {table} WHERE thread_id IN ({marks})"
            async with saver.conn.execute(sql, thread_ids) as cur:
                out[table] = (await cur.fetchone())[0]
        return out
    assert isinstance(saver, AsyncPostgresSaver)
    out = {}
    async with saver._cursor() as cur:
        for table in ("checkpoints", "checkpoint_writes", "checkpoint_blobs"):
            await cur.execute(
                f"SELECT count(*) AS n FROM {table} WHERE thread_id = ANY(%s)", (thread_ids,)
            )
            out[table] = (await cur.fetchone())["n"]
    return out


def new_thread() -> str:
    return f"t-{uuid.uuid4().hex}"


async def test_state_survives_a_restart_and_threads_are_isolated(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url)
    a, b = new_thread(), new_thread()
    async with open_checkpointer(settings) as saver:
        graph = build(saver)
        for item in "wxyz":
            await turn(graph, a, item)
        await turn(graph, b, "q")

    async with open_checkpointer(settings) as saver:  # a new process, same storage
        graph = build(saver)
        state = await turn(graph, a, "5")
        assert state["count"] == 5
        assert state["items"] == ["y", "z", "5"]
        snapshot = await graph.aget_state(config(b))
        assert snapshot.values["count"] == 1
        assert snapshot.values["items"] == ["q"]
        empty = await graph.aget_state(config(new_thread()))
        assert empty.values == {}

    if not settings.effective_database_url.startswith("postgresql"):
        assert (settings.data_dir / CHECKPOINT_FILE).is_file()


async def test_sqlite_connection_is_wal_and_normal(tmp_path: Path, sqlite_url: str) -> None:
    async with open_checkpointer(make_settings(tmp_path, sqlite_url)) as saver:
        assert isinstance(saver, AsyncSqliteSaver)
        async with saver.conn.execute("PRAGMA journal_mode") as cur:
            assert (await cur.fetchone())[0] == "wal"
        async with saver.conn.execute("PRAGMA synchronous") as cur:
            assert (await cur.fetchone())[0] == 1  # NORMAL


async def test_prune_keeps_the_latest_state_and_deletes_old_rows(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url)
    a, b, single = new_thread(), new_thread(), new_thread()
    async with open_checkpointer(settings) as saver:
        graph = build(saver)
        for i in range(6):
            await turn(graph, a, f"a{i}")
            # The default durability also leaves pending writes behind.
            await turn(graph, b, f"b{i}", durability="sync")
        await turn(graph, single, "s")
        before = await rows(saver, [a, b, single])

        deleted = await prune_checkpoints(saver)

        after = await rows(saver, [a, b, single])
        assert after["checkpoints"] == 3  # the latest of each thread
        assert deleted >= sum(before.values()) - sum(after.values()) > 0
        assert all(after[t] <= before[t] for t in before)
        if "checkpoint_blobs" in after:
            assert after["checkpoint_blobs"] < before["checkpoint_blobs"]
        assert after.get("writes", after.get("checkpoint_writes")) < before.get(
            "writes", before.get("checkpoint_writes")
        )
        assert await prune_checkpoints(saver) == 0  # nothing left to prune

    async with open_checkpointer(settings) as saver:
        graph = build(saver)
        state_a = (await graph.aget_state(config(a))).values
        assert state_a["count"] == 6
        assert state_a["items"] == ["a3", "a4", "a5"]
        state = await turn(graph, b, "b6")
        assert state["count"] == 7
        assert state["items"] == ["b4", "b5", "b6"]
        assert (await graph.aget_state(config(single))).values["count"] == 1


async def test_delete_thread_removes_one_conversation(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url)
    gone, kept = new_thread(), new_thread()
    async with open_checkpointer(settings) as saver:
        graph = build(saver)
        for i in range(3):
            await turn(graph, gone, str(i))
            await turn(graph, kept, str(i))
        await delete_thread(saver, gone)
        assert sum((await rows(saver, [gone])).values()) == 0
        assert (await graph.aget_state(config(gone))).values == {}
        assert (await graph.aget_state(config(kept))).values["count"] == 3
        assert (await turn(graph, gone, "new"))["count"] == 1


def test_libpq_url() -> None:
    assert (
        libpq_url("postgresql+asyncpg://u:p%40ss@db:5432/shop?ssl=require")
        == "postgresql://u:p%40ss@db:5432/shop?sslmode=require"
    )
    assert libpq_url("postgresql://u@db/shop") == "postgresql://u@db/shop"


@pytest.mark.parametrize("scheme", ["sqlite+aiosqlite:///x.db"])
def test_sqlite_uses_a_separate_file(tmp_path: Path, scheme: str) -> None:
    from tendero.agent.checkpoint import checkpoint_path, is_postgres_url

    settings = make_settings(tmp_path, scheme)
    assert not is_postgres_url(scheme)
    assert checkpoint_path(settings) == settings.data_dir / CHECKPOINT_FILE
