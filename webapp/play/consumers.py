"""The live-play websocket: parse, authorise, delegate (DESIGN.md, principle 7).

One connection per open page. All tabs of one participant share a channel-layer group, so when one
tab records a trial the others are told and redraw from the trial table.
"""

from __future__ import annotations

import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import reverse

from webapp.studies.models import Participant

from . import protocol, services
from .models import Trial

logger = logging.getLogger(__name__)

CLOSE_UNKNOWN_TOKEN = 4404
CLOSE_NOT_PLAYING = 4409


class PlayConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        token = self.scope["url_route"]["kwargs"]["token"]
        self.participant = await _participant_by_token(token)
        self.live = None
        await self.accept()
        if self.participant is None:
            await self.close(code=CLOSE_UNKNOWN_TOKEN)
            return
        if self.participant.status not in services.PLAYABLE:
            await self._send(protocol.error("wrong_phase", "the game has not started yet"))
            await self.close(code=CLOSE_NOT_PLAYING)
            return
        self.group = f"participant-{self.participant.public_id}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self._send_state()

    async def disconnect(self, code):
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        if getattr(self, "group", None) is None:
            return
        try:
            message = protocol.parse(text_data, self.game)
        except protocol.ProtocolError as error:
            await self._send(protocol.error(error.code, error.message))
            return
        if message == "sync":
            await self._send_state()
        else:
            await self._choose(message)

    async def _choose(self, message: protocol.ChoiceMessage):
        try:
            reply = await self._submit(message)
        except services.PlayError as error:
            await self._send(protocol.error(error.code, error.message, error.expected_trial))
            return
        except Exception:
            logger.exception("trial %s of %s failed", message.trial, self.participant.public_id)
            self.live = None  # the cache may be ahead of the database: rebuild on next use
            await self._send(protocol.error("server_error", "the choice could not be recorded; please retry"))
            return
        await self._send(reply["message"])
        if not reply["duplicate"]:
            await self.channel_layer.group_send(self.group, {"type": "trial.recorded", "sender": self.channel_name})

    @database_sync_to_async
    def _submit(self, message: protocol.ChoiceMessage) -> dict:
        submission = services.trial_submit(participant=self.participant, live=self.live, trial_index=message.trial,
                                           action=message.action, reaction_time_ms=message.reaction_time_ms)
        self.live = submission.live
        return {"duplicate": submission.duplicate,
                "message": protocol.result(self.live, submission.trial, submission.duplicate,
                                           submission.open_trial, self._debrief_url())}

    async def trial_recorded(self, event):
        """Another tab of this participant recorded a trial: redraw from the trial table."""
        if event["sender"] != self.channel_name:
            self.live = None
            await self._send_state()

    async def _send_state(self):
        try:
            message = await self._state()
        except services.PlayError as error:
            # Only a participant who cannot play gets here: say why, then end the connection.
            await self._send(protocol.error(error.code, error.message, error.expected_trial))
            await self.close(code=CLOSE_NOT_PLAYING)
            return
        await self._send(message)

    @database_sync_to_async
    def _state(self) -> dict:
        self.live = services.play_start(participant=self.participant)
        trials = list(Trial.objects.filter(participant=self.participant).order_by("index"))
        return protocol.state(self.live, trials, self.participant.screen_order, self._debrief_url())

    @property
    def game(self):
        if self.live is not None:
            return self.live.game
        return self.participant.study.make_game()

    def _debrief_url(self) -> str:
        return reverse("participant-home", args=[self.participant.token])

    async def _send(self, message: dict):
        await self.send(text_data=json.dumps(message))


@database_sync_to_async
def _participant_by_token(token: str) -> Participant | None:
    return Participant.objects.select_related("study", "condition").filter(token=token).first()
