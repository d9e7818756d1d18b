"""ItalianTokenHints: number and left-value flags the CRF reads through its `pattern` feature."""
import pytest
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message

from nlu_components.token_hints import LEFT_VALUE, NUMBER, ItalianTokenHints

TOKENIZER = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())


def flags(text: str) -> dict:
    message = Message(data={"text": text})
    message.set("text_tokens", TOKENIZER.tokenize(message, "text"))
    ItalianTokenHints.create({}, None, None, None).process([message])
    return {
        t.text: {name for name in (NUMBER, LEFT_VALUE) if t.get("pattern")[name]}
        for t in message.get("text_tokens")
    }


@pytest.mark.parametrize("word", ["12", "+3", "-2", "dodici", "venticinque", "una", "dozzina", "paio"])
def test_counts_as_written_are_numbers(word):
    assert NUMBER in flags(f"licenze {word}")[word]


@pytest.mark.parametrize("word", ["licenze", "Business", "trovato", "presto"])
def test_other_words_are_not_numbers(word):
    assert NUMBER not in flags(f"ciao {word}")[word]


@pytest.mark.parametrize(
    "text, left, wanted",
    [
        ("passa dal Pro al Business", "Pro", "Business"),
        ("dall'Enterprise al Business, grazie", "Enterprise", "Business"),
        ("da 20 a 16 licenze", "20", "16"),
        ("voglio pagare al mese invece che annuale", "annuale", "mese"),
        ("attiva il Business al posto del Pro", "Pro", "Business"),
        ("il Business costa troppo, torniamo al Pro", "Business", "Pro"),
        ("il webinar da 500 è poco, voglio quello da 1000", "500", "1000"),
    ],
)
def test_value_being_left_is_flagged_and_the_wanted_one_is_not(text, left, wanted):
    hints = flags(text)
    assert LEFT_VALUE in hints[left]
    assert LEFT_VALUE not in hints[wanted]


def test_capacity_after_da_without_a_target_is_not_left():
    assert LEFT_VALUE not in flags("webinar da 1000")["1000"]


def test_training_data_gets_the_same_flags_as_messages_at_run_time():
    from rasa.shared.nlu.training_data.training_data import TrainingData

    message = Message(data={"text": "da 20 a 16", "intent": "set_licenses"})
    message.set("text_tokens", TOKENIZER.tokenize(message, "text"))
    ItalianTokenHints.create({}, None, None, None).process_training_data(TrainingData([message]))
    assert [t.get("pattern")[LEFT_VALUE] for t in message.get("text_tokens")] == [False, True, False, False]
