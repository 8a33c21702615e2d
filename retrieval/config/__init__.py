"""The trial configuration: a typed, frozen :class:`TrialConfig`, the plug-in registries its values name, how it is
read, and what keeps earlier configurations and fingerprints valid.

One module per job; this package re-exports their public names (the one place that does), so ``from
retrieval.config import TrialConfig, ConfigError, AUDIO_ENCODERS ...`` is how the rest of the project imports them:

============== =========================================================================================
module         job
============== =========================================================================================
``catalogue``  the plug-in registries (``AUDIO_ENCODERS``, ``TEXT_ENCODERS``, ``FUSIONS``, ``DATASETS``,
               ``FRONTENDS``, ``AUGMENTATIONS``; ``REGISTRIES``) and their built-in entries
``schema``     the sections (``DataConfig`` ... ``TrainConfig``), ``TrialConfig`` and their checks
``load``       YAML files and ``extends:``, dotted keys, ``--set`` overrides, typed construction
``compat``     old spellings (``KEY_ALIASES``), ``LATER_KEYS``, ``LEGACY_SYNTH_VERSION``, the fingerprint
``named``      the named configs (``retrieval/configs/*.yaml``)
============== =========================================================================================

Values are checked by the validator the study specs share, :mod:`retrieval.checks`; errors are
:class:`ConfigError` (:mod:`retrieval.errors`) naming the dotted key.

Example::

    >>> cfg = TrialConfig.from_dict({"fusion": {"kind": "late"}})
    >>> cfg.with_overrides({"optim.lr_audio": 1e-3}).optim.lr_audio
    0.001
    >>> len(cfg.fingerprint())
    16
    >>> TrialConfig.from_dict({"fusion": {"kind": "early"}})
    Traceback (most recent call last):
    ...
    retrieval.errors.ConfigError: fusion.kind: unknown fusion 'early' (known fusions: late, mid, none)
"""

from ..errors import ConfigError
from .catalogue import (AUDIO_ENCODERS, AUGMENTATIONS, DATASETS, FRONTENDS, FUSIONS, REGISTRIES, TEXT_ENCODERS,
                        augmentation_steps, is_generated)
from .compat import (KEY_ALIASES, LATER_KEYS, LEGACY_SYNTH_VERSION, NON_SEMANTIC_KEYS, canonical_key, upgrade_raw)
from .load import deep_merge, load_raw, parse_override, set_dotted
from .named import CONFIG_DIR, list_named_configs
from .schema import (SEED_STREAMS, AudioCapsDataConfig, AudioEncoderConfig, AugmentConfig, BackTranslationConfig,
                     ClothoDataConfig, CnnEncoderConfig, DataConfig, EDAConfig, FeaturesConfig, FusionConfig,
                     GainConfig, LossConfig, MidFusionConfig, MixStyleConfig, OptimConfig, PasstEncoderConfig,
                     SeedStreamsConfig, SpecAugmentConfig, TextEncoderConfig, TrainConfig, TrialConfig,
                     VariationsConfig, WavCapsDataConfig, WeightAveragingConfig, augmentation_section)

__all__ = [
    "AUDIO_ENCODERS", "AUGMENTATIONS", "CONFIG_DIR", "DATASETS", "FRONTENDS", "FUSIONS", "KEY_ALIASES", "LATER_KEYS",
    "LEGACY_SYNTH_VERSION", "NON_SEMANTIC_KEYS", "REGISTRIES", "SEED_STREAMS", "TEXT_ENCODERS",
    "AudioCapsDataConfig", "AudioEncoderConfig", "AugmentConfig", "BackTranslationConfig", "ClothoDataConfig",
    "CnnEncoderConfig", "ConfigError", "DataConfig", "EDAConfig", "FeaturesConfig", "FusionConfig", "GainConfig",
    "LossConfig", "MidFusionConfig", "MixStyleConfig", "OptimConfig", "PasstEncoderConfig", "SeedStreamsConfig",
    "SpecAugmentConfig", "TextEncoderConfig", "TrainConfig", "TrialConfig", "VariationsConfig", "WavCapsDataConfig",
    "WeightAveragingConfig",
    "augmentation_section", "augmentation_steps", "canonical_key", "deep_merge", "is_generated",
    "list_named_configs", "load_raw", "parse_override", "set_dotted", "upgrade_raw",
]
