"""Webhook tests' plumbing: signed events, and `pik-recon webhooks serve` as a real process."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from tests.conftest import pik_recon_cmd

# Distinctive, so that a grep for one can only find a leak.
SECRET = "whsec_test_OKAPI5t8Wq3Zr7Yp2Lm9"
SECRETS = {"north": "whsec_test_NORTH_Vb6Qe1Xk4Hs", "south": "whsec_test_SOUTH_Jp3Nc8Rw2Td"}
_RUNS = itertools.count()


def sign(body: bytes, secret: str = SECRET) -> str:
    """PIK-Signature: the hex HMAC-SHA256 of the raw body, keyed with the whole secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def event_body(number: int, *, amount: object = "75.10", kind: str = "payment.confirmed",
               prefix: str = "evt") -> bytes:
    """An event as PIK documents it, its id from `number`."""
    return json.dumps({
        "event": kind, "id": f"{prefix}_{number:06d}", "created_at": "2026-12-01T10:00:00Z",
        "data": {"transaction_id": f"txn_{number:06d}", "payment_link_id": f"pl_{number:06d}",
                 "amount": amount, "currency": "USDT", "status": kind.split(".")[1],
                 "confirmed_at": "2026-12-01T10:00:00Z"}}, separators=(",", ":")).encode()


class ReceiverProcess:
    """`pik-recon [ARGS] webhooks serve --port 0`; stdout and stderr into files of `folder`."""

    def __init__(self, env: dict[str, str], cwd: Path, folder: Path, *args: str,
                 port: int = 0) -> None:
        number = next(_RUNS)
        self.out, self.err = folder / f"receiver-{number}.out", folder / f"receiver-{number}.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen([*pik_recon_cmd(), *args, "webhooks", "serve",
                                          "--port", str(port)], env=env, cwd=cwd, stdout=out,
                                         stderr=err)
        self.port = self._port()

    def _port(self) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = re.findall(r"PIK webhook receiver on http://127\.0\.0\.1:(\d+)",
                               self.out.read_text())
            if found:
                return int(found[0])
            if self.proc.poll() is not None:
                raise AssertionError(f"the receiver exited {self.proc.returncode}: "
                                     f"{self.err.read_text()}")
            time.sleep(0.05)
        raise AssertionError("the receiver did not announce its port")

    def url(self, account: str | None = None) -> str:
        base = f"http://127.0.0.1:{self.port}/webhooks"
        return base if account is None else f"{base}/{account}"

    def stop(self) -> int:
        """SIGTERM, as systemd stops it; its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=60)

    def __enter__(self) -> ReceiverProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.kill()


def file_text(path: Path) -> str:
    """What a file holds, readable: a workbook's XML, Parquet rows (read by pyarrow), a
    warehouse's rows and bytes, else its bytes as text."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as book:
            return " ".join(book.read(n).decode("utf-8", "replace") for n in book.namelist())
    if path.suffix == ".parquet":
        return repr(pq.read_table(path).to_pylist()) + path.read_bytes().decode("latin-1")
    if path.suffix == ".duckdb":
        con = duckdb.connect(str(path), read_only=True)
        try:
            tables = [row[0] for row in con.execute("SHOW TABLES").fetchall()]
            return repr([con.execute(f'SELECT * FROM "{t}"').fetchall() for t in tables]) + (
                path.read_bytes().decode("latin-1"))
        finally:
            con.close()
    return path.read_bytes().decode("utf-8", "replace")
