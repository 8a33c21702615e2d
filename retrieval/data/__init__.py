"""Data sets and features.

One module per format, each reading its files into the same :class:`~retrieval.data.clotho.Split` of recordings
with captions and keywords: :mod:`~retrieval.data.clotho` (the ClothoV2 layout: ClothoV2.1 and SynthCaps),
:mod:`~retrieval.data.audiocaps`, :mod:`~retrieval.data.wavcaps`. :mod:`~retrieval.data.synthcaps` generates the
built-in benchmark, :mod:`~retrieval.data.datasets` dispatches by data-set name (and concatenates
``data.train_on``), :mod:`~retrieval.data.audio` reads and resamples audio, :mod:`~retrieval.data.features` computes
the frontends (log-mel, PANNs, PaSST) with an on-disk cache, and :mod:`~retrieval.data.loading` loads what a
training run needs (data folders, splits with their cached log-mels, :class:`~retrieval.data.loading.RunData`).
(Tiny format-exact copies for tests are written by ``tests/fixtures/tiny.py``.) Errors are
:class:`~retrieval.data.errors.DataError` naming the file, row and field.
"""
