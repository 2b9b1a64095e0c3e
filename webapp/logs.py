"""Participant tokens are secrets (docs/protocol.md): no log line may carry one.

Tokens appear in request paths (`/p/<token>/`, `/ws/play/<token>/`), which both daphne's access
log (webapp/serve.py) and Django's request logger ("Bad Request: /p/...") write.
"""

import logging
import re

_TOKEN_PATH = re.compile(r"/(p|ws/play)/[^/\s?\"']+")


def redact_tokens(text: str) -> str:
    """`text` with any participant token in a path replaced by `<token>`."""
    return _TOKEN_PATH.sub(lambda m: f"/{m.group(1)}/<token>", text)


class RedactTokens(logging.Filter):
    """A logging filter (settings.LOGGING) that redacts tokens from every record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_tokens(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
