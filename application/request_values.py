"""The rules of the values a request carries, shared by the request models (``application/api/fields.py``) and
the few readers outside HTTP (the CLI's key names): what is text, what is a whole number, and how an error
message may show what the client sent.

The HTTP routes declare their fields with ``api.fields.Text`` / ``WholeNumber``, which apply these rules.
``text`` is the reader for callers without a request model. Example::

    from application.request_values import quoted, text
    name = text(value, "name", max_chars=256)          # not "\\ud800", not "", trimmed
    raise NotFound(f"No prompt {quoted(prompt_id)}")   # never more than ~60 characters of the input
"""
from __future__ import annotations

import re

from application.errors import BadRequest, echoed

#: PostgreSQL's INTEGER (SQLite's are 64-bit): the narrower one bounds every number that is stored or compared
SQL_INTEGER_MAX = 2**31 - 1

# ASCII digits only: str.isdigit() also says yes to "²" (which int() refuses) and int() reads "٣" and "３"
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,19}")

#: how much of a value, and how many items of a list, an error message shows
SHOWN_CHARS = 60
SHOWN_ITEMS = 5


def parse_whole_number(value) -> int | None:
    """The number a string of ASCII digits (white space around it allowed) writes, else None."""
    if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
        return int(value.strip())
    return None


def unicode_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored, embedded or sent on as text, or None. A JSON ``\\ud800`` escape without
    its pair decodes to a str that has no UTF-8 form (SQLite, PostgreSQL, tokenizers and HTTP clients all
    fail on it); PostgreSQL's text columns cannot hold NUL."""
    if value.isascii():
        return "it contains a NUL character (\\u0000)" if "\x00" in value else None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (f"it contains an unpaired surrogate (\\u{ord(value[exc.start]):04x} at character {exc.start}), "
                "which is not Unicode text: send valid UTF-8 (JSON \\ud800-\\udfff escapes come in pairs)")
    return "it contains a NUL character (\\u0000)" if "\x00" in value else None


def text(value, field: str, *, max_chars: int | None, required: bool = True, strip: bool = True,
         collapse_spaces: bool = False, expected: str = "a string") -> str | None:
    """A string that is Unicode text, trimmed (``strip``; with ``collapse_spaces`` every run of white space
    becomes one space) and then at most ``max_chars`` long. Missing or empty: a 400 when ``required``, else
    None. ``expected`` is what the message asks for when the value is not a string."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadRequest(f"'{field}' is missing or empty.")
        return None
    if not isinstance(value, str):
        raise BadRequest(f"'{field}' must be {expected}, not {json_type(value)}.")
    problem = unicode_problem(value)
    if problem:
        raise BadRequest(f"'{field}' cannot be used: {problem}.")
    if collapse_spaces:
        value = " ".join(value.split())
    elif strip:
        value = value.strip()
    if max_chars is not None and len(value) > max_chars:
        raise BadRequest(f"'{field}' is {len(value)} characters long; the limit is {max_chars}.")
    return value


def json_type(value) -> str:
    """The JSON name of a decoded value's type, for messages ("a number", "an object")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


# -- showing input in an error message: a few characters, a few items ---------------------------------
def quoted(value, max_chars: int = SHOWN_CHARS) -> str:
    """``repr(value)`` cut to about ``max_chars``: a message that echoes input never grows with it."""
    shown = repr(value)
    return echoed(shown if len(shown) <= max_chars else shown[: max_chars - 1] + "…")


def some_of(items, shown_items: int = SHOWN_ITEMS, show=quoted) -> str:
    """``'a', 'b', 'c', 'd', 'e' and 9995 more``: the first items of a list for a message."""
    items = list(items)
    listed = ", ".join(show(item) for item in items[:shown_items])
    return listed + (f" and {len(items) - shown_items} more" if len(items) > shown_items else "")
