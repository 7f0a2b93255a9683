"""Customer-question tasks for shoptasks: will the answer to a yes/no question be yes, and what is the answer to an
open-ended one?

Both read the Amazon QA data as published (McAuley et al.; one Python dict literal per line, `.json` or `.json.gz`,
read with `ast.literal_eval`, never `eval`), the sample shop's `questions.jsonl`, or any CSV/JSONL whose columns are
mapped. Each question comes with the product's other questions as optional context: what else people ask about a
product says what it is."""
import ast, gzip
from pathlib import Path
from shoptasks.errors import ShoptasksError
from shoptasks.hookspecs import hookimpl
from shoptasks.tasks import ClassificationTask, category, with_products
from shoptasks.generation import GenerationTask

def read_python_literals(path: Path):
    """(line, row) of a file of one Python dict literal per line (`ast.literal_eval`), each row with `context`: the
    other questions about the same product (`asin`), joined with ' | '."""
    opener = gzip.open if path.name.endswith(".gz") else open
    rows = []
    with opener(path, "rt", encoding="utf-8") as f:
        for line, text in enumerate(f, 1):
            if not text.strip(): continue
            try: row = ast.literal_eval(text)
            except (ValueError, SyntaxError) as e:
                raise ShoptasksError(f"{path}: line {line} is not a Python dict literal ({type(e).__name__})") from None
            if not isinstance(row, dict): raise ShoptasksError(f"{path}: line {line} is not a dict")
            rows.append((line, row))
    keys = {k: None for _, row in rows for k in row}            # a key some rows lack (answerType) is None there
    rows = [(line, {**keys, **row}) for line, row in rows]
    asked = {}
    for _, row in rows: asked.setdefault(row.get("asin"), []).append(str(row.get("question", "")).strip())
    for line, row in rows:
        others = [q for q in asked.get(row.get("asin"), []) if q and q != str(row.get("question", "")).strip()]
        yield line, {**row, "context": " | ".join(others)}

class QuestionTask:
    """What the question tasks share: Amazon QA files as published, the question, and as context its product's other
    questions (Amazon QA) or its fields (a file naming an `item_id` beside a `products.csv`, as the sample shop's)."""
    def read(self, path: Path):
        if path.name.endswith((".json", ".json.gz")): return read_python_literals(path)
        return with_products(path, super().read(path), "context")

class ProductQAYesNo(QuestionTask, ClassificationTask):
    name = "product-qa-yesno"
    description = "Will the answer to a customer's yes/no question about a product be yes or no?"
    labels = ["no", "yes"]
    sample = None                      # the sample shop's questions are open-ended
    columns = dict(question=("question",), context=("context",), label=("answerType", "answer_type"))
    text_roles, optional = ("question", "context"), ("context",)

    def parse_label(self, value):
        "Y and N (yes, no) are labels; any other answer type ('?', or none for an open-ended question) skips the row."
        v = str(value or "").strip().lower()
        return {"y": "yes", "yes": "yes", "n": "no", "no": "no"}.get(v)

class ProductAnswer(QuestionTask, GenerationTask):
    name = "product-answer"
    description = "An answer to a customer's open-ended question about a product."
    sample = "questions.jsonl"
    demo = False                       # the demo shows one generation task, product-description
    columns = dict(question=("question",), context=("context",), label=("answer",), kind=("questionType", "attribute"))
    text_roles, optional = ("question", "context"), ("context",)
    fields = dict(question="<|question|>", context="<|item|>")
    target_field = "<|answer|>"
    segments = dict(kind=category)
    max_target = 64

    def read(self, path: Path):
        rows = super().read(path)
        if not path.name.endswith((".json", ".json.gz")): return rows
        return ((line, r) for line, r in rows if r.get("questionType") == "open-ended")     # yes/no has its own task

@hookimpl
def register_tasks(register):
    register(ProductQAYesNo)
    register(ProductAnswer)
