"""Run the real channel blueprints on a real Sanic server on 127.0.0.1 (no Rasa agent).

``app.ctx.agent`` is a fake whose ``handle_message`` records every ``UserMessage`` and
answers through the message's own output channel, so the channel's whole path is exercised:
``rasa.core.channels.channel.register`` -> blueprint -> ``on_new_message`` -> output channel.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from typing import Any, AsyncIterator, List

from rasa.core.channels.channel import InputChannel, UserMessage, register
from sanic import Sanic


_app_ids = itertools.count()


class FakeAgent:
    def __init__(self) -> None:
        self.messages: List[UserMessage] = []

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        user = (message.metadata or {}).get("user")
        who = user["email"] if user else "anonimo"
        await message.output_channel.send_text_message(
            message.sender_id, f"ciao {who}: {message.text}"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def serve(channel: InputChannel) -> AsyncIterator[Any]:
    """Serve ``channel`` under /webhooks/ like ``rasa run`` does; yields (base_url, agent)."""
    # Like sanic-testing: lets several apps start in one process (TouchUp keeps originals).
    Sanic.test_mode = True
    app = Sanic(f"channel_test_{next(_app_ids)}", configure_logging=False)
    agent = FakeAgent()
    app.ctx.agent = agent
    register([channel], app, route="/webhooks/")
    port = free_port()
    server = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
    )
    await server.startup()
    await server.start_serving()
    try:
        yield f"http://127.0.0.1:{port}", agent
    finally:
        server.close()
        await server.wait_closed()
        await asyncio.sleep(0)


ANNA = {"email": "anna@example.com", "account_id": "acme", "role": "billing_admin"}
