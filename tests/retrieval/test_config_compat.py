"""The configuration contract across layout changes: fingerprints and old config files.

The fingerprints below were computed at commit fe22cca, before ``audio_encoder`` got its per-encoder subsections
(``audio_encoder.cnn``, ``audio_encoder.passt``). Optuna studies, ``benchmarks/results/hpo_table.json`` and
``--resume`` compare fingerprints against what they recorded, so these literals are the contract: a change of the
config layout must not change the fingerprint of any existing configuration.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from retrieval.config import TrialConfig, list_named_configs

NAMED = {
    "panns-cnn14": "bda3701762732b59",
    "passt-roberta": "703786054bc5c02c",
    "synthcaps": "a84f0aad8ef32d17",
    "synthcaps-small": "d42916cc9f62a74b",
    "synthcaps-tiny": "fdade6ce288a74ac",
}

# (base config, flat dotted overrides as the specs, tests and docs write them) -> fingerprint
OVERRIDDEN = {
    "cnn-width-8": ("synthcaps-tiny", {"audio_encoder.width": 8}, "d6e7d723de7c82a2"),
    "cnn-width-32-dropout": ("synthcaps-tiny", {"audio_encoder.width": 32, "audio_encoder.dropout": 0.1},
                             "c665d1f8649438da"),
    "fusion-mid": ("synthcaps-small", {"fusion.kind": "mid", "fusion.mid.layers": 1, "fusion.mid.heads": 2},
                   "b37ad2b713e1005f"),
    "passt": ("synthcaps-tiny", {"audio_encoder.name": "passt", "audio_encoder.dim": 32, "audio_encoder.depth": 1,
                                 "audio_encoder.heads": 2, "audio_encoder.max_time_patches": 9,
                                 "audio_encoder.patch_size": 12, "audio_encoder.patch_stride": 8,
                                 "audio_encoder.s_patchout_t": 2, "audio_encoder.s_patchout_f": 1,
                                 "audio_encoder.segment_seconds": 2.0}, "b4e24bdbc7a6bae1"),
    "passt-frozen": ("passt-roberta", {"audio_encoder.frozen": True, "audio_encoder.s_patchout_t": 0,
                                       "audio_encoder.s_patchout_f": 0, "text_encoder.frozen": True},
                     "c747e1b0d65079f3"),
    "cnn10": ("panns-cnn14", {"audio_encoder.name": "cnn10", "audio_encoder.width": 64}, "48266ae81747f2d4"),
}

DEFAULT = "e124bd58f3354cb3"  # TrialConfig()
REPO = Path(__file__).resolve().parents[2]


def test_named_configs_keep_their_fingerprints():
    assert set(NAMED) == set(list_named_configs())
    assert {name: TrialConfig.load(name).fingerprint() for name in NAMED} == NAMED
    assert TrialConfig().fingerprint() == DEFAULT


@pytest.mark.parametrize("case", sorted(OVERRIDDEN))
def test_overridden_configs_keep_their_fingerprints(case):
    base, overrides, expected = OVERRIDDEN[case]
    cfg = TrialConfig.load(base).with_overrides(overrides)
    assert cfg.fingerprint() == expected
    # and so does the config read back from what a run writes into config.yaml
    assert TrialConfig.from_dict(cfg.to_dict()).fingerprint() == expected


def test_study_specs_keep_their_fingerprints():
    """The bases of the shipped study specs and every trial of the HPO table's grid (whose recorded
    ``base_fingerprint`` is c7b7b63889c59b4a)."""
    from studies.spec import grid_points, load_spec

    bases = {path: load_spec(REPO / path).base.fingerprint() for path in (
        "benchmarks/hpo_table.yaml", "studies/ablation.yaml", "studies/dcase2022_augmentations.yaml",
        "studies/encoders.yaml", "studies/fusion.yaml", "studies/passt.yaml", "studies/quick.yaml")}
    assert bases == {
        "benchmarks/hpo_table.yaml": "c7b7b63889c59b4a", "studies/ablation.yaml": "9baa481d23c7e104",
        "studies/dcase2022_augmentations.yaml": "d94ddca588e2113a", "studies/encoders.yaml": "ec219bccd8c1be61",
        "studies/fusion.yaml": "ec219bccd8c1be61", "studies/passt.yaml": "fdb10d4a76b83b81",
        "studies/quick.yaml": "c7b7b63889c59b4a"}
    table = load_spec(REPO / "benchmarks/hpo_table.yaml")
    fps = sorted(table.trial_config(p, 0).fingerprint() for p in grid_points(table))
    assert len(fps) == 48 and hashlib.sha256(" ".join(fps).encode()).hexdigest()[:16] == "69a5183790600559"
    passt = load_spec(REPO / "studies/passt.yaml")
    trial = passt.trial_config({"audio_encoder.s_patchout_t": 30, "audio_encoder.s_patchout_f": 2}, 0)
    assert trial.fingerprint() == "0ccab163d8ea58df"
