#!/usr/bin/env python3
"""Writes N orders as NDJSON in the shape of Shopify's Admin REST API order (as in the
orders/create webhook), for import benchmarks. Deterministic for a given seed.

    python3 bench/gen_orders.py 1000000 > /tmp/orders.ndjson
    python3 bench/gen_orders.py 1000 --seed 7 --out orders.ndjson --currency EUR

Each order has 1 to 5 line items drawn from a catalogue of 500 products; total_price is the
sum of its line items; about 2 % are cancelled (financial_status "voided"); created_at spreads
over the year 2024 (UTC), or `--days` days from `--start`.
"""

import argparse
import json
import random
import sys
from datetime import datetime, timedelta, timezone

PRODUCTS = 500
FIRST_ORDER_ID = 5_000_000_000_000
FIRST_LINE_ID = 9_000_000_000_000
FINANCIAL = ["paid"] * 80 + ["pending"] * 8 + ["refunded"] * 5 + ["partially_refunded"] * 4 + ["authorized"] * 3
FULFILLMENT = [None] * 40 + ["fulfilled"] * 50 + ["partial"] * 10


def catalogue(rng):
    products = []
    for p in range(PRODUCTS):
        cents = rng.randrange(199, 25_000)
        products.append({
            "product_id": 7_000_000_000 + p,
            "variant_id": 8_000_000_000 + p,
            "title": f"Product {p:03d}",
            "sku": f"SKU-{p:05d}",
            "cents": cents,
        })
    return products


def money(cents):
    return f"{cents // 100}.{cents % 100:02d}"


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("count", type=int, help="number of orders")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--currency", default="USD")
    ap.add_argument("--out", help="file to write (default: standard output)")
    ap.add_argument("--start", default="2024-01-01", help="first day (UTC), YYYY-MM-DD")
    ap.add_argument("--days", type=int, default=366, help="days the orders spread over")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    products = catalogue(rng)
    start = datetime.strptime(args.start, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    year_s = args.days * 86_400
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    line_id = FIRST_LINE_ID
    write = out.write
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    for i in range(args.count):
        order_id = FIRST_ORDER_ID + i
        created = start + timedelta(seconds=rng.randrange(year_s))
        updated = created + timedelta(seconds=rng.randrange(0, 7 * 86_400))
        cancelled = rng.random() < 0.02
        items = []
        total = 0
        for _ in range(rng.randint(1, 5)):
            p = products[rng.randrange(PRODUCTS)]
            qty = rng.choice((1, 1, 1, 2, 2, 3))
            total += p["cents"] * qty
            line_id += 1
            items.append({
                "id": line_id,
                "product_id": p["product_id"],
                "variant_id": p["variant_id"],
                "title": p["title"],
                "sku": p["sku"],
                "quantity": qty,
                "price": money(p["cents"]),
                "total_discount": "0.00",
            })
        customer_id = 6_000_000_000 + rng.randrange(50_000)
        order = {
            "id": order_id,
            "name": f"#{1001 + i}",
            "order_number": 1001 + i,
            "email": f"customer{customer_id}@example.com",
            "created_at": iso(created),
            "updated_at": iso(updated),
            "closed_at": None,
            "cancelled_at": iso(updated) if cancelled else None,
            "cancel_reason": "customer" if cancelled else None,
            "currency": args.currency,
            "subtotal_price": money(total),
            "total_price": money(total),
            "total_discounts": "0.00",
            "financial_status": "voided" if cancelled else rng.choice(FINANCIAL),
            "fulfillment_status": None if cancelled else rng.choice(FULFILLMENT),
            "test": False,
            "customer": {"id": customer_id, "email": f"customer{customer_id}@example.com"},
            "line_items": items,
        }
        write(dumps(order))
        write("\n")
    if out is not sys.stdout:
        out.close()


if __name__ == "__main__":
    main()
