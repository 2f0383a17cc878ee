"""What generated data must produce, summed from what was planted (never by pik-recon's
rules): the report's figures per currency, and the money at stake per category."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pik_recon.sandbox.generate import Dataset

FIGURES_PERIOD = timedelta(days=365)  # expected_figures.json covers [as_of - this, as_of)
AGING_BUCKETS = (1, 7, 30)  # pik-recon's default [report] aging_buckets
Figures = dict[str, dict[str, Any]]


def _add(figures: Figures, currency: str, name: str, amount: Decimal | str) -> None:
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


def _age(since: datetime, until: datetime) -> int:
    return (until.astimezone(UTC).date() - since.astimezone(UTC).date()).days


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _order_figures(data: Dataset, since: datetime, until: datetime, figures: Figures,
                   aging: Figures) -> None:
    lost = {order_id for category, order_id, _, _ in data.expected
            if category == "expired_unpaid"}
    for order in data.orders:
        if not order.crypto or not since <= order.created_at < until:
            continue
        if order.status in ("awaiting_payment", "paid"):
            _add(figures, order.currency, "invoiced", order.amount)
        if order.status == "awaiting_payment":
            _add(figures, order.currency, "outstanding", order.amount)
            _add(aging, order.currency, _bucket(_age(order.created_at, until))[1],
                 order.amount)
        if order.order_id in lost:
            _add(figures, order.currency, "expired_lost", order.amount)
    for link in data.links:
        paid = link.get("paid_at")
        if paid and since <= datetime.fromisoformat(paid) < until:
            _add(figures, link["currency"], "collected", link["amount"])


def _money_figures(data: Dataset, since: datetime, until: datetime, figures: Figures,
                   transit: Figures) -> None:
    """Payments confirmed in the period: received, settled, in transit (and for how long);
    the period's planted underpaid and overpaid links with their shortfall and excess."""
    for txn in data.transactions:
        confirmed = txn.get("confirmed_at")
        if not confirmed or not since <= _time(confirmed) < until:
            continue
        _add(figures, txn["currency"], "received", txn["amount"])
        if txn["status"] == "settled":
            _add(figures, txn["currency"], "settled", txn["amount"])
        else:
            _add(figures, txn["currency"], "in_transit", txn["amount"])
            _add(transit, txn["currency"], _bucket(_age(_time(confirmed), until))[1],
                 txn["amount"])
    created = {o.order_id: o.created_at for o in data.orders}
    for (category, order_id, _, _), (_, currency, amount) in zip(data.expected, data.stakes,
                                                                 strict=True):
        if category in ("underpaid", "overpaid") and since <= created[order_id] < until:
            _add(figures, currency, category, amount)


def _by_age(rows: Figures) -> list[dict[str, Any]]:
    order = {label: place for place, label in (_bucket(a) for a in range(
        AGING_BUCKETS[-1] + 2))}
    return [{"currency": c, "bucket": b, "count": v["count"], "amount": str(v["amount"])}
            for c, buckets in sorted(rows.items())
            for b, v in sorted(buckets.items(), key=lambda item: order[item[0]])]


def planted_figures(data: Dataset) -> dict[str, Any]:
    """The report figures the data was built to have, from what was planted, for the period
    [as_of - 365 days, as_of) and the default aging buckets: per currency invoiced (crypto
    orders awaiting payment or paid), collected (links paid), outstanding (orders awaiting
    payment), expired/lost (the orders planted as expired_unpaid), the awaiting orders by
    their age in whole days at the period's end; and the money received (payments confirmed
    in the period, what of it settled, what is in transit and by its age), under- and
    over-payments (the planted shortfalls and excesses)."""
    since, until = data.as_of - FIGURES_PERIOD, data.as_of
    figures: Figures = {}
    aging: Figures = {}
    transit: Figures = {}
    _order_figures(data, since, until, figures, aging)
    _money_figures(data, since, until, figures, transit)
    return {
        "since": since.isoformat(), "until": until.isoformat(),
        "aging_buckets": list(AGING_BUCKETS),
        "currencies": {c: {name: {"count": v["count"], "amount": str(v["amount"])}
                           for name, v in sorted(f.items())} for c, f in sorted(figures.items())},
        "aging": _by_age(aging),
        "in_transit_aging": _by_age(transit),
    }


def planted_stakes(stakes: Iterable[tuple[str, str, Decimal]]
                   ) -> list[tuple[str, str, int, str]]:
    """Per category and currency, the planted findings and the money they put at stake
    (category, currency, findings, amount), summed from what was planted."""
    sums: dict[tuple[str, str], list[Any]] = {}
    for category, currency, amount in stakes:
        entry = sums.setdefault((category, currency), [0, Decimal(0)])
        entry[0] += 1
        entry[1] += amount
    return [(category, currency, n, format(amount, "f"))
            for (category, currency), (n, amount) in sorted(sums.items())]
