"""Throughput of the billing engine: quotes and orders, on SQLite and on a throw-away PostgreSQL.

    .venv/bin/python scripts/bench.py [--seconds 4] [--clients 8] [--only sqlite|postgresql]

Prints numbers, not a pass/fail verdict. Every order adds one Large Meeting 500 add-on to a
Business monthly account (10 licenses, period 1 Nov - 1 Dec 2026) on a fixed day (26 Nov 2026),
so it always issues an invoice and charges the simulated card. Two modes:

* "full":  order + invoice PDF (fpdf) + confirmation e-mail built and handed to a RecordingMailer
           (kept in memory, never sent): what a chat order costs end to end;
* "order": the database transaction only (quote, invoice, simulated charge, subscription write,
           commit): the confirmation step is skipped.

Concurrent clients are separate OS processes (multiprocessing "spawn"), each with its own engine,
released together by a barrier; "own account" gives each client its own account, "one account"
makes all of them order on the same account (they queue on its lock). Runs are time-bounded.
PostgreSQL is started with scripts/pg_test_server.sh in a temp folder on a free port and always
stopped at the end (also on error or Ctrl-C); the SQLite database is a temp file.
"""
from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from billing_core.domain.model import AddonPurchase, ChangeSet  # noqa: E402

PERIOD_START = dt.date(2026, 11, 1)
ORDER = ChangeSet(add_addons=(AddonPurchase("large_meeting_500"),))
QUOTE = ChangeSet(licenses=12)
PG_SCRIPT = ROOT / "scripts" / "pg_test_server.sh"


def owner(account_id: str) -> str:
    return f"owner@{account_id}.example"


# --- a service like production's, with fakes for the outside world ---------------------------------

def make_service(url: str, mode: str = "full"):
    from billing_core.adapters.mailer import RecordingMailer
    from billing_core.adapters.notifier import RecordingNotifier
    from billing_core.adapters.payment import SimulatedCardGateway
    from billing_core.clock import ROME
    from billing_core.domain.catalog import load_catalog
    from billing_core.service.bootstrap import bootstrap

    service = bootstrap(url, catalog=load_catalog(), gateway=SimulatedCardGateway(), mailer=RecordingMailer(),
                        notifier=RecordingNotifier())
    fixed = dt.datetime(2026, 11, 26, 10, 0, tzinfo=ROME)
    service.now = lambda: fixed
    if mode == "order":
        service._send_confirmation = lambda document, recipient: None
    return service


class DiscardingMailer:
    """Counts messages and drops them (RecordingMailer would keep every PDF in memory)."""

    def __init__(self) -> None:
        self.count = 0

    def send(self, message) -> None:
        self.count += 1


def place_orders(service, account_id: str, tag: str, deadline: float) -> tuple[list[float], int, float, float]:
    """Orders until ``deadline`` (time.monotonic); latencies in seconds, errors, first start, last end."""
    latencies, errors, n = [], 0, 0
    start = time.monotonic()
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        try:
            service.place_order(account_id, ORDER, by=owner(account_id), idempotency_key=f"{tag}-{n}",
                                channel="bench")
        except Exception as error:  # counted, the run goes on
            errors += 1
            if errors == 1:
                print(f"  [{tag}] order failed: {error!r}", file=sys.stderr)
        else:
            latencies.append(time.perf_counter() - t0)
        n += 1
    return latencies, errors, start, time.monotonic()


def worker(url: str, index: int, warm_account: str, barrier, tasks, results) -> None:
    """A client process: builds its own service, then runs the tasks it is sent until None."""
    try:
        services = {mode: make_service(url, mode) for mode in ("full", "order")}
        for mode, service in services.items():
            service.mailer = DiscardingMailer()
            for n in range(3):  # warm up on this client's own account: queries compiled, fonts loaded
                service.place_order(warm_account, ORDER, by=owner(warm_account),
                                    idempotency_key=f"warm-{mode}-{n}")
        results.put(("ready", index))
        while True:
            task = tasks.get()
            if task is None:
                return
            mode, account_id, seconds, tag = task
            service = services[mode]
            service.account_summary(account_id)  # warm: connection open, caches filled
            barrier.wait(timeout=120)
            latencies, errors, start, end = place_orders(service, account_id, f"{tag}-w{index}",
                                                         time.monotonic() + seconds)
            results.put(("done", index, latencies, errors, start, end))
    except Exception:
        results.put(("crash", index, traceback.format_exc()))
        barrier.abort()


# --- measuring ---------------------------------------------------------------------------------------

def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def row(backend: str, scenario: str, pdf: str, clients: int, latencies: list[float], errors: int,
        elapsed: float) -> dict:
    return {"backend": backend, "scenario": scenario, "pdf": pdf, "clients": clients, "n": len(latencies),
            "rate": len(latencies) / elapsed if elapsed > 0 else 0.0,
            "p50": percentile(latencies, 0.50) * 1000, "p95": percentile(latencies, 0.95) * 1000,
            "errors": errors}


def bench_quotes(url: str, backend: str, account_id: str, seconds: float) -> dict:
    service = make_service(url)
    for _ in range(20):  # warm up
        service.quote(account_id, QUOTE, owner(account_id))
    latencies = []
    start = time.monotonic()
    deadline = start + seconds
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        service.quote(account_id, QUOTE, owner(account_id))
        latencies.append(time.perf_counter() - t0)
    return row(backend, "quote", "-", 1, latencies, 0, time.monotonic() - start) | {"unit": "quotes/s"}


def bench_one_client(url: str, backend: str, account_id: str, mode: str, seconds: float) -> dict:
    service = make_service(url, mode)
    service.mailer = DiscardingMailer()
    place_orders(service, account_id, f"warm-{mode}", time.monotonic() + 0.5)
    latencies, errors, start, end = place_orders(service, account_id, f"one-{mode}", time.monotonic() + seconds)
    pdf = "included" if mode == "full" else "excluded"
    return row(backend, "order, 1 client", pdf, 1, latencies, errors, end - start)


class Clients:
    """N persistent spawned client processes (started once per backend: spawning costs ~1 s each)."""

    def __init__(self, url: str, count: int, warm_accounts: list[str]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.count = count
        self.barrier = ctx.Barrier(count)
        self.results = ctx.Queue()
        self.tasks = [ctx.Queue() for _ in range(count)]
        self.processes = [
            ctx.Process(target=worker, args=(url, i, warm_accounts[i], self.barrier, self.tasks[i], self.results),
                        daemon=True)
            for i in range(count)]
        for process in self.processes:
            process.start()
        for _ in range(count):
            self._get("ready")

    def _get(self, kind: str, timeout: float = 120):
        message = self.results.get(timeout=timeout)
        if message[0] == "crash":
            raise RuntimeError(f"client {message[1]} failed:\n{message[2]}")
        if message[0] != kind:
            raise RuntimeError(f"unexpected message from a client: {message!r}")
        return message

    def run(self, backend: str, scenario: str, mode: str, accounts: list[str], seconds: float, tag: str) -> dict:
        for i, queue in enumerate(self.tasks):
            queue.put((mode, accounts[i % len(accounts)], seconds, tag))
        done = [self._get("done") for _ in range(self.count)]
        latencies = [value for message in done for value in message[2]]
        errors = sum(message[3] for message in done)
        elapsed = max(message[5] for message in done) - min(message[4] for message in done)
        pdf = "included" if mode == "full" else "excluded"
        return row(backend, scenario, pdf, self.count, latencies, errors, elapsed)

    def close(self) -> None:
        for queue in self.tasks:
            try:
                queue.put(None)
            except (OSError, ValueError):
                pass
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)


def seed(url: str, accounts: list[str]) -> None:
    from billing_core.adapters.migrations import upgrade

    upgrade(url)
    service = make_service(url)
    for account_id in accounts:
        service.create_account(account_id, name=account_id.upper(), plan="business", cycle="monthly", licenses=10,
                               period_start=PERIOD_START, owner=owner(account_id))


def bench_backend(url: str, backend: str, args) -> list[dict]:
    own = [f"own{i}" for i in range(args.clients)]
    accounts = ["quotes", "solo-full", "solo-order", "shared-full", "shared-order"] + own
    seed(url, accounts)
    rows = [bench_quotes(url, backend, "quotes", args.seconds)]
    print(f"  {backend}: quotes done", file=sys.stderr)
    rows.append(bench_one_client(url, backend, "solo-full", "full", args.seconds))
    rows.append(bench_one_client(url, backend, "solo-order", "order", args.seconds))
    print(f"  {backend}: single client done; starting {args.clients} client processes", file=sys.stderr)
    clients = Clients(url, args.clients, own)
    try:
        n = args.clients
        rows.append(clients.run(backend, f"order, {n} clients, own account", "order", own, args.seconds, "own-o"))
        rows.append(clients.run(backend, f"order, {n} clients, ONE account", "order", ["shared-order"],
                                args.seconds, "one-o"))
        if not args.skip_full_concurrent:
            rows.append(clients.run(backend, f"order, {n} clients, own account", "full", own, args.seconds, "own-f"))
            rows.append(clients.run(backend, f"order, {n} clients, ONE account", "full", ["shared-full"],
                                    args.seconds, "one-f"))
    finally:
        clients.close()
    print(f"  {backend}: concurrent runs done", file=sys.stderr)
    return rows


# --- databases ---------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    def __init__(self) -> None:
        self.parent = Path(tempfile.mkdtemp(prefix="billing-bench-"))
        os.chmod(self.parent, 0o755)  # the server runs as user postgres when we are root
        self.dir = self.parent / "pg"
        self.started = False

    def start(self) -> str:
        self.started = True  # a half-started server is stopped too
        out = subprocess.run(["bash", str(PG_SCRIPT), "start", str(self.dir), str(free_port())],
                             check=True, capture_output=True, text=True, timeout=300)
        return out.stdout.strip().splitlines()[-1]

    def stop(self) -> None:
        if self.started:
            subprocess.run(["bash", str(PG_SCRIPT), "stop", str(self.dir)], capture_output=True, timeout=120)
        shutil.rmtree(self.parent, ignore_errors=True)


def server_version(url: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, future=True)
    with engine.connect() as conn:
        version = conn.execute(text("SHOW server_version")).scalar_one()
    engine.dispose()
    return version


# --- output ------------------------------------------------------------------------------------------

def print_table(rows: list[dict]) -> None:
    header = f"{'backend':<11}{'scenario':<34}{'PDF+mail':<10}{'n':>6}{'per s':>9}{'p50 ms':>9}{'p95 ms':>9}{'err':>5}"
    print(header)
    print("-" * len(header))
    for r in rows:
        unit = " q" if r.get("unit") == "quotes/s" else ""
        print(f"{r['backend']:<11}{r['scenario']:<34}{r['pdf']:<10}{r['n']:>6}{r['rate']:>7.1f}{unit:<2}"
              f"{r['p50']:>9.1f}{r['p95']:>9.1f}{r['errors']:>5}")
    print("per s: orders/s (or quotes/s, marked q) over the run's wall time; latency per call in ms.")
    print("PDF+mail: 'included' = order + invoice PDF + confirmation e-mail built and handed to a mailer that")
    print("discards it; 'excluded' = the database transaction and simulated card charge only.")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each timed run (default 4)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client processes (default 8)")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), help="one backend only")
    parser.add_argument("--skip-full-concurrent", action="store_true",
                        help="no concurrent runs with PDF+mail (they are CPU-bound on fpdf)")
    args = parser.parse_args(argv)

    # SIGTERM (a CI timeout, kill) unwinds like Ctrl-C, so the PostgreSQL server is always stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    began = time.monotonic()
    print(f"billing_core bench, {dt.datetime.now().isoformat(timespec='seconds')}, "
          f"{platform.node()}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"{args.seconds:g} s per run", flush=True)
    rows: list[dict] = []
    if args.only in (None, "sqlite"):
        folder = Path(tempfile.mkdtemp(prefix="billing-bench-sqlite-"))
        try:
            import sqlite3

            print(f"SQLite {sqlite3.sqlite_version} (temp file, WAL, BEGIN IMMEDIATE)", flush=True)
            rows += bench_backend(f"sqlite:///{folder / 'bench.db'}", "sqlite", args)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    if args.only in (None, "postgresql"):
        server = PostgresServer()
        try:
            url = server.start()
            print(f"PostgreSQL {server_version(url)} (throw-away, fsync=off, loopback)", flush=True)
            rows += bench_backend(url, "postgresql", args)
        finally:
            server.stop()
    print()
    print_table(rows)
    print(f"\ntotal {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
