"""Catalogue tasks for shoptasks: the top-level category of a product from its name and description.

Reads the Flipkart products CSV as it is published (the category path in `product_category_tree`,
a JSON list holding "Top >> Sub >> ..."), the sample shop's `products.csv`, or any CSV/JSONL whose
columns are mapped; a label may be a plain category or a " >> " path, of which the top level counts."""
import json
from shoptasks.hookspecs import hookimpl
from shoptasks.tasks import ClassificationTask

def top_category(value) -> str:
    """The first level of a category path: '["Watches >> Wrist Watches"]' and 'Watches > Men' give 'Watches'."""
    v = str(value or "").strip()
    if v.startswith("["):
        try: v = str((json.loads(v) or [""])[0])
        except json.JSONDecodeError: v = v.strip('[]"')
    return v.split(">>")[0].split(" > ")[0].strip()

class ProductCategory(ClassificationTask):
    name = "product-category"
    description = "The top-level category of a product, from its name and description."
    sample = "products.csv"
    columns = dict(name=("product_name", "title"), description=("description",), label=("product_category_tree", "category"))
    text_roles = ("name", "description")
    max_length = 192

    def parse_label(self, value):
        top = top_category(value)
        if not top: raise ValueError("expected a category or a category path")
        return top

@hookimpl
def register_tasks(register):
    register(ProductCategory)
