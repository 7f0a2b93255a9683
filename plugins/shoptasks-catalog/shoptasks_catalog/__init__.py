"""Catalogue tasks for shoptasks: a product's top-level category, and its description written from its fields.

Both read the Flipkart products CSV as it is published (the category path in `product_category_tree`, a
JSON list holding "Top >> Sub >> ..."; the specifications as a Ruby-hash-like string), the sample shop's
`products.csv`, or any CSV/JSONL whose columns are mapped; a label may be a plain category or a " >> "
path, of which the top level counts."""
import json, re
from shoptasks.hookspecs import hookimpl
from shoptasks.tasks import ClassificationTask
from shoptasks.generation import GenerationTask

LEVEL_SEPARATORS = re.compile(r"\s*(?:>>|>|\|)\s*|\s+/\s+")   # "/" only between spaces: "T-Shirts/Tops" is one level

def category_levels(value) -> list:
    """The levels of a category path in the common notations: 'A > B', 'A >> B', 'A | B', 'A / B', a JSON list of
    levels ('["A", "B"]', or a list in a JSONL file) or of one path (Flipkart's '["Watches >> Wrist Watches >> Titan
    123..."]'); without a last level cut off with '...' (Flipkart ends its paths with the product's truncated name)."""
    v = value.strip() if isinstance(value, str) else value
    if isinstance(v, str) and v.startswith("["):
        try: v = json.loads(v)
        except json.JSONDecodeError: v = v.strip('[]"')
    if isinstance(v, list) and len(v) == 1: v = v[0]
    if isinstance(v, list): levels = [str(x).strip() for x in v if str(x).strip()]
    else: levels = [l for l in LEVEL_SEPARATORS.split(str(v or "").strip()) if l]
    return levels[:-1] if len(levels) > 1 and levels[-1].endswith("...") else levels

def top_category(value) -> str:
    """The first level of a category path: '["Watches >> Wrist Watches"]' and 'Watches > Men' give 'Watches'."""
    return (category_levels(value) or [""])[0]

class ProductCategory(ClassificationTask):
    name = "product-category"
    description = "The top-level category of a product, from its name and description."
    sample = "products.csv"
    columns = dict(name=("product_name", "title"), description=("description",), label=("product_category_tree", "category"))
    text_roles, optional = ("name", "description"), ("description",)      # a catalogue may hold names alone
    max_length = 192

    def parse_label(self, value):
        "The top level of a category path; None (the row is skipped and counted) for an empty one."
        return top_category(value) or None

SPECIFICATION = re.compile(r'\{(?:"key"=>"((?:[^"\\]|\\.)*)", )?"value"=>"((?:[^"\\]|\\.)*)"\}')

def specifications(value) -> list | None:
    """The (key, value) pairs of Flipkart's `{"product_specification"=>[{"key"=>"Color", "value"=>"Blue"}, ...]}`,
    read without `eval` (a value without a key has key ''); None when the text holds no pair (malformed or nil)."""
    pairs = [(k.strip(), v.strip()) for k, v in SPECIFICATION.findall(str(value or "")) if v.strip()]
    return pairs or None

class ProductDescription(GenerationTask):
    name = "product-description"
    description = "A product's description, written from its name, brand, category and specifications."
    sample = "products.csv"
    columns = dict(name=("product_name", "title"), brand=("brand",), category=("product_category_tree", "category"),
                   specifications=("product_specifications",), colour=("colour",), material=("material",),
                   size=("size",), price=("discounted_price", "price"), label=("description",))
    text_roles = ("name", "brand", "category", "specifications", "colour", "material", "size", "price")
    optional = text_roles[1:]
    target_field = "<|description|>"
    max_target = 192                                # descriptions run long: 140 words keep retrieval's ROUGE-L
    decoding = dict(max_new_tokens=192)             # within .01 of whole texts on Flipkart
    attribute_roles = dict(brand="brand", colour="colour", material="material", size="size")
    SPECIFIED = {"brand": "brand", "color": "colour", "colour": "colour", "material": "material", "fabric": "material",
                 "size": "size"}

    def attributes(self, row) -> dict:
        "The attribute values of the row's fields and of its specifications (Color, Material, Fabric, Size, Brand)."
        found = super().attributes(row)
        for key, value in specifications(row.inputs.get("specifications")) or []:
            if key.lower() in self.SPECIFIED: found.setdefault(self.SPECIFIED[key.lower()], []).append(value)
        return found

    def prompt_parts(self, row) -> list:
        "The name, brand, category path, specifications (with colour, material and size) and price, in that order."
        v = row.inputs
        attributes = [*(specifications(v.get("specifications")) or []),
                      *((k, v[k]) for k in ("colour", "material", "size") if v.get(k))]
        parts = [("name", "<|title|>", v.get("name")), ("brand", "<|brand|>", v.get("brand")),
                 ("category", "<|category|>", " > ".join(category_levels(v.get("category")))),
                 ("specifications", "<|attributes|>", "; ".join(f"{k}: {x}" if k else x for k, x in attributes)),
                 ("price", "<|price|>", v.get("price"))]
        return [p for p in parts if p[2]]

    def template(self, row) -> str:
        "A fixed sentence: the name, brand and category, the specifications, the price."
        v = row.inputs
        specs = "; ".join(f"{k} {x}" if k else x for k, x in specifications(v.get("specifications")) or [])
        parts = [v.get("name", ""), f"by {v['brand']}" if v.get("brand") else "",
                 f"in {category_levels(v['category'])[-1]}" if category_levels(v.get("category")) else ""]
        return " ".join(s for s in (" ".join(p for p in parts if p) + ".", specs and f"{specs}.",
                                    v.get("price") and f"Price: {v['price']}.") if s)

    def notes(self, examples, outputs=None) -> dict:
        "How many rows have specifications that could not be read (malformed, or nil): they are used without them."
        given = [r.inputs.get("specifications") for r in examples.rows]
        bad = sum(1 for v in given if v and not specifications(v))
        unreadable = {"rows with unreadable specifications": bad} if "specifications" in examples.columns else {}
        return {**unreadable, **super().notes(examples, outputs)}

@hookimpl
def register_tasks(register):
    register(ProductCategory)
    register(ProductDescription)
