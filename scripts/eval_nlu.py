#!/usr/bin/env python
"""5-fold cross-validation of the NLU pipeline (config.yml) on the project's NLU data.

Usage:  .venv/bin/python scripts/eval_nlu.py [--config config.yml] [--folds 5] [--out results/nlu]
                                            [--heldout-only [--model models/x.tar.gz]]

Runs `rasa test nlu --cross-validation` as a subprocess on `data/` (every NLU file
in it: data/nlu/*.yml, data/faq_responses.yml for the response selector, and the
other teams' NLU files such as data/cart_nlu.yml, i.e. exactly what `rasa train` uses),
then prints:
  - intent accuracy and intent macro F1 (sklearn classification report over the
    pooled out-of-fold predictions, `faq/*` counted as the single intent `faq`),
  - FAQ response selection accuracy,
  - entity F1: micro average over entity types, token level, per extractor
    (macro average printed too),
  - how many predictions the FallbackClassifier turned into nlu_fallback, and the
    accuracy/coverage of the remaining predictions above higher thresholds,
  - intent accuracy and entity F1 (exact spans) of a model trained on all the data, on
    the independent held-out set tests/nlu/heldout.yml (written without seeing data/;
    sentences that also occur in the training data are left out).
Rasa writes the intent confusion matrix to <out>/intent_confusion_matrix.png and the
confidence histogram to <out>/intent_histogram.png.
Exit status: non-zero if rasa fails or its reports are missing.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _load(path: Path):
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config.yml")
    parser.add_argument("--data", default="data")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--out", default="results/nlu")
    parser.add_argument("--heldout", default="tests/nlu/heldout.yml")
    parser.add_argument("--heldout-only", action="store_true", help="skip the cross-validation")
    parser.add_argument("--model", help="score the held-out set with this trained model instead of training one")
    args = parser.parse_args(argv)

    out = (REPO / args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if args.heldout_only:
        return _held_out(args, out)
    rasa = Path(sys.executable).with_name("rasa")
    cmd = [
        str(rasa) if rasa.exists() else "rasa",
        "test", "nlu",
        "--cross-validation", "--folds", str(args.folds),
        "--config", args.config,
        "--nlu", args.data,
        "--out", str(out),
        "--successes",
    ]
    print("$", " ".join(cmd), flush=True)
    started = time.monotonic()
    log_path = out / "cross_validation.log"
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.run(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        print(f"rasa test nlu failed (exit {proc.returncode}); see {log_path}", file=sys.stderr)
        return proc.returncode or 1

    intent_report = out / "intent_report.json"
    if not intent_report.exists():
        print(f"missing {intent_report}; see {log_path}", file=sys.stderr)
        return 1
    report = _load(intent_report)
    print(f"\n5-fold CV of {args.config} ({elapsed / 60:.1f} min, {args.folds} trainings)")
    print(f"intent accuracy        {report['accuracy']:.3f}")
    print(f"intent macro F1        {report['macro avg']['f1-score']:.3f}")
    print(f"intent weighted F1     {report['weighted avg']['f1-score']:.3f}")

    rs_report = out / "response_selection_report.json"
    if rs_report.exists():
        rs = _load(rs_report)
        print(f"FAQ response accuracy  {rs.get('accuracy', float('nan')):.3f}")

    entity_reports = sorted(
        p for p in out.glob("*_report.json")
        if p.name not in {"intent_report.json", "response_selection_report.json"}
    )
    if not entity_reports:
        print("no entity report found", file=sys.stderr)
        return 1
    for path in entity_reports:
        rep = _load(path)
        extractor = path.name[: -len("_report.json")]
        micro = rep.get("micro avg", {}).get("f1-score", float("nan"))
        macro = rep.get("macro avg", {}).get("f1-score", float("nan"))
        print(f"entity F1 ({extractor}): micro {micro:.3f}, macro {macro:.3f}")
        for name, vals in sorted(rep.items()):
            if isinstance(vals, dict) and name not in {"micro avg", "macro avg", "weighted avg"}:
                print(f"    {name:<16} f1 {vals.get('f1-score', 0):.3f}  support {vals.get('support', 0)}")

    # worst intents
    per_intent = [
        (name, vals["f1-score"], vals["support"])
        for name, vals in report.items()
        if isinstance(vals, dict) and "f1-score" in vals and name not in {"macro avg", "weighted avg", "micro avg"}
    ]
    print("lowest intent F1:", ", ".join(f"{n} {f:.2f}" for n, f, _ in sorted(per_intent, key=lambda x: x[1])[:8]))

    predictions = []
    for name in ("intent_errors.json", "intent_successes.json"):
        path = out / name
        if path.exists():
            predictions += _load(path)
    if predictions:
        total = len(predictions)
        fallback = sum(1 for p in predictions if p["intent_prediction"]["name"] == "nlu_fallback")
        print(f"nlu_fallback on {fallback}/{total} in-domain test sentences ({fallback / total:.1%})")
        for threshold in (0.5, 0.6, 0.7, 0.8, 0.9):
            kept = [
                p for p in predictions
                if p["intent_prediction"]["name"] != "nlu_fallback"
                and p["intent_prediction"]["confidence"] >= threshold
            ]
            if kept:
                acc = sum(p["intent"] == p["intent_prediction"]["name"] for p in kept) / len(kept)
                print(f"  confidence >= {threshold:.1f}: coverage {len(kept) / total:.1%}, accuracy {acc:.3f}")
    if args.heldout:
        status = _held_out(args, out)
        if status:
            return status
    print(f"\nconfusion matrix: {out / 'intent_confusion_matrix.png'}")
    print(f"confidence histogram: {out / 'intent_histogram.png'}")
    print(f"full log: {log_path}")
    return 0


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def _held_out(args, out: Path) -> int:
    """Train on all the data once and score the unseen sentences of the held-out file."""
    import asyncio

    from rasa.core.agent import Agent
    from rasa.shared.importers.importer import TrainingDataImporter
    from rasa.shared.nlu.training_data.loading import load_data

    if args.model:
        model, trained_in = Path(args.model).resolve(), f"model {args.model}"
    else:
        rasa = Path(sys.executable).with_name("rasa")
        model_dir = out / "heldout-model"
        cmd = [str(rasa) if rasa.exists() else "rasa", "train", "nlu", "--config", args.config,
               "--nlu", args.data, "--out", str(model_dir), "--fixed-model-name", "all-data"]
        started = time.monotonic()
        with (out / "heldout_training.log").open("w", encoding="utf-8") as log:
            if subprocess.run(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT).returncode:
                print(f"training on all data failed; see {out / 'heldout_training.log'}", file=sys.stderr)
                return 1
        model = model_dir / "all-data.tar.gz"
        trained_in = f"model trained on all data in {(time.monotonic() - started) / 60:.1f} min"
    sys.path.insert(0, str(REPO))  # custom components
    agent = Agent.load(str(model))
    nlu = TrainingDataImporter.load_from_dict(
        domain_path=str(REPO / "domain.yml"), training_data_paths=[str(REPO / args.data)]
    ).get_nlu_data()
    training = {_key(m.get("text")) for m in nlu.training_examples if m.get("text")}
    examples = [m for m in load_data(str(REPO / args.heldout)).intent_examples
                if _key(m.get("text")) not in training]
    intent_ok = true_pos = predicted = expected = 0
    for example in examples:
        result = asyncio.run(agent.parse_message(example.get("text")))
        intent_ok += result["intent"]["name"] == example.get("intent")
        gold = {(e["start"], e["end"], e["entity"]) for e in example.get("entities") or []}
        got = {(e["start"], e["end"], e["entity"]) for e in result.get("entities", [])}
        true_pos, predicted, expected = true_pos + len(gold & got), predicted + len(got), expected + len(gold)
    print(f"\nindependent held-out set {args.heldout}: {len(examples)} unseen sentences "
          f"({trained_in})")
    print(f"intent accuracy        {intent_ok / len(examples):.3f}")
    print(f"entity F1 (spans)      {2 * true_pos / max(1, predicted + expected):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
