"""`pik-recon sandbox generate`: links, orders and the findings they must produce.

Every order is planted as one case — a finding category or a clean case — so the expected
findings are known by construction, not computed the way pik-recon computes them.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pik_recon.money import currency_decimals
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
    expected: list[tuple[str, str, str]] = field(default_factory=list)
    # (category, currency, amount): the money each planted finding puts at stake
    stakes: list[tuple[str, str, Decimal]] = field(default_factory=list)


class _Planter:
    def __init__(self, seed: int, as_of: datetime) -> None:
        self.rng = random.Random(seed)
        self.data = Dataset(as_of=as_of)
        self.seed = seed

    def link_id(self) -> str:
        return "pl_" + "".join(self.rng.choice("0123456789abcdefghijklmnopqrstuvwxyz")
                               for _ in range(20))

    def link(self, order: Order | None, status: str, *, amount: str | None = None,
             currency: str | None = None, by_column: bool = False,
             description: str | None = None) -> str:
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
               stake: tuple[str, Decimal]) -> None:
        """A planted finding and the money it puts at stake: (currency, amount)."""
        self.data.expected.append((category, order.order_id if order else "",
                                   ";".join(sorted(links))))
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
        if case in ("orphan_paid_link", "orphan_link"):
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


FIGURES_PERIOD = timedelta(days=365)  # expected_figures.json covers [as_of - this, as_of)
AGING_BUCKETS = (1, 7, 30)  # pik-recon's default [report] aging_buckets


def _add(figures: dict[str, dict[str, Any]], currency: str, name: str, amount: str) -> None:
    entry = figures.setdefault(currency, {}).setdefault(name, {"count": 0,
                                                               "amount": Decimal(0)})
    entry["count"] += 1
    entry["amount"] += Decimal(amount)


def _bucket(age_days: int) -> tuple[int, str]:
    """The bucket of an age: its place (for order) and its label."""
    low = 0
    for place, high in enumerate(AGING_BUCKETS):
        if age_days <= high:
            return place, f"{low}-{high} days"
        low = high + 1
    return len(AGING_BUCKETS), f"{low}+ days"


def planted_figures(data: Dataset) -> dict[str, Any]:
    """The report figures the data was built to have, from what was planted: per currency
    invoiced (crypto orders awaiting payment or paid), collected (links paid), outstanding
    (orders awaiting payment), expired/lost (the orders planted as expired_unpaid), and the
    awaiting orders by their age in whole days at the period's end, for the period
    [as_of - 365 days, as_of) and the default aging buckets."""
    since, until = data.as_of - FIGURES_PERIOD, data.as_of
    lost = {order_id for category, order_id, _ in data.expected
            if category == "expired_unpaid"}
    figures: dict[str, dict[str, Any]] = {}
    aging: dict[tuple[str, tuple[int, str]], dict[str, Any]] = {}
    for order in data.orders:
        if not order.crypto or not since <= order.created_at < until:
            continue
        if order.status in ("awaiting_payment", "paid"):
            _add(figures, order.currency, "invoiced", order.amount)
        if order.status == "awaiting_payment":
            _add(figures, order.currency, "outstanding", order.amount)
            age = (until.astimezone(UTC).date() - order.created_at.astimezone(UTC).date()).days
            entry = aging.setdefault((order.currency, _bucket(age)),
                                     {"count": 0, "amount": Decimal(0)})
            entry["count"] += 1
            entry["amount"] += Decimal(order.amount)
        if order.order_id in lost:
            _add(figures, order.currency, "expired_lost", order.amount)
    for link in data.links:
        paid = link.get("paid_at")
        if paid and since <= datetime.fromisoformat(paid) < until:
            _add(figures, link["currency"], "collected", link["amount"])
    return {
        "since": since.isoformat(), "until": until.isoformat(),
        "aging_buckets": list(AGING_BUCKETS),
        "currencies": {c: {name: {"count": v["count"], "amount": str(v["amount"])}
                           for name, v in sorted(f.items())} for c, f in sorted(figures.items())},
        "aging": [{"currency": c, "bucket": b, "count": v["count"], "amount": str(v["amount"])}
                  for (c, (_, b)), v in sorted(aging.items())],
    }


# what write_dataset writes into its folder
DATASET_FILES = ("links.jsonl", "orders.csv", "expected_findings.csv", "expected_stakes.csv",
                 "pik-recon.toml", "expected_figures.json", "dataset.json")


def planted_stakes(data: Dataset) -> list[tuple[str, str, int, str]]:
    """Per category and currency, the planted findings and the money they put at stake
    (category, currency, findings, amount), summed from what was planted."""
    sums: dict[tuple[str, str], list[Any]] = {}
    for category, currency, amount in data.stakes:
        entry = sums.setdefault((category, currency), [0, Decimal(0)])
        entry[0] += 1
        entry[1] += amount
    return [(category, currency, n, format(amount, "f"))
            for (category, currency), (n, amount) in sorted(sums.items())]


def write_dataset(data: Dataset, shape: str, out: Path) -> None:
    """DATASET_FILES: links.jsonl (a sandbox seed), orders.csv, expected_findings.csv,
    expected_stakes.csv, pik-recon.toml, expected_figures.json and dataset.json."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "links.jsonl").open("w", encoding="utf-8") as fh:
        for record in data.links:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    write_orders(data, shape, out / "orders.csv")
    with (out / "expected_findings.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["category", "order_id", "link_ids"])
        writer.writerows(sorted(data.expected))
    with (out / "expected_stakes.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["category", "currency", "findings", "amount"])
        writer.writerows(planted_stakes(data))
    (out / "pik-recon.toml").write_text(_config(data, shape), encoding="utf-8")
    (out / "expected_figures.json").write_text(
        json.dumps(planted_figures(data), indent=2) + "\n", encoding="utf-8")
    (out / "dataset.json").write_text(json.dumps({
        "as_of": data.as_of.isoformat(), "shape": shape, "orders": len(data.orders),
        "links": len(data.links), "expected_findings": len(data.expected)}, indent=2) + "\n",
        encoding="utf-8")
