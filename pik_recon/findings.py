"""`pik-recon findings`: the last reconciliation's findings, and finance closing them.

A finding is known across runs by its key (account, category, order and link,
`finding_key`). An
acknowledgement records who said what, when, about the finding as it then was (its
`state_digest`: amounts, currencies, statuses, links); it holds in later runs while the
finding recurs unchanged, and lapses by itself when what the finding says changes.
`reopen` withdraws it. Every acknowledgement stays in `finding_acks`, re-runs or not.
"""

from __future__ import annotations

import csv
import getpass
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pik_recon.categories import CATEGORIES, SEVERITIES, finding_state
from pik_recon.errors import InputError, UsageError
from pik_recon.warehouse import Warehouse, listed, query


@dataclass(frozen=True)
class Finding:
    account: str
    key: str
    category: str
    severity: str
    order_id: str | None
    link_id: str | None
    order_amount: Decimal | None
    order_currency: str | None
    link_amount: Decimal | None
    link_currency: str | None
    difference: Decimal | None
    age_days: int | None
    digest: str
    acknowledged: bool
    note: str | None
    by: str | None
    at: datetime | None
    outdated: bool
    description: str | None  # the link's; of a rejected row, its file, line and reason
    received_amount: Decimal | None = None  # a link's money received (in link_currency)
    transaction_ids: str | None = None  # the transactions a finding about money is about

    @property
    def state(self) -> str:
        return finding_state(self.acknowledged, self.outdated)


def default_user() -> str:
    """Who acknowledges when --by is not given: the login name."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "unknown")


def last_run_ids(warehouse: Warehouse, accounts: Sequence[str]) -> list[int]:
    """The last finished reconciliation run of each account that has one."""
    rows = warehouse.fetchall("SELECT max(id) FROM reconcile_runs WHERE state = 'finished' "
                              "AND list_contains(?, account) GROUP BY account ORDER BY 1",
                              [list(accounts)])
    if not rows:
        raise UsageError("no reconciliation has run yet; run `pik-recon reconcile` first")
    return [int(r[0]) for r in rows]


def findings_of(warehouse: Warehouse, accounts: Sequence[str], run_id: int | None = None
                ) -> tuple[list[int], list[Finding]]:
    """Every finding of the accounts' last runs (or of run `run_id`), open first."""
    if run_id is None:
        runs = last_run_ids(warehouse, accounts)
    elif warehouse.fetchone("SELECT 1 FROM reconcile_runs WHERE id = ? AND state = "
                            "'finished' AND list_contains(?, account)",
                            [run_id, list(accounts)]) is None:
        raise UsageError(f"--run {run_id}: no finished reconciliation run of "
                         f"{_accounts_named(accounts)} has that number")
    else:
        runs = [run_id]
    warehouse.execute(query("latest_acks"))
    rows = warehouse.fetchall(query("finding_states"),
                              {"run_ids": runs, "severities": list(SEVERITIES),
                               "categories": [c for c, _ in CATEGORIES]})
    return runs, [Finding(*row) for row in rows]


def _accounts_named(accounts: Sequence[str]) -> str:
    return ("account " if len(accounts) == 1 else "accounts ") + ", ".join(accounts)


def runs_named(runs: Sequence[int]) -> str:
    return ("reconciliation run " if len(runs) == 1 else "reconciliation runs ") + ", ".join(
        str(r) for r in runs)


def select(findings: list[Finding], *, state: str | None = None, category: str | None = None,
           severity: str | None = None) -> list[Finding]:
    return [f for f in findings
            if (state is None or (state == "acknowledged") == f.acknowledged)
            and (category is None or f.category == category)
            and (severity is None or f.severity == severity)]


def _by_key(findings: list[Finding], keys: list[str], where: list[str] | None,
            runs: Sequence[int], undone: str = "acknowledged") -> list[Finding]:
    """The findings the keys name; every unknown key is named (with where it came from),
    and nothing is `undone`."""
    known = {f.key: f for f in findings}
    places = where or [""] * len(keys)
    unknown = [(f"{place}: " if place else "") + f"no finding {key!r} in {runs_named(runs)}"
               for key, place in zip(keys, places, strict=True) if key not in known]
    if unknown:
        raise InputError(f"{len(unknown)} finding id(s) not found; `pik-recon findings list` "
                         f"shows the ids of the last run; nothing was {undone}:", unknown)
    return [known[key] for key in keys]


def acknowledge(warehouse: Warehouse, accounts: Sequence[str], keys: list[str],
                notes: list[str], by: str, now: datetime, where: list[str] | None = None
                ) -> list[Finding]:
    """Acknowledge findings of the accounts' last runs, all or none; returns those
    acknowledged."""
    empty = [w for w, note in zip(where or keys, notes, strict=True) if not note.strip()]
    if empty:
        raise UsageError("a note is required, saying what was done (e.g. --note \"refunded "
                         f"on 30 Nov\"); missing for {', '.join(empty)}")
    runs, findings = findings_of(warehouse, accounts)
    chosen = _by_key(findings, keys, where, runs)
    run_of = dict(warehouse.fetchall("SELECT account, max(id) FROM reconcile_runs WHERE "
                                     "list_contains(?, id) GROUP BY account", [runs]))
    rows = [(f.account, f.key, f.category, f.order_id, f.link_id, f.digest, note.strip(), by,
             now, run_of[f.account]) for f, note in zip(chosen, notes, strict=True)]
    columns = [("account", "VARCHAR"), ("finding_key", "VARCHAR"), ("category", "VARCHAR"),
               ("order_id", "VARCHAR"), ("link_id", "VARCHAR"), ("state_digest", "VARCHAR"),
               ("note", "VARCHAR"),
               ("acknowledged_by", "VARCHAR"), ("acknowledged_at", "TIMESTAMPTZ"),
               ("run_id", "BIGINT")]
    select_rows, lists = listed(columns, rows)
    with warehouse.transaction():
        warehouse.execute("INSERT INTO finding_acks (" + ", ".join(c for c, _ in columns)
                          + f") {select_rows}", lists)
    return chosen


def read_acks(path: Path
              ) -> tuple[list[str], list[str], list[str], list[str], list[int | None]]:
    """Ids and notes from a CSV (findings.csv with notes filled in, or `finding_id,note`):
    rows with a note; with who and the run the row was written from, if the file says, and
    the line of each."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            sample = fh.read(64 * 1024)
            fh.seek(0)
            try:
                dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, ",;\t")
            except csv.Error:
                dialect = csv.excel
            reader = csv.DictReader(fh, dialect=dialect)
            header = [h.strip() for h in reader.fieldnames or []]
            reader.fieldnames = header
            id_column = next((c for c in ("finding_id", "id") if c in header), None)
            if id_column is None or "note" not in header:
                raise InputError(f"{path}: needs the columns finding_id (or id) and note; "
                                 f"found {', '.join(header) or 'no header'}")
            keys, notes, bys, where, runs = [], [], [], [], []
            for record in reader:
                note = (record.get("note") or "").strip()
                if note and (record.get(id_column) or "").strip():
                    keys.append(record[id_column].strip())
                    notes.append(note)
                    bys.append((record.get("acknowledged_by") or "").strip())
                    where.append(f"{path} line {reader.line_num}")
                    run = (record.get("run_id") or "").strip()
                    if run and not run.isdigit():
                        raise InputError(f"{where[-1]}, column 'run_id': {run!r} is not a "
                                         "run number")
                    runs.append(int(run) if run else None)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a readable UTF-8 CSV ({exc})") from None
    return keys, notes, bys, where, runs


def _changed_since(warehouse: Warehouse, current: dict[str, Finding], keys: list[str],
                   runs: list[int | None], where: list[str], last_runs: list[int]) -> None:
    """Refuse rows written from an earlier run whose finding has changed since: the note
    was written about what that run said (an amount, a status), not about what the finding
    says now."""
    asked = [(i, run) for i, run in enumerate(runs) if run is not None and keys[i] in current]
    if not asked:
        return
    said: dict[tuple[int, str], tuple[Any, ...]] = {
        (int(row[0]), row[1]): row[2:] for row in warehouse.fetchall(
            f"SELECT run_id, finding_key, state_digest, {', '.join(SAID)} FROM findings "
            "WHERE list_contains(?, run_id) AND list_contains(?, finding_key)",
            [sorted({run for _, run in asked} | set(last_runs)),
             sorted({keys[i] for i, _ in asked})])}
    now = {key: row[1:] for (run, key), row in said.items()
           if run in last_runs and key in current and row[0] == current[key].digest}
    changed = [f"{where[i]}: finding {keys[i]!r} of run {run} has changed since: "
               f"{_what_changed(said[run, keys[i]][1:], now[keys[i]])}" for i, run in asked
               if (run, keys[i]) in said and said[run, keys[i]][0] != current[keys[i]].digest]
    changed += [f"{where[i]}: finding {keys[i]!r} is not among those of run {run}"
                for i, run in asked if (run, keys[i]) not in said]
    if changed:
        raise InputError(f"{len(changed)} finding(s) changed since the run the file was "
                         "written from, so their notes may not hold; nothing was acknowledged. "
                         "Acknowledge them from a report of the last run, or one by one with "
                         "`pik-recon findings ack ID --note`:", changed)


# What a finding says, as its digest holds it, and how each is named when it changes.
SAID = ("order_amount", "order_currency", "link_amount", "link_currency", "order_status",
        "link_status", "link_ids", "received_amount", "transaction_ids", "description")


def _what_changed(then: tuple[Any, ...], now: tuple[Any, ...]) -> str:
    """Each thing a finding said then and says otherwise now, exactly (every decimal)."""
    from pik_recon.report.display import money

    was, is_ = dict(zip(SAID, then, strict=True)), dict(zip(SAID, now, strict=True))

    def amount(values: dict[str, Any], field: str, currency: str) -> str:
        value = values[field]
        return "none" if value is None else money(value, values[currency])

    parts = []
    for name, field, currency in (("order amount", "order_amount", "order_currency"),
                                  ("link amount", "link_amount", "link_currency"),
                                  ("money received", "received_amount", "link_currency")):
        then_said, now_said = amount(was, field, currency), amount(is_, field, currency)
        if then_said != now_said:
            parts.append(f"{name} {then_said}, now {now_said}")
    for name, field in (("order status", "order_status"), ("link status", "link_status"),
                        ("links", "link_ids"), ("transactions", "transaction_ids"),
                        ("description", "description")):
        if was[field] != is_[field]:
            parts.append(f"{name} {was[field] or 'none'}, now {is_[field] or 'none'}")
    return "; ".join(parts) or "what it says differs in a way not shown here"


def acknowledge_from(warehouse: Warehouse, accounts: Sequence[str], path: Path,
                     by: str | None, now: datetime) -> tuple[list[Finding], int]:
    """Acknowledge every row of the file that has a note, unless it is acknowledged with
    that note already; returns those acknowledged and how many were so already."""
    keys, notes, bys, where, written_from = read_acks(path)
    if not keys:
        raise InputError(f"{path}: no row has both a finding_id and a note; fill in the note "
                         "of each finding to acknowledge")
    runs, findings = findings_of(warehouse, accounts)
    current = {f.key: f for f in findings}
    _changed_since(warehouse, current, keys, written_from, where, runs)
    todo = [i for i, key in enumerate(keys)
            if not (key in current and current[key].acknowledged
                    and current[key].note == notes[i])]
    groups: dict[str, list[int]] = {}
    for i in todo:
        groups.setdefault(by or bys[i] or default_user(), []).append(i)
    done: list[Finding] = []
    if todo:  # everything is checked before anything is written
        _by_key(findings, [keys[i] for i in todo], [where[i] for i in todo], runs)
    for who, rows in groups.items():
        done += acknowledge(warehouse, accounts, [keys[i] for i in rows],
                            [notes[i] for i in rows], who, now, [where[i] for i in rows])
    return done, len(keys) - len(todo)


def reopen(warehouse: Warehouse, accounts: Sequence[str], keys: list[str], by: str,
           now: datetime) -> list[Finding]:
    """Withdraw the acknowledgement of findings of the accounts' last runs, all or none."""
    runs, findings = findings_of(warehouse, accounts)
    chosen = _by_key(findings, keys, None, runs, undone="reopened")
    not_acked = [f.key for f in chosen if not f.acknowledged]
    if not_acked:
        raise UsageError(f"finding(s) {', '.join(not_acked)} are not acknowledged; only an "
                         "acknowledged finding can be reopened")
    with warehouse.transaction():
        warehouse.execute(
            "UPDATE finding_acks SET reopened_at = ?, reopened_by = ? WHERE reopened_at IS "
            "NULL AND list_contains(?, account || ' ' || finding_key)",
            [now, by, [f"{f.account} {f.key}" for f in chosen]])
    return chosen
