"""SynthCaps constants: the current generator version, splits, levels and the planted-effect probabilities shared by
every version (what differs between versions lives in :mod:`.versions`)."""

from __future__ import annotations

GENERATOR_VERSION = "2.0.0"

SPLITS = ("development", "validation", "evaluation")
_SPLIT_TAG = {"development": "dev", "validation": "val", "evaluation": "eval"}

# levels and probabilities of the planted effects (see "What is in a clip" in the package docstring)
EVENT_LEVEL_DB = -26.0  # nominal event RMS (dBFS) before attribute offsets
CREST_MAX_DB = 15.0  # an event's peak is capped this far above its nominal RMS
HEADROOM_DB = -3.0  # one fixed factor on every mix
BACKGROUND_EVENT_DB = -5.0  # a flagged background ("bed") event
ATTRIBUTE_DB = {"loud": 8.0, "quiet": -8.0, "near": 2.0, "far": -6.0}
PITCH_FACTOR = {"high": 1.5, "low": 0.67}
RATE_FACTOR = {"fast": 1.6, "slow": 0.6}
ATTRIBUTE_DIMS: dict[str, tuple[str, str]] = {
    "loudness": ("loud", "quiet"),
    "pitch": ("high", "low"),
    "rate": ("fast", "slow"),
    "distance": ("near", "far"),
}
SNR_RANGE_DB = (12.0, 24.0)
SCENE_COMPONENT_GAIN = 0.2  # scene-specific background component relative to the common texture (-14 dB)
DURATION_RANGE_S = (4.0, 6.0)
SHIFT_GAIN_RANGE_DB = (-12.0, -3.0)  # version 1.1.0's level offset of the evaluation split
P_N_EVENTS = (0.35, 0.40, 0.25)
P_KEEP_EVENT_KEYWORD = 0.7
P_SCENE_KEYWORD = 0.8
P_SPURIOUS = (0.5, 0.35, 0.15)  # 0, 1, 2 spurious keywords
P_GENERIC = 0.35
P_SCENE_IN_CAPTION = 0.75
P_MENTION_ATTRIBUTE = 0.5
GENERIC_TAGS = ("field-recording", "ambience", "sound", "audio")
