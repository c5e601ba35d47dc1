"""A sample plugin that replaces the agent graph (``agent_graph`` hook) with a counting echo.

Each turn adds the customer's text to the conversation's state — the LangGraph checkpoint,
kept by the app's checkpointer exactly like the real agent's — and answers
``"<text> #<n>"``, ``n`` being how many messages that state has seen. Two turns of one
conversation running at once, or a lost checkpoint, show up as a repeated or skipped
``n``. The multi-process tests load it into ``tendero serve`` processes through an entry
point.

Environment: ``TENDERO_SAMPLE_ECHO_DELAY`` (seconds each turn takes, default 0.03) and
``TENDERO_SAMPLE_TURN_LOG`` (a file that gets one line per turn:
``conversation pid start end``, monotonic clock).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from tendero import hookimpl


class EchoState(TypedDict, total=False):
    event: dict[str, Any]
    seen: list[str]
    replies: list[dict[str, Any]]


async def echo(state: EchoState, config: RunnableConfig) -> dict[str, Any]:
    started = time.monotonic()
    seen = [*(state.get("seen") or []), str((state.get("event") or {}).get("text") or "")]
    await asyncio.sleep(float(os.environ.get("TENDERO_SAMPLE_ECHO_DELAY", "0.03")))
    log = os.environ.get("TENDERO_SAMPLE_TURN_LOG")
    if log:
        thread = (config.get("configurable") or {})["thread_id"]
        line = f"{thread} {os.getpid()} {started:.6f} {time.monotonic():.6f}\n"
        # One write() on an O_APPEND file: lines of several processes never interleave.
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    return {"seen": seen, "replies": [{"text": f"{seen[-1]} #{len(seen)}", "language": "en"}]}


@hookimpl
def agent_graph(context: Any) -> Any:
    graph = StateGraph(EchoState)
    graph.add_node("echo", echo)
    graph.add_edge(START, "echo")
    graph.add_edge("echo", END)
    return graph.compile(checkpointer=context.checkpointer)
