"""Review tasks for shoptasks: does the reviewer recommend the product, and how many stars?

Both read the review's title (where there is one) with its text, from the Women's E-Commerce Clothing Reviews
CSV as it is published, the Chinese online-shopping reviews (`review`, `label`, `cat`) as published, the sample
shop's `reviews.csv`, or any CSV/JSONL whose columns are mapped (`--column text=body --column label=stars`).
Rows carry two segments: the reviewer's age band and the product's department (or category)."""
from shoptasks.hookspecs import hookimpl
from shoptasks.tasks import ClassificationTask, age_band, category

POSITIVE, NEGATIVE = {"1", "1.0", "true", "yes", "positive", "recommended"}, {"0", "0.0", "false", "no", "negative", "not recommended"}

class ReviewTask(ClassificationTask):
    "What the review tasks share: the title and text, the segments and the sample file."
    sample = "reviews.csv"
    columns = dict(title=("Title", "title"), text=("Review Text", "text", "review"), age=("Age", "age"),
                   department=("Department Name", "category", "cat"))
    text_roles, optional = ("title", "text"), ("title",)     # a title says much in few words: "Love it!"
    segments = dict(age=age_band, department=category)

class ReviewSentiment(ReviewTask):
    name = "review-sentiment"
    description = "Is a review positive (the reviewer recommends the product) or negative?"
    labels = ["negative", "positive"]
    columns = dict(ReviewTask.columns, label=("Recommended IND", "recommended", "label"))
    demo_samples = ("reviews_zh.csv",)                       # the sample shop's Chinese reviews, a run of their own

    def parse_label(self, value):
        v = str(value).strip().lower()
        if v in POSITIVE: return "positive"
        if v in NEGATIVE: return "negative"
        raise ValueError("expected 1/0, true/false, yes/no or positive/negative")

class ReviewRating(ReviewTask):
    name = "review-rating"
    description = "How many stars (1-5) does a review give?"
    labels = ["1", "2", "3", "4", "5"]
    columns = dict(ReviewTask.columns, label=("Rating", "rating"))

    def parse_label(self, value):
        try: stars = float(value)
        except (TypeError, ValueError): stars = None
        if stars is None or stars != int(stars) or not 1 <= stars <= 5: raise ValueError("expected a whole number of stars from 1 to 5")
        return str(int(stars))

@hookimpl
def register_tasks(register):
    register(ReviewSentiment)
    register(ReviewRating)
