"""Error texts made safe to store and to send: secrets masked, and a short reason for a push.

The same rules serve the logs (``bot.logging_setup``) and the engine, which stores error texts
(sync state, notices) and sends them to the chat: an exchange that signs in the query string
(HTX's ``AccessKeyId=``) puts the API key into its error texts, and an error page brings a URL
and an HTML body with it.
"""

from __future__ import annotations

import re

REDACTED = "***"
_MIN_SECRET_LENGTH = 4  # shorter values would mangle ordinary words and protect nothing
_MAX_REASON = 200

# Credentials as exchanges put them into URLs, query strings, headers and JSON bodies.
_CREDENTIALS = re.compile(
    r"\b(?P<name>access_?key_?id|api_?key|api-key|apikey|x-mbx-apikey|ok-access-key|"
    r"x-bapi-api-key|signature|sign|passphrase|secret|token|password)"
    r"(?P<sep>[\"']?\s*[=:]\s*[\"']?)(?P<value>[^&\s\"',;}]+)",
    re.IGNORECASE)
_HTML = re.compile(r"<(!doctype|html|head|body)\b.*", re.IGNORECASE | re.DOTALL)
_URL = re.compile(r"https?://([^/\s?#\"']+)[^\s\"']*", re.IGNORECASE)

_secrets: set[str] = set()


def add_secret(value: str) -> None:
    """Mask ``value`` wherever ``redact`` runs from now on (API keys, secrets, bot tokens)."""
    if len(value) >= _MIN_SECRET_LENGTH:
        _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with every registered secret and every credential-looking parameter masked."""
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return _CREDENTIALS.sub(lambda m: f"{m['name']}{m['sep']}{REDACTED}", text)


def short_reason(text: str) -> str:
    """A redacted one-line reason for a push: no HTML body, URLs cut to their host."""
    text = _HTML.sub("(HTML error page)", redact(text))
    text = _URL.sub(lambda m: m[1], text)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REASON else text[:_MAX_REASON] + "…"
