"""`make run` / `make shell`: action server, Rasa and the demo page on 127.0.0.1; Ctrl-C stops all.

With --shell, a terminal chat as the demo owner of the Pro account replaces the web page.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
RASA_PORT, ACTIONS_PORT, WEB_PORT = 5005, 5055, int(os.environ.get("WEB_PORT", "8080"))
DEMO_USERS = {
    "mario.rossi@studiorossi.it": "proprietario, Pro mensile",
    "anna.bianchi@acme.it": "proprietaria, Business annuale con add-on",
    "giulia.verdi@studiorossi.it": "membro (può chiedere, non acquistare)",
    "paolo.ferri@ferrilogistica.it": "fattura scaduta",
    "laura.verdi@verdidesign.it": "riduzione di licenze in sospeso",
    "davide.fontana@globex.it": "gestito dal commerciale (Enterprise)",
}
SHELL_USER = "mario.rossi@studiorossi.it"


def endpoints_file() -> Path:
    """endpoints.yml, or a copy pointing at the stores named in the environment."""
    tracker_url, lock_url = os.environ.get("RASA_TRACKER_STORE_URL"), os.environ.get("RASA_LOCK_STORE_URL")
    if not tracker_url and not lock_url:
        return ROOT / "endpoints.yml"
    lines = [f'action_endpoint:\n  url: "http://127.0.0.1:{ACTIONS_PORT}/webhook"']
    if tracker_url:
        url = make_url(tracker_url)
        fields = {"type": "SQL", "dialect": url.get_backend_name(), "url": url.host, "port": url.port,
                  "db": url.database, "username": url.username, "password": url.password}
        lines.append("tracker_store:\n" + "".join(f"  {k}: {json.dumps(v)}\n" for k, v in fields.items() if v))
    if lock_url:
        url = make_url(lock_url)
        fields = {"type": "redis", "url": url.host, "port": url.port or 6379, "password": url.password,
                  "db": int(url.database or 0)}
        lines.append("lock_store:\n" + "".join(f"  {k}: {json.dumps(v)}\n" for k, v in fields.items() if v is not None))
    target = ROOT / "var" / "endpoints.yml"
    target.write_text("\n".join(lines), encoding="utf-8")
    return target


def token_for(email: str) -> str:
    out = subprocess.run([str(BIN / "billing"), "token", email, "--json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["token"]


def wait_for(url: str, seconds: int, processes: list[subprocess.Popen]) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if any(p.poll() is not None for p in processes):
            raise SystemExit("Un servizio si è fermato durante l'avvio: guarda i messaggi qui sopra.")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(1)
    raise SystemExit(f"{url} non risponde dopo {seconds} s.")


def chat_in_terminal() -> None:
    token = token_for(SHELL_USER)
    sender = f"shell-{os.getpid()}"
    print(f"\nChat come {SHELL_USER} (Studio Rossi, Pro mensile). Scrivi «esci» per terminare.")
    buttons: list[dict] = []
    while True:
        try:
            message = input("\nTu: ").strip()
        except (EOFError, KeyboardInterrupt):
            return
        if message.lower() in ("esci", "/stop", "exit"):
            return
        if message.isdigit() and buttons and 1 <= int(message) <= len(buttons):
            message = buttons[int(message) - 1]["payload"]
        body = json.dumps({"sender": sender, "message": message, "metadata": {"auth_token": token}}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{RASA_PORT}/webhooks/rest/webhook", data=body,
                                         headers={"Content-Type": "application/json"})
        replies = json.load(urllib.request.urlopen(request, timeout=60))
        buttons = []
        for reply in replies:
            if reply.get("text"):
                print(f"Assistente: {reply['text']}")
            for button in reply.get("buttons") or []:
                buttons.append(button)
                print(f"  [{len(buttons)}] {button['title']}")


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM (e.g. from a supervisor) stops the children like Ctrl-C does


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)
    parser = argparse.ArgumentParser()
    parser.add_argument("--shell", action="store_true")
    args = parser.parse_args()
    os.chdir(ROOT)
    env = dict(os.environ, SANIC_HOST="127.0.0.1", RASA_TELEMETRY_ENABLED="false", PYTHONWARNINGS="ignore")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT} if args.shell else {}
    processes = [
        subprocess.Popen([str(BIN / "rasa"), "run", "actions", "--actions", "actions", "-p", str(ACTIONS_PORT)],
                         env=env, **quiet),
        subprocess.Popen([str(BIN / "rasa"), "run", "-i", "127.0.0.1", "-p", str(RASA_PORT), "-m", "models",
                          "--credentials", "credentials.yml", "--endpoints", str(endpoints_file()),
                          "--cors", f"http://127.0.0.1:{WEB_PORT}"], env=env, **quiet),
    ]
    if not args.shell:
        processes.append(subprocess.Popen([str(BIN / "python"), "scripts/serve_web.py"], env=env))
    try:
        print("Avvio in corso (Rasa carica il modello in circa 30 secondi)...", flush=True)
        wait_for(f"http://127.0.0.1:{RASA_PORT}/", 180, processes)
        if args.shell:
            chat_in_terminal()
            return
        print("\nTutto pronto. Apri la chat demo come uno di questi utenti:")
        for email, role in DEMO_USERS.items():
            print(f"  {role:45} http://127.0.0.1:{WEB_PORT}/?token={token_for(email)}")
        print(f"  senza accesso (solo risposte generali)         http://127.0.0.1:{WEB_PORT}/")
        print(f"\nREST: POST http://127.0.0.1:{RASA_PORT}/webhooks/rest/webhook  —  Ctrl-C per fermare tutto.")
        while all(p.poll() is None for p in processes):
            time.sleep(1)
        print("Un servizio si è fermato: spengo anche gli altri.")
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    sys.exit(main())
