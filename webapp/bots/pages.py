"""Reading a participant's HTML pages the way a bot needs: which step the page is, its form's
CSRF token and radio questions, the questions marked wrong, the play page's websocket path, and the
debrief's earnings and completion code.

Plain `html.parser` over the templates in templates/play/: the bot relies only on what the page
shows a person (and the form fields a browser would submit), never on server internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from html.parser import HTMLParser


@dataclass
class Page:
    url: str
    status: int
    step: str | None = None  # the form's hidden `step` field: "start", "consent" or "comprehension"
    csrf_token: str | None = None
    questions: dict[str, list[str]] = field(default_factory=dict)  # radio group -> values, in order
    invalid: set[str] = field(default_factory=set)  # radio groups in a fieldset marked invalid
    ws_path: str | None = None  # the play page's data-ws-path
    heading: str = ""  # the first <h1>, for failure reasons
    completion_code: str | None = None
    earnings: dict[str, str] = field(default_factory=dict)  # debrief's <dt> -> <dd> texts
    ids: set[str] = field(default_factory=set)

    @property
    def kind(self) -> str:
        """start, consent, instructions, play, debrief, declined, or other (an error page)."""
        if self.step == "start":
            return "start"
        if self.step == "consent":
            return "consent"
        if self.step == "comprehension":
            return "instructions"
        if self.ws_path:
            return "play"
        if "debrief-title" in self.ids:
            return "debrief"
        if "declined-title" in self.ids:
            return "declined"
        return "other"

    def describe(self) -> str:
        return f"{self.status} {self.heading or self.kind}".strip()

    def earned(self) -> tuple[float, Decimal, Decimal, str]:
        """(points, bonus, total, currency) from the debrief's earnings list."""
        try:
            points = float(self.earnings["Points"])
            bonus, currency = self.earnings["Bonus"].split()
            total, _ = self.earnings["Total"].split()
            return points, Decimal(bonus), Decimal(total), currency
        except (KeyError, ValueError, InvalidOperation):
            raise ValueError(f"unreadable earnings on the debrief page: {self.earnings}") from None


def read_page(url: str, status: int, html: str) -> Page:
    reader = _Reader(Page(url=url, status=status))
    reader.feed(html)
    reader.close()
    return reader.page


class _Reader(HTMLParser):
    def __init__(self, page: Page):
        super().__init__(convert_charrefs=True)
        self.page = page
        self._fieldsets: list[bool] = []  # stack: is this fieldset marked invalid?
        self._capture: tuple[str, str] | None = None  # (what the text is, the tag that ends it)
        self._text: list[str] = []
        self._dt: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        page = self.page
        if "id" in a:
            page.ids.add(a["id"])
        if "data-ws-path" in a:
            page.ws_path = a["data-ws-path"]
        if tag == "fieldset":
            self._fieldsets.append("field-invalid" in a.get("class", "").split())
        elif tag == "input":
            self._input(a)
        elif tag == "h1" and not page.heading:
            self._start("h1", tag)
        elif a.get("id") == "completion-code":
            self._start("code", tag)
        elif tag in ("dt", "dd"):
            self._start(tag, tag)

    def _input(self, a):
        page, name = self.page, a.get("name", "")
        if name == "csrfmiddlewaretoken" and page.csrf_token is None:
            page.csrf_token = a.get("value")
        elif name == "step" and page.step is None:
            page.step = a.get("value")
        elif a.get("type") == "radio" and name:
            page.questions.setdefault(name, []).append(a.get("value", ""))
            if self._fieldsets and self._fieldsets[-1]:
                page.invalid.add(name)

    def _start(self, what, tag):
        self._capture, self._text = (what, tag), []

    def handle_data(self, data):
        if self._capture:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "fieldset" and self._fieldsets:
            self._fieldsets.pop()
            return
        if self._capture is None or tag != self._capture[1]:
            return
        text = " ".join("".join(self._text).split())
        (what, _), self._capture = self._capture, None
        if what == "h1":
            self.page.heading = text
        elif what == "code":
            self.page.completion_code = text
        elif what == "dt":
            self._dt = text
        elif what == "dd" and self._dt is not None:
            self.page.earnings[self._dt] = text
            self._dt = None
