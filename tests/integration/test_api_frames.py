"""pik_recon.api's frames: the warehouse's links, orders, transactions and findings as
DataFrames whose amounts keep every digit (decimal128(38, 18), never a float)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from pik_recon import api
from pik_recon.config import load_config
from pik_recon.errors import ConfigError, UsageError
from pik_recon.warehouse import Warehouse

HUGE = Decimal("12345678901234567890.123456789012345678")  # 38 digits, 18 after the point
TINY = Decimal("0.000000000000000001")
PLAIN = Decimal("19.990000000000000000")
GAP = Decimal("-12345678901234567890.123456789012345677")  # TINY - HUGE, written out: Python's
# default Decimal context (28 digits) would round it
WHEN = datetime(2026, 3, 1, 12, tzinfo=UTC)
ACCOUNTS = '[accounts.brand-a]\nkey_env = "K_A"\n[accounts.brand-b]\nkey_env = "K_B"\n'


def _plant(db: Path) -> None:
    """Rows of two accounts, their amounts the planted ones, written the way DuckDB reads
    text: straight into DECIMAL(38, 18), never through a Python number."""
    with Warehouse.open(db) as warehouse:
        for account, number, amount in (("brand-a", 1, HUGE), ("brand-a", 2, TINY),
                                        ("brand-b", 3, PLAIN)):
            text = str(amount)
            warehouse.execute(
                "INSERT INTO payment_links (id, amount, amount_text, currency, status, "
                "created_at, first_seen_at, last_seen_at, account) VALUES (?, ?::DECIMAL(38, "
                "18), ?, 'USDT', 'paid', ?, ?, ?, ?)",
                [f"pl_{number}", text, text, WHEN, WHEN, WHEN, account])
            warehouse.execute(
                "INSERT INTO orders (order_id, amount, amount_text, currency, status, "
                "shop_status, created_at, import_id, exported_at, source_line, account) "
                "VALUES (?, ?::DECIMAL(38, 18), ?, 'USDT', 'paid', 'paid', ?, 1, ?, ?, ?)",
                [f"o{number}", text, text, WHEN, WHEN, number, account])
            warehouse.execute(
                "INSERT INTO transactions (account, id, payment_link_id, amount, amount_text, "
                "currency, status, created_at, first_seen_at, last_seen_at) VALUES (?, ?, ?, "
                "?::DECIMAL(38, 18), ?, 'USDT', 'settled', ?, ?, ?)",
                [account, f"tx_{number}", f"pl_{number}", text, text, WHEN, WHEN, WHEN])
        for run, account in ((7, "brand-a"), (8, "brand-b")):
            warehouse.execute(
                "INSERT INTO reconcile_runs (id, started_at, finished_at, as_of, state, "
                "account) VALUES (?, ?, ?, ?, 'finished', ?)", [run, WHEN, WHEN, WHEN, account])
        warehouse.execute(
            "INSERT INTO findings (run_id, category, severity, order_id, link_id, order_amount, "
            "order_currency, link_amount, link_currency, difference, finding_key, "
            "state_digest, account) VALUES (7, 'underpaid', 'critical', 'o1', 'pl_2', "
            "?::DECIMAL(38, 18), 'USDT', ?::DECIMAL(38, 18), 'USDT', ?::DECIMAL(38, 18), "
            "'k1', 'd1', 'brand-a')", [str(HUGE), str(TINY), str(GAP)])


@pytest.fixture
def config(tmp_path: Path):
    db = tmp_path / "wh.duckdb"
    _plant(db)
    path = tmp_path / "c.toml"
    path.write_text(ACCOUNTS)
    return load_config(config_path=str(path), db=str(db), env={})


def _no_float(frame: pd.DataFrame) -> None:
    assert [c for c, t in frame.dtypes.items() if not isinstance(t, pd.ArrowDtype)] == []
    assert [c for c, t in frame.dtypes.items() if pa.types.is_floating(t.pyarrow_dtype)] == []


@pytest.mark.parametrize("frame", [api.links_frame, api.orders_frame, api.transactions_frame])
def test_every_digit_of_every_amount_survives(config, frame) -> None:
    got = frame(config)
    _no_float(got)
    assert got["amount"].dtype == pd.ArrowDtype(pa.decimal128(38, 18))
    assert list(got["amount"]) == [HUGE, TINY, PLAIN]
    assert [str(a) for a in got["amount"]] == [str(HUGE), str(TINY), str(PLAIN)]
    assert list(got["account"]) == ["brand-a", "brand-a", "brand-b"]


def test_one_account_is_chosen_and_an_unknown_one_is_refused(config) -> None:
    assert list(api.links_frame(config, account="brand-b")["amount"]) == [PLAIN]
    assert list(api.orders_frame(config, account="brand-a")["order_id"]) == ["o1", "o2"]
    with pytest.raises(ConfigError, match="no such account"):
        api.transactions_frame(config, account="brand-c")


def test_findings_keep_their_amounts_and_state(config) -> None:
    got = api.findings_frame(config)
    _no_float(got)
    row = got.iloc[0]
    assert len(got) == 1
    assert (row["order_amount"], row["link_amount"], row["difference"]) == (
        HUGE, TINY, GAP)
    assert (row["category"], bool(row["acknowledged"])) == ("underpaid", False)
    assert got["difference"].dtype == pd.ArrowDtype(pa.decimal128(38, 18))
    assert api.findings_frame(config, account="brand-b").empty


def test_the_frames_only_read(tmp_path: Path) -> None:
    missing = tmp_path / "none.duckdb"
    with pytest.raises(UsageError):
        api.links_frame(load_config(db=str(missing), env={}))
    assert not missing.exists()
