"""audio-retrieval-harness: the retrieval library (data, encoders, fusion, augmentation, loss, training, metrics).

This package never imports Ray or Optuna; ``studies`` adapts it. Heavy modules (torch, transformers) are imported
lazily by the command line so ``python -m retrieval --help`` starts fast.
"""

__version__ = "0.1.0"
