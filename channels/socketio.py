"""socket.io channel (the web page) that verifies user tokens.

Differences from the stock ``SocketIOInput`` of Rasa 3.6.21:

* A token may arrive in the connection ``auth`` payload (``{"token": ...}``) and/or in each
  message's metadata (``<metadata_key>.auth_token``). Claims verified at connect are kept per
  socket id and used for messages that carry no token; a message token, when present, wins
  (a forged or expired one means anonymous, not a fallback to the connection's claims).
* The metadata passed on is only ``{"user": {...verified claims...}}`` or ``{"user": None}``;
  whatever the client sent is discarded.
* ``session_persistence`` works with python-socketio 5.x: ``enter_room`` is a coroutine
  there and the stock channel does not await it, so the room is never joined and every
  reply is lost (RasaHQ/rasa#13027).
"""
from __future__ import annotations

import inspect
import json
import logging
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text

import rasa.core.channels.channel
import rasa.shared.utils.io
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from socketio import AsyncServer

from billing_core.auth import UserClaims, verify_token
from channels import token_from

logger = logging.getLogger(__name__)


def _metadata_dict(raw: Any) -> Dict[Text, Any]:
    """The client's metadata as a dict (it may be sent as a JSON string); {} if unusable."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return raw if isinstance(raw, dict) else {}


class AuthenticatedSocketIOInput(SocketIOInput):
    """socket.io input channel passing on only verified user claims."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # socket id -> claims verified from the connection's auth payload (None: anonymous)
        self._connection_claims: Dict[Text, Optional[UserClaims]] = {}

    # --- identity -------------------------------------------------------------------

    def claims_for_connection(self, auth: Any) -> Optional[UserClaims]:
        token = auth.get("token") if isinstance(auth, dict) else None
        return verify_token(token) if isinstance(token, str) and token else None

    def user_metadata_for(self, sid: Text, data: Any) -> Dict[Text, Any]:
        """``{"user": ...}`` for a message from ``sid`` with payload ``data``."""
        raw = data.get(self.metadata_key) if isinstance(data, dict) else None
        token = token_from(_metadata_dict(raw))
        if token is not None:
            claims = verify_token(token)
        else:
            claims = self._connection_claims.get(sid)
        return {"user": claims.as_metadata() if claims else None}

    # --- server ---------------------------------------------------------------------

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        """Same routes and events as the stock channel, with identity and the room fix."""
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=[])
        socketio_webhook = SocketBlueprint(
            sio, self.socketio_path, "socketio_webhook", __name__
        )
        self.sio = sio

        @socketio_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> Any:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            if self.jwt_key:
                # Stock option kept: only connections with a valid bearer JWT get in.
                payload = None
                if isinstance(auth, dict) and auth.get("token"):
                    payload = rasa.core.channels.channel.decode_bearer_token(
                        auth.get("token"), self.jwt_key, self.jwt_algorithm
                    )
                if not payload:
                    return False
            self._connection_claims[sid] = self.claims_for_connection(auth)
            logger.debug(
                "User %s connected to socketIO endpoint (%s).",
                sid,
                "authenticated" if self._connection_claims[sid] else "anonymous",
            )
            return True

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: Text, *args: Any) -> None:
            self._connection_claims.pop(sid, None)
            logger.debug("User %s disconnected from socketIO endpoint.", sid)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict] = None) -> None:
            if not isinstance(data, dict):
                data = {}
            if not data.get("session_id"):
                data["session_id"] = uuid.uuid4().hex
            if self.session_persistence:
                joined = sio.enter_room(sid, data["session_id"], namespace=self.namespace)
                if inspect.isawaitable(joined):  # python-socketio >= 5.? (RasaHQ/rasa#13027)
                    await joined
            await sio.emit(
                "session_confirm", data["session_id"], room=sid, namespace=self.namespace
            )
            logger.debug("User %s started session %s.", sid, data["session_id"])

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any) -> None:
            if not isinstance(data, dict):
                return
            output_channel = SocketIOOutput(sio, self.bot_message_evt)

            if self.session_persistence:
                if not data.get("session_id"):
                    rasa.shared.utils.io.raise_warning(
                        "A message without a valid session_id was received. This "
                        "message will be ignored. Make sure to set a proper session id "
                        "using the `session_request` socketIO event."
                    )
                    return
                sender_id = data["session_id"]
            else:
                sender_id = sid

            message = UserMessage(
                data.get("message", ""),
                output_channel,
                sender_id,
                input_channel=self.name(),
                metadata=self.user_metadata_for(sid, data),
            )
            await on_new_message(message)

        return socketio_webhook
