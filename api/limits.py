"""Request limits: bodies larger than ``settings.upload_max_bytes`` are refused with 413.

A pure ASGI middleware, so the limit holds before FastAPI reads (and buffers) a body: a declared
``Content-Length`` over the limit is refused at once, and a body sent without one (chunked) is
counted as it streams and cut off at the limit.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOO_LARGE_CODE = "payload_too_large"


class _TooLarge(Exception):
    pass


def _too_large_body(limit: int) -> bytes:
    mib = limit / (1024 * 1024)
    return json.dumps(
        {
            "code": TOO_LARGE_CODE,
            "message": f"请求内容超过 {mib:g} MB 上限 (request body larger than {limit} bytes)",
        },
        ensure_ascii=False,
    ).encode()


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` with 413 and a ``{code, message}`` body."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send) -> None:
        body = _too_large_body(self.max_bytes)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes:
                    await self._refuse(send)
                    return
        received = 0
        exceeded = False
        replaced = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # FastAPI turns any error while reading the body into its own 400; answer 413 instead.
            nonlocal replaced, started
            if exceeded and not started:
                if message["type"] == "http.response.start" and not replaced:
                    replaced = True
                    await self._refuse(send)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _TooLarge:
            if started:  # the app answered before the body ran over: nothing sane left to do
                raise
            if not replaced:
                await self._refuse(send)
