"""Where things live: database URL and the var/ folder (env-configurable)."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    path = Path(os.environ.get("BILLING_VAR_DIR") or PROJECT_ROOT / "var")
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url() -> str:
    return os.environ.get("BILLING_DATABASE_URL") or f"sqlite:///{var_dir() / 'billing.db'}"
