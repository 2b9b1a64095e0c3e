"""One bot: a simulated participant that takes part through the same public flow as a browser.

    GET /s/<slug>/[?participant_label=...]  ->  the start page; POST its form (the ids travel with
                                                it)  ->  302 to the participant's page /p/<token>/
    POST the consent form (CSRF cookie + hidden field, as the browser's form post)
    POST the comprehension check until it passes
    websocket /ws/play/<token>/ (the play page's data-ws-path), every trial until done
    GET the debrief: earnings and completion code

Over real HTTP (httpx) and a real websocket (websockets), so a bot exercises exactly what people
exercise, including the server's own checks (CSRF, Origin, phases), and a run of bots is a load
test. Environment proxies are ignored: bots talk to the study server directly.

Comprehension: the right answers are not public, so a bot answers the way a patient person does.
It tries the first choice of each question; the page marks the questions that are wrong (and
the platform allows retries without lock-out), and the bot tries the next choice of just those
questions. Bots of one run share what they learned (`known_answers`), so only the first bots of a
run need more than one attempt. The attempts are recorded on the participant like anyone's.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
import torch
import websockets
from websockets.asyncio.client import connect as ws_connect

from .pages import Page, read_page
from .player import ModelFactory, Move, Player

HTTP_TIMEOUT_S = 30.0
RESULT_TIMEOUT_S = 15.0  # no message for this long: assume the socket is dead (as play.js does)
MAX_RECONNECTS = 5  # consecutive failed connections (or server errors) without progress
BACKOFF_BASE_S, BACKOFF_MAX_S = 0.25, 5.0
MAX_PAGES = 8  # consent, instructions, play, debrief, with room for a re-shown page

# Errors that say the bot's own message was wrong: resending it cannot help.
BOT_ERRORS = {"bad_json", "too_large", "bad_message", "unknown_type", "invalid_choice"}
CLOSE_REASONS = {4404: "the server does not know this participant (4404)",
                 4409: "the participant is not at the game (4409)",
                 4429: "the server cut the bot off for sending too much (4429)"}
# A bot answers faster than the server's per-connection message limit allows in long games; after
# a `rate_limited` error it waits this long (the default limit refills a message every 0.1 s).
RATE_LIMITED_PAUSE_S = 0.2


class BotFailed(Exception):
    """The bot cannot finish; the message is the reason reported in the summary."""


class _Reconnect(Exception):
    """Drop this connection and open a new one after a back-off."""


@dataclass
class BotResult:
    index: int
    seed: int
    completed: bool = False
    reason: str | None = None  # why a failed bot failed
    token: str | None = field(default=None, repr=False)  # the participant's secret
    game: str | None = None
    condition: str | None = None  # filled in by the runner where the database is at hand
    points: float | None = None  # from the debrief page
    bonus: Decimal | None = None
    total: Decimal | None = None
    currency: str | None = None
    completion_code: str | None = None
    tally: float | None = None  # points from the last `state`/`result`: must equal `points`
    moves: list[Move] = field(default_factory=list)  # every choice sent, by trial
    comprehension_attempts: int = 0
    reconnects: int = 0
    seconds: float = 0.0


class Bot:
    def __init__(self, *, base_url: str, study_slug: str, model_factory: ModelFactory, seed: int,
                 index: int = 0, query: dict[str, str] | None = None,
                 known_answers: dict[str, str] | None = None):
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.ws_origin = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"
        self.study_slug, self.model_factory, self.query = study_slug, model_factory, query or {}
        self.known_answers = {} if known_answers is None else known_answers
        self.result = BotResult(index=index, seed=seed)
        self.generator = torch.Generator().manual_seed(seed)
        self.jitter = random.Random(seed)
        self.player = Player(model_factory, self.generator)
        self.failures = 0

    async def run(self) -> BotResult:
        """Take part from the join link to the debrief. Never raises: a bot that cannot finish is
        returned with completed=False and the reason."""
        started = time.perf_counter()
        try:
            async with httpx.AsyncClient(follow_redirects=True, trust_env=False, timeout=HTTP_TIMEOUT_S,
                                         headers={"User-Agent": "ShapingLab-bot"}) as http:
                await self._take_part(http)
            self.result.completed = True
        except BotFailed as error:
            self.result.reason = str(error)
        except Exception as error:  # a network or model error: report it, keep the run going
            self.result.reason = f"{type(error).__name__}: {error}"
        self.result.moves = [self.player.moves[t] for t in sorted(self.player.moves)]
        self.result.game = self.player.game.spec.name if self.player.game else None
        self.result.seconds = time.perf_counter() - started
        return self.result

    # --- the pages ---------------------------------------------------------------------------

    async def _take_part(self, http: httpx.AsyncClient) -> None:
        page = await self.reach_game(http)
        if page.kind == "play":
            await self._play(page)
            page = await self._get(http, self._absolute(self.player.debrief_url or page.url))
        if page.kind != "debrief":
            raise BotFailed(f"no debrief after the game: {page.describe()}")
        self._read_debrief(page)

    async def reach_game(self, http: httpx.AsyncClient) -> Page:
        """Join, consent and pass the comprehension check: the play page (or the debrief, when
        this participation had already finished)."""
        page = await self._get(http, f"{self.base_url}/s/{self.study_slug}/", params=self.query)
        if page.kind == "start":
            page = await self._post(http, page, {"step": "start", **self.query})
        match = re.search(r"/p/([^/]+)/$", urlsplit(page.url).path)
        if page.status != 200 or match is None:
            raise BotFailed(f"join: {page.describe()}")
        self.result.token = match.group(1)
        for _ in range(MAX_PAGES):
            if page.kind == "consent":
                page = await self._post(http, page, {"step": "consent", "agree": "yes"})
            elif page.kind == "instructions":
                page = await self._pass_comprehension(http, page)
            elif page.kind in ("play", "debrief"):
                return page
            else:
                raise BotFailed(f"unexpected page at {urlsplit(page.url).path}: {page.describe()}")
        raise BotFailed(f"still at the {page.kind} page after {MAX_PAGES} pages")

    async def _get(self, http: httpx.AsyncClient, url: str, **kwargs) -> Page:
        response = await http.get(url, **kwargs)
        return read_page(str(response.url), response.status_code, response.text)

    async def _post(self, http: httpx.AsyncClient, page: Page, data: dict[str, str]) -> Page:
        """Submit the page's form as a browser does: to the page itself, with the CSRF token in
        the hidden field (its cookie came with the GET), and Origin and Referer headers."""
        if page.csrf_token is None:
            raise BotFailed(f"no CSRF token on the {page.kind} page")
        response = await http.post(page.url, data={"csrfmiddlewaretoken": page.csrf_token, **data},
                                   headers={"Origin": self.origin, "Referer": page.url})
        if response.status_code == 403:
            raise BotFailed(f"{page.kind} form refused (403): {response.text[:200]!r}")
        return read_page(str(response.url), response.status_code, response.text)

    async def _pass_comprehension(self, http: httpx.AsyncClient, page: Page) -> Page:
        """Answer, read which questions are marked wrong, change just those; see the module
        docstring. Ends after at most one attempt per choice of the longest question."""
        questions = page.questions
        known = self.known_answers
        answers = {name: known[name] if known.get(name) in values else values[0]
                   for name, values in questions.items()}
        while True:
            self.result.comprehension_attempts += 1
            after = await self._post(http, page, {"step": "comprehension", **answers})
            if after.kind != "instructions":
                self.known_answers.update(answers)
                return after
            if not after.invalid:
                raise BotFailed(f"comprehension check refused without marking a question: {after.describe()}")
            for name in sorted(after.invalid):
                values = questions.get(name, [])
                position = values.index(answers[name]) + 1 if answers.get(name) in values else len(values)
                if position >= len(values):
                    raise BotFailed(f"comprehension check: no choice of {name} is accepted")
                answers[name] = values[position]
            page = after

    def _read_debrief(self, page: Page) -> None:
        try:
            points, bonus, total, currency = page.earned()
        except ValueError as error:
            raise BotFailed(str(error)) from None
        r = self.result
        r.points, r.bonus, r.total, r.currency = points, bonus, total, currency
        r.completion_code = page.completion_code
        r.tally = self.player.points

    def _absolute(self, path: str) -> str:
        return path if "://" in path else f"{self.base_url}{path}"

    # --- the game ----------------------------------------------------------------------------

    async def _play(self, page: Page) -> None:
        """Play until the server says done, reconnecting with back-off when the connection
        drops, goes silent, or the server could not store a choice."""
        url = f"{self.ws_origin}{page.ws_path}"
        last_problem = ""
        while not self.player.done:
            if self.failures:
                if self.failures > MAX_RECONNECTS:
                    raise BotFailed(f"gave up after {MAX_RECONNECTS} reconnects: {last_problem}")
                delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (self.failures - 1))
                await asyncio.sleep(delay * (0.8 + 0.4 * self.jitter.random()))
                self.result.reconnects += 1
            try:
                # Browsers send Origin; the server's AllowedHostsOriginValidator requires it.
                async with ws_connect(url, origin=self.origin, proxy=None, open_timeout=HTTP_TIMEOUT_S,
                                      close_timeout=2) as ws:
                    await self._exchange(ws)
                continue
            except _Reconnect as problem:
                last_problem = str(problem)
            except websockets.ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
                if code in CLOSE_REASONS:
                    raise BotFailed(CLOSE_REASONS[code]) from None
                last_problem = f"connection closed ({code})"
            except (OSError, TimeoutError, websockets.InvalidHandshake) as error:
                last_problem = f"{type(error).__name__}: {error}"
            self.failures += 1

    async def _exchange(self, ws) -> None:
        sent = {"type": "sync"}  # the last message sent (none yet: a sync is always safe to send)
        while not self.player.done:
            message = await self._receive(ws)
            kind = message.get("type")
            if kind == "state":
                outgoing = self.player.on_state(message)
            elif kind == "result":
                recorded = len(self.player.history)
                outgoing = self.player.on_result(message)
                if len(self.player.history) > recorded:
                    self.failures = 0  # progress: the back-off starts afresh
            elif kind == "error" and message.get("code") == "rate_limited":
                # The server dropped the last message unread: send it again after a pause.
                await asyncio.sleep(RATE_LIMITED_PAUSE_S)
                outgoing = sent
            elif kind == "error":
                outgoing = self._on_error(message)
            else:
                continue
            if outgoing is not None:
                await ws.send(json.dumps(outgoing))
                sent = outgoing
                await self._sent(ws, outgoing)

    async def _sent(self, ws, message: dict[str, Any]) -> None:
        """Called after every message sent; a hook for tests that break connections."""

    async def _receive(self, ws) -> dict[str, Any]:
        try:
            text = await asyncio.wait_for(ws.recv(), RESULT_TIMEOUT_S)
        except TimeoutError:
            raise _Reconnect(f"no message from the server for {RESULT_TIMEOUT_S:g} s") from None
        message = json.loads(text)
        return message if isinstance(message, dict) else {}

    def _on_error(self, error: dict[str, Any]) -> dict[str, Any]:
        code, text = error.get("code"), error.get("message")
        if code in BOT_ERRORS:
            raise BotFailed(f"the server rejected the bot's message: {code}: {text}")
        if code == "wrong_phase":
            raise BotFailed(f"the participant is not at the game: {text}")
        if code == "server_error":
            # The protocol asks to resend the same choice; after a reconnect the fresh state
            # decides whether it is still needed.
            raise _Reconnect(f"server_error: {text}")
        # wrong_trial, game_over, anything new: the state says where the game really is.
        return {"type": "sync"}
