"Ranking as a local evaluate module: `evaluate.load('path/to/ranking.py')`; the metric itself is in nbs/06_metrics."
from shoptasks.metrics import Ranking
