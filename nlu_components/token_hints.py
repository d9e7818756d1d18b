"""Token hints for the entity tagger: which tokens are numbers, which sit where a value is left.

Adds boolean flags to each token's ``pattern`` dict, the same place `RegexFeaturizer` puts
its lookup/regex matches, so `CRFEntityExtractor` reads them through its ``pattern`` feature:

- ``number``: the token is a count as people write it ("12", "+3", "dodici", "una",
  "dozzina"), recognised by `actions.italian_numbers.parse_quantity` (text2num);
- ``left_value``: the token names what the user is leaving or comparing against, not what
  they want: "dal **Pro** al Business", "da **20** a 16", "**annuale** -> mensile",
  "invece che **all'anno**", "il **Business** costa troppo". The conversation contract fills
  slots from entities, so the tagger must learn not to tag these (see docs/nlu.md).

A window of a few tokens around each cue is enough for chat messages; the CRF weighs
the flags against the words themselves, so a wrong hint is one feature, not a decision.
"""
from __future__ import annotations

import re
from typing import List, Optional, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from actions.italian_numbers import parse_quantity
from nlu_components.base import ProjectComponent

PATTERN = "pattern"
NUMBER = "number"
LEFT_VALUE = "left_value"

# "da X a Y": X is left when a "to" marker follows within a few tokens
# (WhitespaceTokenizer drops apostrophes and punctuation: "dall'Enterprise" -> "dall", "Enterprise")
_FROM = {"da", "dal", "dallo", "dalla", "dall", "dai", "dagli", "dalle"}
_TO = {"a", "al", "allo", "alla", "all", "ad", "ai", "agli", "alle", "verso"}
# "<cue> X": X is what is replaced or compared against
_BEFORE_LEFT = [
    ("invece", "che"), ("invece", "di"), ("invece", "del"), ("invece", "della"), ("invece", "dell"),
    ("anziché",), ("anzichè",), ("anziche",), ("piuttosto", "che"), ("posto", "del"),
    ("posto", "della"), ("posto", "dell"), ("rispetto", "al"), ("rispetto", "all"),
    ("sopra", "al"), ("sotto", "al"), ("superiore", "al"), ("inferiore", "al"),
    ("alto", "del"), ("basso", "del"), ("oltre", "il"), ("basta",), ("togli", "il"),
]
# "X <cue>": X is not enough / too much, i.e. what is left
_AFTER_LEFT = [
    ("non", "basta"), ("non", "ci", "basta"), ("non", "mi", "basta"), ("non", "serve"),
    ("non", "ci", "serve"), ("non", "mi", "serve"), ("costa", "troppo"), ("è", "troppo"),
    ("è", "poco"), ("troppo", "caro"), ("è", "sprecato"), ("ci", "va", "stretto"),
    ("non", "fa", "più"), ("non", "regge"),
]
_WINDOW = 3
_STOP_WORDS = {"e", "ma", "con", "per", "o"}
_PUNCTUATION = re.compile(r"[,.;:?!()]")


def _words(text: Text, tokens: List[Token]) -> List[Text]:
    """Lower-cased token texts, with "," standing for punctuation between two tokens."""
    words: List[Text] = []
    for previous, token in zip([None] + tokens[:-1], tokens):
        if previous is not None and _PUNCTUATION.search(text[previous.end : token.start]):
            words.append(",")
        words.append(token.text.lower())
    return words


def _starts_at(words: List[Text], i: int, cue: tuple) -> bool:
    return tuple(words[i : i + len(cue)]) == cue


def left_value_positions(words: List[Text]) -> set:
    """Indexes (into ``words``) of the words that name a value being left."""
    left: set = set()
    stops = _STOP_WORDS | {","}
    for i, word in enumerate(words):
        if word in _FROM:
            span = []
            for j in range(i + 1, min(len(words), i + 1 + _WINDOW + 1)):
                if words[j] in _TO:
                    left.update(span)
                    break
                if words[j] in stops:
                    break
                span.append(j)
        for cue in _BEFORE_LEFT:
            if _starts_at(words, i, cue):
                start = i + len(cue)
                for j in range(start, min(len(words), start + _WINDOW)):
                    if words[j] in stops:
                        break
                    left.add(j)
        for cue in _AFTER_LEFT:
            if _starts_at(words, i, cue):
                for j in range(i - 1, max(-1, i - 1 - _WINDOW), -1):
                    if words[j] in stops:
                        break
                    left.add(j)
    return left


def is_number(word: Text) -> bool:
    return parse_quantity(word) is not None


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class ItalianTokenHints(ProjectComponent):
    """Flags number tokens and left-value tokens for the CRF entity tagger."""

    def _annotate(self, message: Message) -> None:
        tokens: Optional[List[Token]] = message.get(TOKENS_NAMES[TEXT])
        if not tokens:
            return
        words = _words(message.get(TEXT), tokens)
        left = left_value_positions(words)
        word_indexes = [i for i, word in enumerate(words) if word != ","]
        for token, index in zip(tokens, word_indexes):
            patterns = token.get(PATTERN, default={})
            patterns[NUMBER] = is_number(words[index])
            patterns[LEFT_VALUE] = index in left
            token.set(PATTERN, patterns)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for message in training_data.training_examples:
            self._annotate(message)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._annotate(message)
        return messages
