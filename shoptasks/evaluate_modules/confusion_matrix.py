"ConfusionMatrix as a local evaluate module: `evaluate.load('path/to/confusion_matrix.py')`; the metric itself is in nbs/06_metrics."
from shoptasks.metrics import ConfusionMatrix
