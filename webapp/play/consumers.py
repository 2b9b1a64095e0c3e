"""The live-play websocket: parse, authorise, delegate (DESIGN.md, principle 7).

One connection per open page. All tabs of one participant share a channel-layer group, so when one
tab records a trial the others are told and redraw from the trial table.

A tab tells the others only when there are others: it announces itself to the group when it opens
(`tab.opened`), every tab that hears this answers it directly (`tab.present`), and a tab that
closes says so (`tab.closed`). So the usual participant, with one tab, costs the channel layer
nothing per move. A tab that hears from another after it has loaded redraws once more, so no move
recorded between its loading and the other tab's hearing of it goes unseen: a consumer handles one
message at a time, so every move that tab made before answering is in the database by then.
"""

from __future__ import annotations

import functools
import json
import logging

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import close_old_connections
from django.urls import reverse

from webapp import ratelimit
from webapp.studies.models import Participant

from . import protocol, selectors, services

logger = logging.getLogger(__name__)

CLOSE_UNKNOWN_TOKEN = 4404
CLOSE_NOT_PLAYING = 4409
CLOSE_TRY_AGAIN_LATER = 1013  # the database is briefly unavailable: reconnect after a back-off
CLOSE_RATE_LIMITED = 4429


def off_the_event_loop(func):
    """Run a database call (and the adversary's step inside it) on the worker's thread pool.

    Channels' default runs every such call of a process on one shared thread, so one move waiting
    for PostgreSQL holds up every other participant's move in that worker. On the pool, moves of
    different participants overlap, each thread with its own pooled connection; the lock on the
    participant's row (services.trial_submit) keeps one participant's moves in order, and one
    connection's messages are handled one at a time anyway.

    The connection is given back (to the pool, or closed) inside the call itself. Channels'
    database_sync_to_async tidies up around the call, but off the shared thread that did not reach
    the connection the call had opened: on PostgreSQL the tests saw it stay open until garbage
    collection.
    """

    @functools.wraps(func)
    def with_connection_returned(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        finally:
            close_old_connections()

    return sync_to_async(with_connection_returned, thread_sensitive=False)


class PlayConsumer(AsyncWebsocketConsumer):
    async def dispatch(self, message):
        """Channels' dispatch without its tidying of database connections before every message.
        That tidying runs on Channels' shared thread, so it costs a thread hop per message, and
        it is not needed here: this consumer uses the database only in `off_the_event_loop`
        calls, which give their connections back themselves."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        token = self.scope["url_route"]["kwargs"]["token"]
        try:
            self.participant = await _participant_by_token(token)
        except Exception:
            logger.exception("looking up a participant failed")
            await self.accept()
            await self._unavailable()
            return
        self.live = None
        self.message_bucket = ratelimit.TokenBucket(rate=settings.SHAPING_LAB_WS_MESSAGES_PER_S,
                                                    burst=settings.SHAPING_LAB_WS_MESSAGE_BURST)
        await self.accept()
        if self.participant is None:
            # The client's address; behind the reverse proxy daphne takes it from X-Forwarded-For.
            client = (self.scope.get("client") or ["unknown"])[0]
            too_many = await ratelimit.aunknown_token_exceeded(client)
            await self.close(code=CLOSE_RATE_LIMITED if too_many else CLOSE_UNKNOWN_TOKEN)
            return
        refusal = services.play_refusal(self.participant)
        if refusal is not None:
            await self._refuse(refusal)
            return
        self.group = f"participant-{self.participant.public_id}"
        self.other_tabs: set[str] = set()
        await self._other_tabs("group_add", self.group, self.channel_name)
        await self._other_tabs("group_send", self.group, {"type": "tab.opened", "sender": self.channel_name})
        await self._send_state()

    async def disconnect(self, code):
        if getattr(self, "group", None):
            await self._other_tabs("group_discard", self.group, self.channel_name)
            if self.other_tabs:
                await self._other_tabs("group_send", self.group, {"type": "tab.closed", "sender": self.channel_name})

    async def receive(self, text_data=None, bytes_data=None):
        if getattr(self, "group", None) is None:
            return
        if not self.message_bucket.take():
            # A flood: drop the message unread, so it costs no parsing and no database; a client
            # that keeps sending regardless is cut off.
            if self.message_bucket.refused_in_a_row >= settings.SHAPING_LAB_WS_REFUSED_BEFORE_CLOSE:
                await self.close(code=CLOSE_RATE_LIMITED)
            else:
                await self._send(protocol.error("rate_limited", "too many messages: this one was dropped; "
                                                                "wait a moment, then send it again"))
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
        except services.NotPlayable as refusal:  # timed out, or the study closed, since the last move
            await self._refuse(refusal)
            return
        except services.PlayError as error:
            await self._send(protocol.error(error.code, error.message, error.expected_trial))
            return
        except Exception:
            logger.exception("trial %s of %s failed", message.trial, self.participant.public_id)
            self.live = None  # the cache may be ahead of the database: rebuild on next use
            await self._send(protocol.error("server_error", "the choice could not be recorded; please retry"))
            return
        await self._send(reply["message"])
        if not reply["duplicate"] and self.other_tabs:
            await self._other_tabs("group_send", self.group, {"type": "trial.recorded", "sender": self.channel_name})

    @off_the_event_loop
    def _submit(self, message: protocol.ChoiceMessage) -> dict:
        submission = services.trial_submit(participant=self.participant, live=self.live, trial_index=message.trial,
                                           action=message.action, reaction_time_ms=message.reaction_time_ms,
                                           practice=message.practice)
        self.live = submission.live
        return {"duplicate": submission.duplicate,
                "message": protocol.result(self.live, submission.trial, submission.duplicate,
                                           submission.open_trial, self.debrief_url)}

    async def trial_recorded(self, event):
        """Another tab of this participant recorded a trial: redraw from the trial table."""
        if event["sender"] != self.channel_name:
            self.live = None
            await self._send_state()

    async def tab_opened(self, event):
        """Another tab of this participant opened: tell it this one is here too."""
        if event["sender"] != self.channel_name:
            self.other_tabs.add(event["sender"])
            await self._other_tabs("send", event["sender"], {"type": "tab.present", "sender": self.channel_name})

    async def tab_present(self, event):
        """An older tab answered this one's opening: from now on it hears of this tab's moves, and
        this tab redraws, in case that tab recorded a move after this one loaded."""
        self.other_tabs.add(event["sender"])
        self.live = None
        await self._send_state()

    async def tab_closed(self, event):
        self.other_tabs.discard(event["sender"])

    async def _send_state(self):
        try:
            message = await self._state()
        except services.NotPlayable as refusal:
            await self._refuse(refusal)
            return
        except Exception:
            logger.exception("loading the game of %s failed", self.participant.public_id)
            await self._unavailable()
            return
        await self._send(message)

    async def _refuse(self, refusal: services.NotPlayable):
        """The participant cannot play (not started, timed out, the study closed): say why, then end
        the connection; their page knows what to show instead."""
        await self._send(protocol.error(refusal.code, refusal.message))
        await self.close(code=CLOSE_NOT_PLAYING)

    async def _unavailable(self):
        """The database is away: say so, and close so that the page reconnects after a back-off
        (the choice it is waiting to send stays with it)."""
        await self._send(protocol.error("server_error", "the game cannot be loaded just now; retrying"))
        await self.close(code=CLOSE_TRY_AGAIN_LATER)

    async def _other_tabs(self, operation: str, *args):
        """Keep the participant's other tabs in step through the channel layer. Best effort: with
        Redis away the other tabs miss a redraw (they get a fresh state when they next send), but
        this tab's play goes on."""
        try:
            await getattr(self.channel_layer, operation)(*args)
        except Exception:
            logger.warning("channel layer %s failed for %s", operation, self.group, exc_info=True)

    @off_the_event_loop
    def _state(self) -> dict:
        self.live = services.play_start(participant=self.participant)
        study = self.participant.study
        return protocol.state(study.make_game(), self.live,
                              selectors.block_trials(participant=self.participant, practice=self.live.practice),
                              self.participant.screen_order, self.debrief_url,
                              practice_trials=selectors.practice_length(study=study),
                              break_every=study.break_every_trials)

    @property
    def game(self):
        if self.live is not None:
            return self.live.game
        return self.participant.study.make_game()

    @functools.cached_property
    def debrief_url(self) -> str:
        return reverse("participant-home", args=[self.participant.token])

    async def _send(self, message: dict):
        await self.send(text_data=json.dumps(message))


@off_the_event_loop
def _participant_by_token(token: str) -> Participant | None:
    return Participant.objects.select_related("study", "condition").filter(token=token).first()
