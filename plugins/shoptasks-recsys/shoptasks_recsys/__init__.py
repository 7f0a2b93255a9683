"""Recommendation for shoptasks: the next item of a customer's history.

Reads any click or order log of (user or session, time, item) rows: the sample shop's `events.csv` (the item's
fields read from `products.csv` beside it), Online Retail as published (UCI, Chen, Sain and Guo 2012; its protocol
below), or a shop's own file with its columns mapped (`--column user=visitor_id`)."""
from shoptasks.hookspecs import hookimpl
from shoptasks.tasks import category, with_products
from shoptasks.ranking import RankingTask

class NextItem(RankingTask):
    """Online Retail's protocol: rows without a CustomerID, cancelled invoices (InvoiceNo "C...") and Quantity <= 0
    are dropped; of duplicate (customer, InvoiceDate, StockCode) rows the first is kept; each customer's rows in
    InvoiceDate order (ties in file order), consecutive repeats collapsed; then customers with fewer than 3 items are
    dropped. The published protocol also drops items with fewer than 5 events (`--min-item-events 5`); the default
    keeps every item, as a shop's own session log has many items of few events."""
    name = "next-item"
    description = "The next item a customer buys or views, ranked over the whole catalogue."
    sample = "events.csv"
    columns = dict(user=("CustomerID", "user_id", "session_id"), time=("InvoiceDate", "timestamp", "time"),
                   item=("StockCode", "item_id"), text=("Description", "description", "product"),
                   country=("Country", "country"), segment=("segment",))
    segments = dict(country=category, segment=category)

    def keep_event(self, raw) -> bool:
        "Not a return: no cancelled invoice, no quantity below one (where the file has those columns)."
        if str(raw.get("InvoiceNo", "")).startswith("C"): return False
        try: return float(raw.get("Quantity", 1)) > 0
        except ValueError: return True

    def read(self, path):
        return with_products(path, super().read(path), "product")

@hookimpl
def register_tasks(register):
    register(NextItem)
