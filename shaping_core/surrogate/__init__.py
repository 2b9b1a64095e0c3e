"""The human surrogate: a GRU model of how people choose (model.py), fitted with cross-validation
(fit.py) and saved as a checkpoint (checkpoint.py)."""
