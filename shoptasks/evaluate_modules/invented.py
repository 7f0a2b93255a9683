"Invented as a local evaluate module: `evaluate.load('path/to/invented.py')`; the metric itself is in nbs/06_metrics."
from shoptasks.metrics import Invented
