"""`pik-recon sandbox generate`: links, orders and the findings they must produce.

Every order is planted as one case — a finding category or a clean case — so the expected
findings are known by construction, not computed the way pik-recon computes them.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pik_recon.money import currency_decimals
from pik_recon.sandbox.expected import planted_figures, planted_stakes
from pik_recon.sandbox.planted_money import MONEY_CASES, Payments, at_least_two_units
from pik_recon.sandbox.seed import TRANSACTIONS
from pik_recon.sandbox.state import URL_BASE, iso, random_amount

SHAPES = ("plain", "line-items", "decimal-comma")
DEFAULT_AS_OF = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
PAID_CASES = ("currency_mismatch", "amount_mismatch", "duplicate_payment", "paid_but_cancelled",
              "paid_order_not_updated")

# case -> weight; the clean cases produce no finding
CASES = {
    "currency_mismatch": 3, "amount_mismatch": 4, "duplicate_payment": 3,
    "paid_but_cancelled": 3, "paid_without_payment": 3, "paid_order_not_updated": 4,
    "expired_unpaid": 5, "missing_link": 4, "unpaid": 5, "orphan_paid_link": 2,
    "orphan_link": 3, "clean_paid": 40, "clean_unpaid_within_terms": 8, "clean_cancelled": 5,
    **MONEY_CASES,
}
STATUS_WORDS = {
    "plain": {"awaiting_payment": "awaiting_payment", "paid": "paid", "cancelled": "cancelled",
              "refunded": "refunded"},
    "line-items": {"awaiting_payment": "Pending payment", "paid": "Completed",
                   "cancelled": "Cancelled", "refunded": "Refunded"},
    "decimal-comma": {"awaiting_payment": "offen", "paid": "bezahlt", "cancelled": "storniert",
                      "refunded": "erstattet"},
}
CONFIGS = {
    "plain": "",
    "line-items": """[orders]
delimiter = ";"
thousands_separator = ","
date_format = "%Y-%m-%d %H:%M:%S"
timezone = "Europe/Berlin"
line_items = true
filter_column = "Payment Method"
filter_values = ["PIK Crypto"]

[orders.columns]
order_id = "Order Number"
amount = "Order Total"
currency = "Currency"
status = "Order Status"
created_at = "Order Date"
link_id = "PIK Link"
payment_method = "Payment Method"

[orders.status_map]
"Pending payment" = "awaiting_payment"
"Completed" = "paid"
"Cancelled" = "cancelled"
"Refunded" = "refunded"
""",
    # no decimal_separator: the amounts prove their decimal comma (see _config)
    "decimal-comma": """[orders]
delimiter = "\\t"
date_format = "%d.%m.%Y %H:%M"
timezone = "Europe/Berlin"
filter_column = "Zahlungsart"
filter_values = ["Krypto (PIK)"]

[orders.columns]
order_id = "Bestellnummer"
amount = "Betrag"
currency = "Währung"
status = "Status"
created_at = "Datum"
link_id = "Link"
payment_method = "Zahlungsart"

[orders.status_map]
"offen" = "awaiting_payment"
"bezahlt" = "paid"
"storniert" = "cancelled"
"erstattet" = "refunded"
""",
}


# Rough prices in USD: a link paid in another currency than its order's carries about the
# order's value in its own currency (a 75 USDT order paid as 0.00125 BTC, not as 75 BTC).
USD_PRICES = {"USDT": Decimal(1), "USDC": Decimal(1), "BTC": Decimal(60_000),
              "ETH": Decimal(3_000), "LTC": Decimal(80), "TRX": Decimal("0.25"),
              "SOL": Decimal(150)}


@dataclass
class Order:
    order_id: str
    amount: str
    currency: str
    status: str
    created_at: datetime
    link_id: str = ""
    crypto: bool = True


@dataclass
class Dataset:
    as_of: datetime
    links: list[dict[str, Any]] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    # (category, order id, link ids, transaction ids) of each planted finding
    expected: list[tuple[str, str, str, str]] = field(default_factory=list)
    # (category, currency, amount): the money each planted finding puts at stake
    stakes: list[tuple[str, str, Decimal]] = field(default_factory=list)
    transactions: list[dict[str, Any]] = field(default_factory=list)  # as the sandbox seeds
    events: list[bytes] = field(default_factory=list)  # PIK's event bodies, to send signed


class _Planter:
    def __init__(self, seed: int, as_of: datetime) -> None:
        self.rng = random.Random(seed)
        self.data = Dataset(as_of=as_of)
        self.seed = seed
        # money draws of their own, so that orders and links do not depend on them
        self.money = Payments(random.Random(f"money-{seed}"), as_of, self.data.transactions,
                              self.data.events)

    def link_id(self) -> str:
        return "pl_" + "".join(self.rng.choice("0123456789abcdefghijklmnopqrstuvwxyz")
                               for _ in range(20))

    def link(self, order: Order | None, status: str, *, amount: str | None = None,
             currency: str | None = None, by_column: bool = False,
             description: str | None = None, money: bool = True) -> str:
        """A link planted with clean money on it (none with `money` false: the case plants
        its own)."""
        link_id = self.link_id()
        created = (order.created_at if order else self.data.as_of - timedelta(
            days=self.rng.uniform(0, 40))) + timedelta(minutes=self.rng.uniform(1, 30))
        if description is None:
            description = f"Order #{order.order_id}" if order and not by_column else (
                self.rng.choice(["Payment for your order", "Invoice", "Top-up", None]))
        record: dict[str, Any] = {
            "id": link_id, "url": URL_BASE + link_id,
            "amount": amount if amount is not None else (order.amount if order else "1.00"),
            "currency": currency or (order.currency if order else "USDT"),
            "description": description, "status": status, "created_at": iso(created)}
        if status == "paid":
            record["paid_at"] = iso(min(created + timedelta(hours=self.rng.uniform(0.1, 30)),
                                        self.data.as_of))
        self.data.links.append(record)
        if order is not None and by_column:
            order.link_id = link_id
        if money:
            self.money.clean(record)
        return link_id

    def order(self, index: int, status: str, *, max_age_days: float = 60,
              min_age_days: float = 0) -> Order:
        amount, currency = random_amount(self.rng)
        age = timedelta(days=self.rng.uniform(min_age_days, max_age_days))
        created = (self.data.as_of - age).replace(second=0, microsecond=0)
        order = Order(f"SO-{self.seed}-{index:07d}", amount, currency, status, created)
        self.data.orders.append(order)
        return order

    def expect(self, category: str, order: Order | None, links: list[str],
               stake: tuple[str, Decimal], transactions: Sequence[str] = ()) -> None:
        """A planted finding, the money it puts at stake (currency, amount) and the
        transactions it is about."""
        self.data.expected.append((category, order.order_id if order else "",
                                   ";".join(sorted(links)), ";".join(transactions)))
        self.data.stakes.append((category, *stake))

    def planted(self, link_id: str) -> dict[str, Any]:
        """A link planted for the current case (among the last few)."""
        return next(r for r in reversed(self.data.links) if r["id"] == link_id)

    def amount_of(self, link_id: str) -> Decimal:
        return Decimal(self.planted(link_id)["amount"])

    def other_currency(self, currency: str) -> str:
        return self.rng.choice([c for c in ("USDT", "BTC", "ETH", "LTC") if c != currency])

    @staticmethod
    def converted(amount: str, currency: str, into: str) -> str:
        """About the same value in another currency, in that currency's usual decimals (at
        least its smallest unit)."""
        places = 2 if into in ("USDT", "USDC") else min(currency_decimals(into), 8)
        unit = Decimal(1).scaleb(-places)
        value = Decimal(amount) * USD_PRICES[currency] / USD_PRICES[into]
        return format(max(value.quantize(unit, ROUND_HALF_UP), unit), "f")

    def off_by(self, amount: str, currency: str) -> str:
        unit = Decimal(1).scaleb(-min(currency_decimals(currency), 18))
        delta = unit if self.rng.random() < 0.5 else unit * self.rng.randrange(2, 10_000)
        value = Decimal(amount)
        changed = value - delta if value > delta and self.rng.random() < 0.5 else value + delta
        return format(changed, "f")

    def plant(self, index: int, case: str) -> None:
        if case in MONEY_CASES:
            self.plant_money(index, case)
        elif case in ("orphan_paid_link", "orphan_link"):
            self.plant_orphan(index, case)
        elif case in PAID_CASES:
            self.plant_paid(index, case)
        else:
            self.plant_unpaid(index, case)

    def plant_orphan(self, index: int, case: str) -> None:
        rng = self.rng
        status = "paid" if case == "orphan_paid_link" else rng.choice(
            ["active", "expired", "deactivated"])
        description = rng.choice([f"Invoice INV-{rng.randrange(10**6):06d}", None,
                                  f"Order #X-{index}", "Donation"])
        amount, currency = random_amount(rng)
        link = self.link(None, status, description=description, amount=amount,
                         currency=currency)
        self.expect(case, None, [link], (currency, Decimal(amount)))

    def plant_paid(self, index: int, case: str) -> None:
        """A case with a paid link; what it puts at stake is in the link's currency."""
        rng = self.rng
        column = rng.random() < 0.4
        if case == "currency_mismatch":
            order = self.order(index, rng.choice(["paid", "awaiting_payment"]))
            into = self.other_currency(order.currency)
            paid = self.converted(order.amount, order.currency, into)
            links = [self.link(order, "paid", amount=paid, currency=into, by_column=column)]
            stake = Decimal(paid)
        elif case == "amount_mismatch":
            order = self.order(index, rng.choice(["paid", "awaiting_payment"]))
            paid = self.off_by(order.amount, order.currency)
            links = [self.link(order, "paid", amount=paid, by_column=column)]
            stake = abs(Decimal(paid) - Decimal(order.amount))
        elif case == "duplicate_payment":
            order = self.order(index, "paid")
            links = [self.link(order, "paid", by_column=column)]
            links += [self.link(order, "paid") for _ in range(rng.choice((1, 1, 1, 2)))]
            first = min(links, key=lambda link: (
                datetime.fromisoformat(self.planted(link)["paid_at"]), link))
            stake = sum((self.amount_of(link) for link in links if link != first), Decimal(0))
        else:  # paid_but_cancelled, paid_order_not_updated
            order = self.order(index, rng.choice(["cancelled", "refunded"])
                               if case == "paid_but_cancelled" else "awaiting_payment")
            links = [self.link(order, "paid", by_column=column)]
            stake = self.amount_of(links[0])
        self.expect(case, order, links, (self.planted(links[0])["currency"], stake))

    def plant_unpaid(self, index: int, case: str) -> None:
        """A case without a paid link: the order's amount is at stake (clean cases: none)."""
        rng = self.rng
        column = rng.random() < 0.4
        if case == "paid_without_payment":
            order = self.order(index, "paid")
            links = [self.link(order, s, by_column=column and i == 0)
                     for i, s in enumerate(rng.sample(["active", "expired"], rng.randrange(3)))]
        elif case == "expired_unpaid":
            order = self.order(index, "awaiting_payment")
            links = [self.link(order, rng.choice(["expired", "deactivated"]),
                               by_column=column and i == 0) for i in range(rng.randrange(1, 3))]
        elif case == "missing_link":
            order = self.order(index, "awaiting_payment")
            links = []
        elif case == "unpaid":
            order = self.order(index, "awaiting_payment", min_age_days=3)
            links = [self.link(order, "active", by_column=column)]
        elif case == "clean_paid":
            order = self.order(index, "paid")
            links = [self.link(order, "paid", by_column=column)]
            if rng.random() < 0.1:
                links.append(self.link(order, "expired"))
        elif case == "clean_unpaid_within_terms":
            order = self.order(index, "awaiting_payment", max_age_days=0.8)
            links = [self.link(order, "active", by_column=column)]
        else:
            order = self.order(index, "cancelled")
            links = [self.link(order, "expired")] if rng.random() < 0.5 else []
        if not case.startswith("clean_"):
            self.expect(case, order, links, (order.currency, Decimal(order.amount)))


    def plant_money(self, index: int, case: str) -> None:
        """A link whose money makes one three-way finding (SPEC §6), beside its order's
        finding if it has one (a closed link: expired_unpaid)."""
        rng, pay, as_of = self.rng, self.money, self.data.as_of
        if case == "transaction_unknown_link":
            link_id, txns, currency, stake = pay.unknown_link()
            self.expect(case, None, [link_id], (currency, stake), txns)
            return
        column = rng.random() < 0.4
        if case in ("underpaid", "payment_on_closed_link"):
            closed = case == "payment_on_closed_link" or rng.random() < 0.4
            waiting = case == "underpaid" or rng.random() < 0.5  # else cancelled
            order = self.order(index, "awaiting_payment" if waiting else "cancelled",
                               max_age_days=60 if closed else 0.8)
            if not at_least_two_units(order.amount, order.currency):
                order.amount = format(Decimal(order.amount) + 1, "f")
            link = self.link(order, rng.choice(["expired", "deactivated"]) if closed
                             else "active", by_column=column, money=False)
            if closed and waiting:
                self.expect("expired_unpaid", order, [link],
                            (order.currency, Decimal(order.amount)))
            record = self.planted(link)
            ended = min(datetime.fromisoformat(record["created_at"]) + timedelta(days=3),
                        as_of)
            txns, stake = (pay.underpaid(record) if case == "underpaid"
                           else pay.late(record, ended))
        elif case == "clean_paid_recently":  # confirmed, not settled, its event not yet in
            order = self.order(index, "paid", min_age_days=0.25, max_age_days=0.3)
            record = self.planted(self.link(order, "paid", by_column=column, money=False))
            record["paid_at"] = iso(as_of - timedelta(hours=rng.uniform(1, 5)))
            pay.pay(record, pay.text(record, Decimal(record["amount"])),
                    datetime.fromisoformat(record["paid_at"]), settled=False, announce=False)
            return
        else:  # a paid link: overpaid, paid_without_transaction, unsettled, webhook_*
            late = {"unsettled": timedelta(hours=25), "webhook_missed": timedelta(hours=7)}
            order = self.order(index, "paid", min_age_days=2 if case in late else 0)
            link = self.link(order, "paid", by_column=column, money=False)
            record = self.planted(link)
            if case in late:
                created = datetime.fromisoformat(record["created_at"])
                record["paid_at"] = iso(created + (as_of - late[case] - created) * rng.random())
            txns, stake = {"overpaid": pay.overpaid, "paid_without_transaction":
                           pay.without_money, "unsettled": pay.unsettled,
                           "webhook_missed": pay.missed,
                           "webhook_disagrees": pay.disagreeing}[case](record)
        self.expect(case, order, [link], (record["currency"], stake), txns)


def generate_dataset(orders: int, seed: int, as_of: datetime = DEFAULT_AS_OF,
                     card_orders: bool = False) -> Dataset:
    """`orders` planted cases (orphans count as cases); card orders only when filtered."""
    planter = _Planter(seed, as_of)
    names, weights = zip(*CASES.items(), strict=True)
    for index in range(orders):
        planter.plant(index, planter.rng.choices(names, weights=weights)[0])
    if card_orders:  # paid by card: no PIK link, left out by the crypto filter
        for index in range(orders, orders + orders // 30):
            card = planter.order(index, planter.rng.choice(["paid", "awaiting_payment"]))
            card.crypto = False
    return planter.data


def _amount_cell(order: Order, shape: str) -> str:
    if shape == "plain":
        return order.amount
    integer, _, fraction = order.amount.partition(".")
    grouped = f"{int(integer):,}"
    if shape == "line-items":
        text = grouped + (f".{fraction}" if fraction else "")
        return f"${text}" if order.currency in ("USDT", "USDC") else text
    return grouped.replace(",", ".") + (f",{fraction}" if fraction else "")


def _config(data: Dataset, shape: str) -> str:
    """The mapping of the shape. A decimal-comma export whose amounts are all whole (e.g.
    '23.033') does not prove its format, so its mapping names it."""
    if shape != "decimal-comma" or any("," in _amount_cell(o, shape) for o in data.orders):
        return CONFIGS[shape]  # a fraction here is never 3 digits: a ',' proves the comma
    return CONFIGS[shape].replace("[orders]\n", '[orders]\ndecimal_separator = ","\n'
                                  'thousands_separator = "."\n', 1)


def _time_cell(order: Order, shape: str) -> str:
    if shape == "plain":
        return iso(order.created_at)
    local = order.created_at.astimezone(BERLIN)
    return local.strftime("%Y-%m-%d %H:%M:%S" if shape == "line-items" else "%d.%m.%Y %H:%M")


def write_orders(data: Dataset, shape: str, path: Path) -> None:
    words = STATUS_WORDS[shape]
    rng = random.Random(len(data.orders))
    if shape == "plain":
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["order_id", "amount", "currency", "status", "created_at",
                             "link_id", "payment_method"])
            for order in data.orders:
                writer.writerow([order.order_id, order.amount, order.currency, order.status,
                                 _time_cell(order, shape), order.link_id, "crypto"])
        return
    if shape == "line-items":
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh, delimiter=";")
            writer.writerow(["Order Number", "Item", "Qty", "Order Total", "Currency",
                             "Order Status", "Order Date", "Payment Method", "PIK Link"])
            for order in data.orders:
                method = "PIK Crypto" if order.crypto else "Card"
                writer.writerow([order.order_id, "Item 1", "1", _amount_cell(order, shape),
                                 order.currency, words[order.status], _time_cell(order, shape),
                                 method, order.link_id])
                for item in range(2, rng.randrange(2, 5)):
                    writer.writerow([order.order_id, f"Item {item}", str(rng.randrange(1, 4)),
                                     "", "", "", "", "", ""])
        return
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, delimiter="\t")
        writer.writerow(["Bestellnummer", "Betrag", "Währung", "Status", "Datum",
                         "Zahlungsart", "Link"])
        for order in data.orders:
            writer.writerow([order.order_id, _amount_cell(order, shape), order.currency,
                             words[order.status], _time_cell(order, shape),
                             "Krypto (PIK)" if order.crypto else "Kreditkarte", order.link_id])


# what write_dataset writes into its folder
DATASET_FILES = ("links.jsonl", TRANSACTIONS, "webhook_events.jsonl", "orders.csv",
                 "expected_findings.csv", "expected_stakes.csv", "pik-recon.toml",
                 "expected_figures.json", "dataset.json")


def _lines(path: Path, lines: Sequence[str]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.writelines(line + "\n" for line in lines)


def write_dataset(data: Dataset, shape: str, out: Path) -> None:
    """DATASET_FILES: links.jsonl and transactions.jsonl (a sandbox seed),
    webhook_events.jsonl (PIK's event bodies, one a line, to deliver signed), orders.csv,
    expected_findings.csv, expected_stakes.csv, pik-recon.toml, expected_figures.json and
    dataset.json."""
    out.mkdir(parents=True, exist_ok=True)
    _lines(out / "links.jsonl", [json.dumps(r, ensure_ascii=False) for r in data.links])
    _lines(out / TRANSACTIONS, [json.dumps(t) for t in data.transactions])
    _lines(out / "webhook_events.jsonl", [body.decode() for body in data.events])
    write_orders(data, shape, out / "orders.csv")
    with (out / "expected_findings.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["category", "order_id", "link_ids", "transaction_ids"])
        writer.writerows(sorted(data.expected))
    with (out / "expected_stakes.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["category", "currency", "findings", "amount"])
        writer.writerows(planted_stakes(data.stakes))
    (out / "pik-recon.toml").write_text(_config(data, shape), encoding="utf-8")
    (out / "expected_figures.json").write_text(
        json.dumps(planted_figures(data), indent=2) + "\n", encoding="utf-8")
    (out / "dataset.json").write_text(json.dumps({
        "as_of": data.as_of.isoformat(), "shape": shape, "orders": len(data.orders),
        "links": len(data.links), "transactions": len(data.transactions),
        "webhook_events": len(data.events), "expected_findings": len(data.expected)},
        indent=2) + "\n", encoding="utf-8")
