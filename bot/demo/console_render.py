"""How a Telegram chat looks in a terminal: the bot's HTML as bold/italic text, buttons as
numbered choices, and the other voices of the demo (the trader, the narrator) set apart.

ANSI styling is only used when the output is a terminal; piped output is plain text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

_BOLD, _ITALIC, _DIM, _UNDERLINE, _STRIKE, _RESET = "1", "3", "2", "4", "9", "0"
_STYLES = {"b": _BOLD, "strong": _BOLD, "i": _ITALIC, "em": _ITALIC, "u": _UNDERLINE,
           "ins": _UNDERLINE, "s": _STRIKE, "strike": _STRIKE, "del": _STRIKE, "code": _DIM,
           "pre": _DIM, "tg-spoiler": _DIM, "blockquote": _ITALIC}
BODY_INDENT = "   "
MAX_BUTTON_LABEL = 40


def _sgr(*codes: str) -> str:
    return f"\x1b[{';'.join(codes)}m"


class _TerminalHtml(HTMLParser):
    """Telegram's HTML subset to text: tags become styles (or nothing), entities are decoded."""

    def __init__(self, ansi: bool) -> None:
        super().__init__(convert_charrefs=True)
        self._ansi = ansi
        self._open: list[str] = []  # style codes of the open tags, outermost first
        self._links: list[str | None] = []
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._links.append(dict(attrs).get("href"))
        style = _STYLES.get(tag)
        if style is not None:
            self._open.append(style)
            self._restyle()

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._links:
            href = self._links.pop()
            if href:
                self.parts.append(f" <{href}>")
        style = _STYLES.get(tag)
        if style is not None and style in self._open:
            del self._open[len(self._open) - 1 - self._open[::-1].index(style)]
            self._restyle()

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def _restyle(self) -> None:
        if self._ansi:
            self.parts.append(_sgr(_RESET, *self._open))

    def text(self) -> str:
        self.close()
        if self._ansi and self._open:
            self.parts.append(_sgr(_RESET))
        return "".join(self.parts)


def terminal_text(html_text: str, *, ansi: bool) -> str:
    """The visible text of a message in Telegram's HTML, styled for a terminal when ``ansi``."""
    parser = _TerminalHtml(ansi)
    parser.feed(html_text)
    return parser.text()


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    callback_data: str | None  # None for URL buttons, which a terminal can only show


def keyboard_buttons(markup: Mapping[str, Any] | None) -> list[list[Button]]:
    """The rows of an inline keyboard as sent to the Bot API (``reply_markup``)."""
    rows = markup.get("inline_keyboard") if markup else None
    if not isinstance(rows, list):
        return []
    result: list[list[Button]] = []
    for row in rows:
        if not isinstance(row, list):
            continue
        buttons = [Button(str(b.get("text", "?"))[:MAX_BUTTON_LABEL],
                          b["callback_data"] if isinstance(b.get("callback_data"), str) else None)
                   for b in row if isinstance(b, dict)]
        if buttons:
            result.append(buttons)
    return result


def keyboard_lines(rows: Sequence[Sequence[Button]], *, ansi: bool) -> list[str]:
    """``[1] 🔄 Refresh   [2] ⟳ Sync now``: one line per keyboard row, numbered across rows."""
    lines = []
    number = 0
    for row in rows:
        cells = []
        for button in row:
            number += 1
            tag = f"[{number}]"
            cells.append(f"{_sgr(_BOLD) + tag + _sgr(_RESET) if ansi else tag} {button.label}")
        lines.append("   ".join(cells))
    return lines


def bot_block(text: str, buttons: Sequence[str], flags: Sequence[str], *, ansi: bool) -> str:
    """A message from the bot: a header line, the indented body, then its buttons."""
    header = " · ".join(["🤖 PositionBot", *flags])
    body = [BODY_INDENT + line if line else "" for line in text.split("\n")]
    body += [BODY_INDENT + line for line in buttons]
    head = _sgr(_BOLD) + header + _sgr(_RESET) if ansi else header
    return "\n".join([head, *body]) + "\n\n"


def user_line(text: str, *, ansi: bool) -> str:
    """What the trader typed (or pressed), as the chat would show it."""
    line = f"🧑 you: {text}"
    return (_sgr(_BOLD) + line + _sgr(_RESET) if ansi else line) + "\n\n"


def toast_line(text: str, *, alert: bool, ansi: bool) -> str:
    """A button's answer: Telegram shows it briefly on top of the chat (or as an alert)."""
    line = f"{BODY_INDENT}{'⚠ alert' if alert else '💬'} {text}"
    return (_sgr(_DIM) + line + _sgr(_RESET) if ansi else line) + "\n\n"


def narration(text: str, *, ansi: bool) -> str:
    """The demo's voice, clearly not part of the chat."""
    lines = [("▶ " if i == 0 else "  ") + line for i, line in enumerate(text.split("\n"))]
    joined = "\n".join(lines)
    return (_sgr(_ITALIC) + joined + _sgr(_RESET) if ansi else joined) + "\n\n"
