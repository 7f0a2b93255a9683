"""`regress`, a kind of task written outside the shoptasks core, and a task of it: `review-stars`.

A regression task gives each row a number. The model is a pretrained backbone with a one-number head on its pooled
states (`HeadTask`, as classification has), trained on the target standardised by the training split's mean and
spread, its predictions kept within the training range. Reports give MAE (the headline: lower is better), RMSE and
Spearman's rank correlation, per segment too, beside two baselines: TF-IDF + ridge regression (its `alpha` chosen on
validation MAE) and the training mean."""
import math
import numpy as np, torch.nn.functional as F
from shoptasks.errors import check
from shoptasks.hookspecs import hookimpl
from shoptasks.metrics import FEATURES, text_features
from shoptasks.tasks import HeadTask, age_band, category

def spearman(predicted, targets) -> float:
    "Spearman's rank correlation; 0 where either side is constant (a constant prediction ranks nothing)."
    from scipy.stats import spearmanr
    if np.ptp(predicted) == 0 or np.ptp(targets) == 0: return 0.0
    return float(spearmanr(predicted, targets).statistic)

METRICS = dict(mae=lambda p, y: float(np.abs(p - y).mean()), rmse=lambda p, y: float(np.sqrt(((p - y) ** 2).mean())),
               spearman=spearman)

class RegressionTask(HeadTask):
    "A task that gives each row a number; subclasses name their columns (and may override `parse_label`)."
    kind, kind_noun = "regress", "regression"
    headline, maximize = "mae", False
    report_metrics = ("mae", "rmse", "spearman")
    output_columns = ("prediction",)
    mean: float | None = None          # the training targets' mean, spread and range (`setup`)
    std: float | None = None
    low: float | None = None
    high: float | None = None

    def parse_label(self, value):
        "The number of a value; None (the row is skipped and counted) for an empty one."
        if value is None or str(value).strip() == "": return None
        try: number = float(value)
        except (TypeError, ValueError): number = math.nan
        if not math.isfinite(number): raise ValueError("expected a number")
        return number

    def setup(self, train, *others):
        "The training targets' mean, spread and range: what the head's output is scaled by and kept within."
        if train is None or self.mean is not None: return
        y = np.asarray(train.labels(), dtype=float)
        check(len(y) >= 2 and y.std() > 0, f"{train.source}: the training split needs two different targets")
        self.mean, self.std, self.low, self.high = float(y.mean()), float(y.std()), float(y.min()), float(y.max())

    def n_outputs(self) -> int: return 1
    def target(self, label) -> float: return (label - self.mean) / self.std
    def loss(self, outputs, labels): return F.mse_loss(outputs.float()[:, 0], labels.float())

    def predict(self, outputs) -> tuple[list, list]:
        "Each row's number, in the targets' units and range; its score is the standardised output."
        z = outputs.float()[:, 0]
        return (z * self.std + self.mean).clamp(self.low, self.high).tolist(), z.tolist()

    def output_rows(self, outputs) -> list: return [dict(prediction=round(p, 4)) for p in self.predict(outputs)[0]]

    def metrics(self) -> dict: return METRICS
    def score(self, predicted, rows, names=None) -> dict:
        "MAE, RMSE and Spearman (all, or those `names`) of the numbers `predicted` for `rows`."
        p, y = np.asarray(predicted, dtype=float), np.asarray([r.label for r in rows], dtype=float)
        return {n: f(p, y) for n, f in METRICS.items() if names is None or n in names}

    def baseline(self): return TfidfRidge()
    def baselines(self) -> list: return [TfidfRidge(), TrainingMean()]

    def state(self) -> dict: return dict(super().state(), mean=self.mean, std=self.std, low=self.low, high=self.high)

class TfidfRidge:
    """TF-IDF (word or character n-grams, chosen as the classifier's baseline chooses them) and ridge regression,
    `alpha` chosen on validation MAE; predictions kept within the training range."""
    name = "TF-IDF + ridge"
    def __init__(self, grid=(0.1, 0.3, 1.0, 3.0, 10.0), alpha: float | None = None, features: str | None = None):
        self.grid, self.alpha, self.features = grid, alpha, features

    def fit(self, train_rows, val_rows=None):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import Ridge
        texts, y = [r.text for r in train_rows], [r.label for r in train_rows]
        self.features = self.features or text_features(texts)
        self.vec = TfidfVectorizer(min_df=2, sublinear_tf=True, **FEATURES[self.features])
        x, self.low, self.high = self.vec.fit_transform(texts), min(y), max(y)
        fit = lambda alpha: Ridge(alpha=alpha).fit(x, y)
        if self.alpha is None:
            check(val_rows, "choosing alpha needs validation rows")
            xv, yv = self.vec.transform([r.text for r in val_rows]), np.asarray([r.label for r in val_rows])
            def mae(alpha): return np.abs(np.clip(fit(alpha).predict(xv), self.low, self.high) - yv).mean()
            self.alpha = min(self.grid, key=mae)
        self.model = fit(self.alpha)
        return self

    def predict(self, rows) -> list:
        return np.clip(self.model.predict(self.vec.transform([r.text for r in rows])), self.low, self.high).tolist()
    def get_params(self) -> dict: return dict(alpha=self.alpha, features=self.features)
    def set_params(self, alpha=None, features=None):
        "Fix `alpha` and the features (a run's saved choice), so `fit` does not choose them again."
        self.alpha, self.features = alpha, features
        return self

class TrainingMean:
    "Every row's number is the training targets' mean."
    name = "training mean"
    def fit(self, train_rows, val_rows=None):
        self.mean = float(np.mean([r.label for r in train_rows]))
        return self
    def predict(self, rows) -> list: return [self.mean] * len(rows)
    def get_params(self) -> dict: return {}
    def set_params(self): return self

class ReviewStars(RegressionTask):
    name = "review-stars"
    description = "How many stars does a review give, as a number (1-5)?"
    sample, demo = "reviews.csv", False
    columns = dict(title=("Title", "title"), text=("Review Text", "text", "review"), label=("Rating", "rating"),
                   age=("Age", "age"), department=("Department Name", "category", "cat"))
    text_roles, optional = ("title", "text"), ("title",)
    segments = dict(age=age_band, department=category)

@hookimpl
def register_kinds(register): register(RegressionTask)

@hookimpl
def register_tasks(register): register(ReviewStars)
