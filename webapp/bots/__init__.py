"""Bots: simulated participants that take part in a study through the same public flow a browser
uses (join link, consent, comprehension check, websocket play, debrief), with a participant model
from shaping_core (a synthetic learner, or any ParticipantModel) choosing their moves.

They fill demo studies, generate data for the closed-loop experiment and drive load tests.

    from webapp.bots import run_bots
    summary = await run_bots(base_url, study_slug, "q_learning", count=20, concurrency=4, seed=0)

or `python manage.py run_bots --study SLUG --count N --learner NAME`. Modules: `moves` (per-game:
views from messages, moves to messages), `player` (play without I/O), `pages` (reading the HTML
pages), `bot` (one bot over HTTP and the websocket), `runner` (many bots, the summary).
"""

from .bot import Bot, BotResult
from .player import Move, Player
from .runner import BotsSummary, bot_seed, learner_factory, run_bots

__all__ = ["Bot", "BotResult", "BotsSummary", "Move", "Player", "bot_seed", "learner_factory", "run_bots"]
