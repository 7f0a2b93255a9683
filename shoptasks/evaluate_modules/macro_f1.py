"MacroF1 as a local evaluate module: `evaluate.load('path/to/macro_f1.py')`; the metric itself is in nbs/06_metrics."
from shoptasks.metrics import MacroF1
