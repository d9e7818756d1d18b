"""Turn the `quantity` entity, as the user wrote it, into an integer.

"2" -> 2, "due" -> 2, "dodici" -> 12, "una dozzina" -> 12, "un paio" -> 2,
"milleduecento" -> 1200, "una" -> 1. Returns None when the text holds no number.

Words are converted by `text2num` (``alpha2digit(text, "it", threshold=0)``: with the
default threshold "due" and "una" would stay words). text2num does not know the
counting nouns "dozzina", "paio", "decina", ... nor "mezza dozzina": it turns
"una dozzina" into "1 dozzina", so those are handled here.
Pure Python, no Rasa imports.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Optional

from text_to_num import alpha2digit

# counting nouns text2num leaves alone: "1 dozzina" -> 1 * 12
_MULTIPLIERS = {
    "paio": 2,
    "paia": 2,
    "coppia": 2,
    "decina": 10,
    "decine": 10,
    "dozzina": 12,
    "dozzine": 12,
    "ventina": 20,
    "ventine": 20,
    "trentina": 30,
    "quarantina": 40,
    "cinquantina": 50,
    "centinaio": 100,
    "centinaia": 100,
}

# whole phrases without a leading number word
_PHRASES = {
    "mezza dozzina": 6,
    "mezza decina": 5,
    "tutte e due": 2,
    "tutti e due": 2,
    "entrambe": 2,
    "entrambi": 2,
    "tutte e tre": 3,
    "tutti e tre": 3,
    "una sola": 1,
    "uno solo": 1,
    "un'altra": 1,
    "un altro": 1,
    "un'unica": 1,
}

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_ARTICLE_BEFORE_NOUN = re.compile(r"\b(?:un|una|uno|un')\s*(?=(?:%s)\b)" % "|".join(_MULTIPLIERS))


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text).lower().strip()
    # typographic apostrophes, stray punctuation around the number ("+3", "3!", "(12)")
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"[+\-–—()\[\]!?;:\"]", " ", text)
    return " ".join(text.split())


def parse_quantity(text: Optional[str]) -> Optional[int]:
    """Return the count written in ``text`` ("due", "12", "una dozzina") or None."""
    if text is None:
        return None
    text = _normalise(str(text))
    if not text:
        return None

    for phrase, value in _PHRASES.items():
        if re.search(r"(?<!\w)%s(?!\w)" % re.escape(phrase), text):
            return value

    # "una dozzina" / "un paio": the article means one (text2num would say "1 dozzina")
    text = _ARTICLE_BEFORE_NOUN.sub("1 ", text)

    converted = alpha2digit(text, "it", threshold=0)

    tokens = converted.split()
    for i, token in enumerate(tokens):
        match = _NUMBER.fullmatch(token)
        if match:
            raw = token
            # "1.200" thousands separator; a decimal ("2,5") is not a license count
            if re.fullmatch(r"\d{1,3}(?:\.\d{3})+", raw):
                value = int(raw.replace(".", ""))
            elif re.fullmatch(r"\d+", raw):
                value = int(raw)
            else:
                return None
            following = tokens[i + 1] if i + 1 < len(tokens) else ""
            if following in _MULTIPLIERS:
                value *= _MULTIPLIERS[following]
            return value
        if token in _MULTIPLIERS:
            # "dozzina" alone, or "qualche decina": one unit of the counting noun
            return _MULTIPLIERS[token]
    # digits glued to words ("3licenze")
    glued = re.search(r"\d+", converted)
    if glued:
        return int(glued.group())
    return None
