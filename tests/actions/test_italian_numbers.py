"""parse_quantity: the `quantity` entity as written -> int."""
import pytest

from actions.italian_numbers import parse_quantity


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2", 2),
        ("12", 12),
        ("+3", 3),
        ("-2", 2),
        ("due", 2),
        ("Due", 2),
        ("tre", 3),
        ("dodici", 12),
        ("quindici", 15),
        ("venticinque", 25),
        ("ventuno", 21),
        ("trentatré", 33),
        ("cento", 100),
        ("milleduecento", 1200),
        ("1.200", 1200),
        ("una", 1),
        ("un", 1),
        ("uno", 1),
        ("una dozzina", 12),
        ("dozzina", 12),
        ("due dozzine", 24),
        ("mezza dozzina", 6),
        ("un paio", 2),
        ("una decina", 10),
        ("una ventina", 20),
        ("tutte e due", 2),
        ("ne voglio 15", 15),
        ("dodici in totale", 12),
        ("altre tre licenze", 3),
        ("un paio di licenze", 2),
    ],
)
def test_parses_numbers(text, expected):
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("text", [None, "", "   ", "niente", "licenze", "annuale", "2,5"])
def test_no_number_gives_none(text):
    assert parse_quantity(text) is None


def test_returns_int():
    assert type(parse_quantity("dodici")) is int
