"""Natural language inference for the dual-memory NTM: the CDCL-NLI data format and its loader
(``data``), and the synthetic dataset this project ships (``synthetic``)."""

from .data import LABELS, NLIDataError, NLIExample, label_counts, load_nli, majority_accuracy

__all__ = ["LABELS", "NLIDataError", "NLIExample", "label_counts", "load_nli", "majority_accuracy"]
