#!/usr/bin/env bash
# The whole suite: unit and service tests on SQLite and a throw-away PostgreSQL, then the
# assistant (training, data validation, test stories, trained-model NLU checks).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
work=$(mktemp -d)
port=$(( 54000 + RANDOM % 900 ))
cleanup() { scripts/pg_test_server.sh stop "$work/pg" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

echo "== PostgreSQL (throw-away, 127.0.0.1:$port)"
BILLING_TEST_POSTGRES_URL=$(scripts/pg_test_server.sh start "$work/pg" "$port")
export BILLING_TEST_POSTGRES_URL BILLING_TEST_REQUIRE_POSTGRES=1
export BILLING_VAR_DIR="$work/var" BILLING_AUTH_SECRET=test-secret-not-for-production-0123456789

echo "== Engine, adapters, channels and actions (pytest)"
$BIN/python -m pytest -q -p no:cacheprovider --ignore=tests/nlu tests

if [ -f domain.yml ]; then
  echo "== Training the assistant"
  make --no-print-directory train
  echo "== rasa data validate"
  $BIN/rasa data validate --fail-on-warnings
  echo "== Test stories (every flow, predicted end to end)"
  $BIN/rasa test core --model models --stories tests/test_stories.yml --fail-on-prediction-errors \
    --out "$work/story-results" --no-plot
  echo "== Trained NLU model"
  $BIN/python -m pytest -q -p no:cacheprovider tests/nlu
fi
