"The local evaluate modules of shoptasks: `evaluate.load(path)` reads these scripts (see nbs/06_metrics)."
