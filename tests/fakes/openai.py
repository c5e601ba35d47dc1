"""A faithful local fake of OpenAI's Chat Completions API, scripted by the test.

A real aiohttp server on 127.0.0.1 serving ``POST /v1/chat/completions`` (point an
OpenAI-compatible client's base URL at :attr:`FakeOpenAI.url`). It checks a request the
way the real API does and answers a broken one with a 400 in OpenAI's error shape
(``{"error": {"message", "type", "param", "code"}}``):

* the API key (``Authorization: Bearer``; 401 ``invalid_api_key`` when wrong),
* ``model`` present, ``messages`` a non-empty array of messages with a known ``role``,
  ``content`` where the role needs it, well-formed assistant ``tool_calls``,
* every ``tool`` message answering a ``tool_call_id`` of the assistant message just
  before it, and every assistant tool call answered before the conversation goes on,
* ``tools`` shaped ``{"type": "function", "function": {"name", "parameters"}}`` with a
  valid name and an object schema, and ``tool_choice`` only together with ``tools``.

The test scripts the answers, one per request, in order: :meth:`say` (assistant text),
:meth:`call` (tool calls; arguments given as a dict are sent as a JSON string, a string
is sent exactly as is, so a malformed one can be scripted), :meth:`fail` (an HTTP error)
and :meth:`stall` (no answer for longer than the client waits). Every accepted request
body is kept in :attr:`requests`; anything the fake refused or could not answer (no
answer scripted) is kept in :attr:`problems`, which a test expects to stay empty.

Usage::

    async with FakeOpenAI(api_key="sk-test") as llm:
        llm.call(ToolCall("search_products", {"query": "proteína"}))
        llm.say("Tenemos dos proteínas.")
        ...  # a client with base_url=llm.url, api_key="sk-test"
        assert llm.requests[1]["messages"][-1]["role"] == "tool"
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server import LoopbackServer

ROLES = ("system", "assistant", "user", "function", "tool", "developer")
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
SERVER_ERROR = "The server had an error while processing your request. Sorry about that!"


class RequestError(Exception):
    """A request the real API would refuse: answered with OpenAI's error JSON."""

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int = 400,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.status = status
        self.kind = kind

    def response(self) -> web.Response:
        return error_response(self.status, self.message, self.kind, self.param, self.code)


def error_response(
    status: int, message: str, kind: str, param: str | None = None, code: str | None = None
) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return web.json_response(body, status=status)


@dataclass(frozen=True)
class ToolCall:
    """One tool call the scripted assistant makes; ``arguments`` as a dict is sent as JSON,
    as a string exactly as given."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)


@dataclass(frozen=True)
class Scripted:
    """One scripted answer: text, tool calls, an HTTP error or a stall."""

    text: str | None = None
    calls: tuple[ToolCall, ...] = ()
    status: int = 200
    stall_seconds: float = 0.0


class FakeOpenAI(LoopbackServer):
    """The fake server. See the module docstring."""

    def __init__(self, *, api_key: str | None = "sk-test") -> None:
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.script: list[Scripted] = []
        super().__init__(web.Application())
        self.app.router.add_post("/v1/chat/completions", self._chat_completions)
        self.app.router.add_route("*", "/{tail:.*}", self._unknown_path)

    # --- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL for an OpenAI client (``.../v1``)."""
        return f"{self.base_url}/v1"

    # --- scripting ---------------------------------------------------------------------

    def say(self, text: str) -> None:
        """Answer the next request with assistant text (``finish_reason: stop``)."""
        self.script.append(Scripted(text=text))

    def call(self, *calls: ToolCall, text: str | None = None) -> None:
        """Answer the next request with these tool calls (``finish_reason: tool_calls``)."""
        self.script.append(Scripted(text=text, calls=calls))

    def fail(self, status: int = 500) -> None:
        """Answer the next request with an HTTP error in OpenAI's shape."""
        self.script.append(Scripted(status=status))

    def stall(self, seconds: float) -> None:
        """Hold the next request ``seconds`` (or until the fake stops), then answer 500."""
        self.script.append(Scripted(stall_seconds=seconds))

    # --- reading what the client sent --------------------------------------------------

    def messages(self, index: int = -1) -> list[dict[str, Any]]:
        """The messages of an accepted request (the last one by default)."""
        return self.requests[index]["messages"]

    def tool_results(self, index: int = -1) -> list[dict[str, Any]]:
        """The tool results (parsed JSON contents) at the end of an accepted request."""
        results = []
        for message in reversed(self.messages(index)):
            if message["role"] != "tool":
                break
            results.append(json.loads(message["content"]))
        return list(reversed(results))

    # --- the API -----------------------------------------------------------------------

    async def _unknown_path(self, request: web.Request) -> web.Response:
        message = f"Invalid URL ({request.method} {request.path})"
        self.problems.append(message)
        return error_response(404, message, "invalid_request_error")

    async def _chat_completions(self, request: web.Request) -> web.Response:
        try:
            self._check_auth(request)
            try:
                body = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise RequestError(
                    "We could not parse the JSON body of your request. (HINT: This likely "
                    "means you aren't using your HTTP library correctly. The OpenAI API "
                    "expects a JSON payload, but what was sent was not valid JSON."
                ) from None
            check_request(body)
        except RequestError as exc:
            self.problems.append(f"{exc.status}: {exc.message}")
            return exc.response()
        self.requests.append(body)

        if not self.script:
            self.problems.append("request with no scripted answer left")
            return error_response(500, SERVER_ERROR, "server_error")
        step = self.script.pop(0)
        if step.stall_seconds:
            try:
                await asyncio.wait_for(self._closing.wait(), step.stall_seconds)
            except TimeoutError:
                pass
            return error_response(500, SERVER_ERROR, "server_error")
        if step.status != 200:
            kind = "server_error" if step.status >= 500 else "invalid_request_error"
            return error_response(step.status, SERVER_ERROR, kind)
        return web.json_response(self._completion(body, step))

    def _check_auth(self, request: web.Request) -> None:
        if self.api_key is None:
            return
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or not header[7:].strip():
            raise RequestError(
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                status=401,
            )
        key = header[7:].strip()
        if key != self.api_key:
            raise RequestError(
                f"Incorrect API key provided: {key[:3]}***{key[-4:]}.",
                code="invalid_api_key",
                status=401,
            )

    def _completion(self, body: dict[str, Any], step: Scripted) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": step.text,
            "refusal": None,
            "annotations": [],
        }
        if step.calls:
            message["tool_calls"] = [
                {
                    "id": f"call_{secrets.token_hex(12)}",
                    "type": "function",
                    "function": {
                        "name": call.name,
                        "arguments": (
                            call.arguments
                            if isinstance(call.arguments, str)
                            else json.dumps(call.arguments, ensure_ascii=False)
                        ),
                    },
                }
                for call in step.calls
            ]
        elif message["content"] is None:
            message["content"] = ""
        prompt_tokens = len(json.dumps(body["messages"])) // 4
        completion_tokens = len(json.dumps(message)) // 4
        return {
            "id": f"chatcmpl-{secrets.token_hex(14)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if step.calls else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "service_tier": "default",
            "system_fingerprint": None,
        }


# --- request validation (what the real API refuses) ------------------------------------------


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _expect(value: Any, kind: type | tuple[type, ...], expected: str, param: str) -> None:
    if isinstance(value, bool) or not isinstance(value, kind):
        raise RequestError(
            f"Invalid type for '{param}': expected {expected}, but got "
            f"{_type_name(value)} instead.",
            param=param,
            code="invalid_type",
        )


def _missing(param: str) -> RequestError:
    return RequestError(
        f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


def check_request(body: Any) -> None:
    """Raise :class:`RequestError` for a body the real Chat Completions API refuses."""
    if not isinstance(body, dict):
        raise RequestError("Invalid body: expected a JSON object.")
    if not body.get("model"):
        raise RequestError("you must provide a model parameter")
    _expect(body["model"], str, "a string", "model")
    if body.get("stream"):
        raise RequestError("stream: this fake answers only non-streaming requests", param="stream")
    if "messages" not in body:
        raise _missing("messages")
    messages = body["messages"]
    _expect(messages, list, "an array", "messages")
    if not messages:
        raise RequestError(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    for index, message in enumerate(messages):
        _check_message(index, message)
    _check_tool_flow(messages)
    _check_tools(body)


def _check_message(index: int, message: Any) -> None:
    where = f"messages[{index}]"
    _expect(message, dict, "an object", where)
    if "role" not in message:
        raise _missing(f"{where}.role")
    role = message["role"]
    if role not in ROLES:
        raise RequestError(
            f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', "
            "'function', 'tool', and 'developer'.",
            param=f"{where}.role",
            code="invalid_value",
        )
    content = message.get("content")
    if role in ("system", "developer", "user", "tool"):
        if "content" not in message:
            raise _missing(f"{where}.content")
        _expect(content, (str, list), "one of a string or array of objects", f"{where}.content")
    if role == "tool":
        if "tool_call_id" not in message:
            raise _missing(f"{where}.tool_call_id")
        _expect(message["tool_call_id"], str, "a string", f"{where}.tool_call_id")
    if role == "assistant":
        calls = message.get("tool_calls")
        if content is None and not calls:
            raise _missing(f"{where}.content")
        if content is not None:
            _expect(content, (str, list), "one of a string or array of objects", f"{where}.content")
        if calls is not None:
            _expect(calls, list, "an array", f"{where}.tool_calls")
            for position, call in enumerate(calls):
                _check_tool_call(f"{where}.tool_calls[{position}]", call)


def _check_tool_call(where: str, call: Any) -> None:
    _expect(call, dict, "an object", where)
    for key in ("id", "type", "function"):
        if key not in call:
            raise _missing(f"{where}.{key}")
    _expect(call["id"], str, "a string", f"{where}.id")
    if call["type"] != "function":
        raise RequestError(
            f"Invalid value: '{call['type']}'. Supported values are: 'function'.",
            param=f"{where}.type",
            code="invalid_value",
        )
    function = call["function"]
    _expect(function, dict, "an object", f"{where}.function")
    for key in ("name", "arguments"):
        if key not in function:
            raise _missing(f"{where}.function.{key}")
        _expect(function[key], str, "a string", f"{where}.function.{key}")


def _check_tool_flow(messages: list[dict[str, Any]]) -> None:
    """Tool messages answer the assistant tool calls right before them, all of them."""
    pending: set[str] = set()
    block_open = False  # inside the tool messages that follow an assistant tool-call turn
    for index, message in enumerate(messages):
        role = message["role"]
        if role == "tool":
            call_id = message["tool_call_id"]
            if not block_open or call_id not in pending:
                raise RequestError(
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                    param=f"messages.[{index}].role",
                )
            pending.discard(call_id)
            continue
        if pending:
            raise RequestError(
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(sorted(pending))}",
                param=f"messages.[{index}].role",
            )
        calls = message.get("tool_calls") if role == "assistant" else None
        pending = {call["id"] for call in calls or ()}
        block_open = bool(pending)
    if pending:
        raise RequestError(
            "An assistant message with 'tool_calls' must be followed by tool messages "
            "responding to each 'tool_call_id'. The following tool_call_ids did not have "
            f"response messages: {', '.join(sorted(pending))}",
            param=f"messages.[{len(messages)}].role",
        )


def _check_tools(body: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools is None:
        if body.get("tool_choice") is not None:
            raise RequestError(
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' "
                "are specified.",
                param="tool_choice",
            )
        return
    _expect(tools, list, "an array", "tools")
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        _expect(tool, dict, "an object", where)
        if "type" not in tool:
            raise _missing(f"{where}.type")
        if tool["type"] != "function":
            raise RequestError(
                f"Invalid value: '{tool['type']}'. Supported values are: 'function' and 'custom'.",
                param=f"{where}.type",
                code="invalid_value",
            )
        if "function" not in tool:
            raise _missing(f"{where}.function")
        function = tool["function"]
        _expect(function, dict, "an object", f"{where}.function")
        if "name" not in function:
            raise _missing(f"{where}.function.name")
        name = function["name"]
        _expect(name, str, "a string", f"{where}.function.name")
        if not TOOL_NAME.match(name):
            raise RequestError(
                f"Invalid '{where}.function.name': string does not match pattern. Expected "
                "a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                param=f"{where}.function.name",
                code="invalid_value",
            )
        if "description" in function:
            _expect(function["description"], str, "a string", f"{where}.function.description")
        parameters = function.get("parameters")
        if parameters is not None:
            _expect(parameters, dict, "an object", f"{where}.function.parameters")
            if parameters.get("type") != "object":
                raise RequestError(
                    f"Invalid schema for function '{name}': schema must be a JSON Schema of "
                    f"'type: \"object\"', got 'type: \"{parameters.get('type')}\"'.",
                    param=f"{where}.function.parameters",
                    code="invalid_function_parameters",
                )
