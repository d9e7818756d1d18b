"""The one catalogue of Italian text the user reads (outside domain.yml responses).

Texts live in YAML files under ``locale/it/`` (one file per area, all one catalogue);
``text(key, **values)`` formats a template with ``str.format``.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

CATALOGUE_DIR = Path(__file__).parent / "locale" / "it"


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted(CATALOGUE_DIR.glob("*.yml")):
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, template in entries.items():
            if key in merged:
                raise ValueError(f"chiave di messaggio duplicata {key!r} in {path.name}")
            merged[key] = template
    return merged


def text(key: str, **values: object) -> str:
    """The Italian message ``key`` with ``values`` filled in."""
    return _catalogue()[key].format(**values).strip()


def has_text(key: str) -> bool:
    return key in _catalogue()
