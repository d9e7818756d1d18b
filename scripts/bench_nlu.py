#!/usr/bin/env python
"""NLU speed of the trained model: load time and parse latency per message.

Usage:  .venv/bin/python scripts/bench_nlu.py [--model models/X.tar.gz] [--rounds 3]

Loads the newest models/*.tar.gz (what `make run` serves), parses every sentence of
tests/nlu/heldout.yml `--rounds` times, one message at a time as the Rasa server does,
and prints load time, p50/p95/max latency and messages per second (one process).
The first pass is reported apart: it includes the one-off warm-up of TensorFlow graphs.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # custom NLU components


def newest_model() -> Path:
    models = sorted((REPO / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        sys.exit("no trained model in models/: run `make train` first")
    return models[-1]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def parse_all(agent, texts: list[str]) -> list[float]:
    latencies = []
    for text in texts:
        started = time.perf_counter()
        await agent.parse_message(text)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    from rasa.core.agent import Agent
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # Rasa logs every parse at debug level otherwise

    model = args.model or newest_model()
    texts = [m.get("text") for m in load_data(str(REPO / "tests" / "nlu" / "heldout.yml")).intent_examples]
    started = time.perf_counter()
    agent = Agent.load(str(model))
    load_seconds = time.perf_counter() - started

    first = asyncio.run(parse_all(agent, texts))
    steady: list[float] = []
    for _ in range(args.rounds):
        steady += asyncio.run(parse_all(agent, texts))

    print(f"NLU bench, model {model.name}")
    print(f"model load                 {load_seconds:.1f} s")
    print(f"first pass ({len(texts)} messages)  p50 {statistics.median(first):.1f} ms, "
          f"max {max(first):.0f} ms (includes warm-up)")
    print(f"steady ({len(steady)} parses)       p50 {statistics.median(steady):.1f} ms, "
          f"p95 {percentile(steady, 0.95):.1f} ms, max {max(steady):.1f} ms, "
          f"{1000 * len(steady) / sum(steady):.0f} messages/s in one process")
    return 0


if __name__ == "__main__":
    sys.exit(main())
