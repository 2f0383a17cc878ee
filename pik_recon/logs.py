"""Logging for people (text) and for cron and log shippers (one JSON object per line)."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

from pik_recon.config import Secret

LOGGER_NAME = "pik_recon"
# The account whose work is logged, when a command works for several at once: text logs
# show it as "[name] ", JSON logs as the field "account".
ACCOUNT: ContextVar[str | None] = ContextVar("pik_recon_account", default=None)


class _Redact(logging.Filter):
    """Last line of defence: replace any secret that reached a log record."""

    def __init__(self, secrets: list[Secret]) -> None:
        super().__init__()
        self._values = [s.reveal() for s in secrets if s.reveal()]

    def filter(self, record: logging.LogRecord) -> bool:
        if self._values:
            message = record.getMessage()
            for value in self._values:
                message = message.replace(value, "********")
            record.msg, record.args = message, None
        return True


class _Account(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        account = ACCOUNT.get()
        if account is not None:
            record.account = account
        return True


class TextFormatter(logging.Formatter):
    """Time, level, the account in brackets when there is one, the message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(where)s%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        account = getattr(record, "account", None)
        record.where = f"[{account}] " if account else ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra` fields."""

    _STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._STANDARD:
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def setup_logging(*, fmt: str = "text", verbose: bool = False,
                  secrets: list[Secret] | None = None) -> None:
    """Route logs to stderr in the chosen format: pik-recon's from INFO (DEBUG with -v), the
    libraries' warnings too, so that under --log-format json every line is one object."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    handler.addFilter(_Redact(secrets or []))
    handler.addFilter(_Account())
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.captureWarnings(True)
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = True


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}")
