"""Audio and text augmentations of the DCASE 2022/2023 retrieval systems.

Audio (:mod:`retrieval.augment.audio`: gain, SpecAugment, Freq-MixStyle) works on batches of dB log-mel
spectrograms with an explicit ``torch.Generator``; text (:mod:`retrieval.augment.text`: EDA) works on caption
strings with an explicit ``numpy.random.Generator``; :mod:`retrieval.augment.wordnet` reads the WordNet 3.0 database
files for EDA's synonyms (``apt-get install wordnet-base wordnet-sense-index``);
:mod:`retrieval.augment.backtranslate` back-translates the training captions through Apertium (English-Spanish,
cached per data set); :mod:`retrieval.augment.variations` swaps in precomputed caption variations (e.g. the
ClothoV2_GPT rephrasings). PaSST's patchout lives with the encoder (:mod:`retrieval.encoders.passt`).
"""

from retrieval.augment.audio import AudioAugment, freq_mixstyle, gain, spec_augment
from retrieval.augment.text import OPERATIONS, TextAugment, check_text_augment_requirements, eda
from retrieval.augment.wordnet import (
    DEFAULT_WORDNET_DIRS,
    WORDNET_INSTALL_HINT,
    WordNet,
    WordNetMissing,
    find_wordnet_dir,
    load_wordnet,
)

__all__ = [
    "AudioAugment",
    "DEFAULT_WORDNET_DIRS",
    "OPERATIONS",
    "TextAugment",
    "WORDNET_INSTALL_HINT",
    "WordNet",
    "WordNetMissing",
    "check_text_augment_requirements",
    "eda",
    "find_wordnet_dir",
    "freq_mixstyle",
    "gain",
    "load_wordnet",
    "spec_augment",
]
