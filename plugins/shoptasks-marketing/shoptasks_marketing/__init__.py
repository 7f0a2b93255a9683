"""Marketing copy for shoptasks: a slogan or a line of copy from a brief.

Reads the Company Slogans data as published (Jin et al.; `desc` -> `output`, the company's industry as a report
segment), the sample shop's `copy.jsonl` (a customer segment and a product -> copy for that segment, the product's
fields read from `products.csv` beside it), or any CSV/JSONL whose columns are mapped."""
from shoptasks.hookspecs import hookimpl
from shoptasks.tasks import category, with_products
from shoptasks.generation import GenerationTask

class MarketingCopy(GenerationTask):
    name = "marketing-copy"
    description = "Marketing copy (a slogan, a line for a customer segment) written from a brief."
    sample = "copy.jsonl"
    demo = False                       # the demo shows one generation task, product-description
    columns = dict(brief=("desc", "brief", "product"), audience=("segment", "industry"), goal=("goal",),
                   label=("output", "copy"))
    text_roles, optional = ("audience", "goal", "brief"), ("audience", "goal")
    fields = dict(audience="<|segment|>", goal="<|segment|>", brief="<|description|>")
    target_field = "<|copy|>"
    segments = dict(audience=category)
    max_target = 48

    def read(self, path):
        return with_products(path, super().read(path), "product")

@hookimpl
def register_tasks(register):
    register(MarketingCopy)
