"PerClass as a local evaluate module: `evaluate.load('path/to/per_class.py')`; the metric itself is in nbs/06_metrics."
from shoptasks.metrics import PerClass
