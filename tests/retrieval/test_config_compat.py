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
    # 2026-11-29, deliberately: the SynthCaps configs moved to generator 2.0.0, a 3-epoch warm-up and 3 augmented
    # vocabulary passes (they were a84f0aad8ef32d17, d42916cc9f62a74b and fdade6ce288a74ac). What they were is kept,
    # fingerprint for fingerprint, as the -v1 configs.
    "synthcaps": "f5a0362aafe3d465",
    "synthcaps-small": "05cfd2f25e8ec25e",
    "synthcaps-tiny": "d7e4d4f6882c59c6",
    "synthcaps-small-v1": "d42916cc9f62a74b",
    "synthcaps-tiny-v1": "fdade6ce288a74ac",
}

# (base config, flat dotted overrides as the specs, tests and docs write them) -> fingerprint
OVERRIDDEN = {
    "cnn-width-8": ("synthcaps-tiny-v1", {"audio_encoder.width": 8}, "d6e7d723de7c82a2"),
    "cnn-width-32-dropout": ("synthcaps-tiny-v1", {"audio_encoder.width": 32, "audio_encoder.dropout": 0.1},
                             "c665d1f8649438da"),
    "fusion-mid": ("synthcaps-small-v1", {"fusion.kind": "mid", "fusion.mid.layers": 1, "fusion.mid.heads": 2},
                   "b37ad2b713e1005f"),
    "passt": ("synthcaps-tiny-v1", {"audio_encoder.name": "passt", "audio_encoder.dim": 32, "audio_encoder.depth": 1,
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
        "benchmarks/hpo_table.yaml", "benchmarks/hpo_table_v2.yaml", "benchmarks/hpo_default_study.yaml",
        "studies/ablation.yaml", "studies/dcase2022_augmentations.yaml", "studies/encoders.yaml",
        "studies/fusion.yaml", "studies/passt.yaml", "studies/quick.yaml")}
    # the HPO tables were measured on synthcaps-small as it was (now synthcaps-small-v1) and keep their bases; the
    # shipped specs moved with synthcaps-small to SynthCaps 2.0.0 on 2026-11-29, deliberately (before: ablation
    # 9baa481d23c7e104, dcase2022_augmentations d94ddca588e2113a, encoders and fusion ec219bccd8c1be61, quick
    # c7b7b63889c59b4a); studies/ablation.yaml moved to split seed streams with the sequential paired design on
    # 2026-12-06, deliberately (before: 6bce56559cf20c3f)
    assert bases == {
        "benchmarks/hpo_table.yaml": "c7b7b63889c59b4a", "benchmarks/hpo_table_v2.yaml": "c7b7b63889c59b4a",
        "benchmarks/hpo_default_study.yaml": "c7b7b63889c59b4a", "studies/ablation.yaml": "21aa16075e820214",
        "studies/dcase2022_augmentations.yaml": "55e7fc20b3c37d93", "studies/encoders.yaml": "ac26128d4f9d4f55",
        "studies/fusion.yaml": "ac26128d4f9d4f55", "studies/passt.yaml": "fdb10d4a76b83b81",
        "studies/quick.yaml": "52ac60ccb1011db3"}
    table = load_spec(REPO / "benchmarks/hpo_table.yaml")
    fps = sorted(table.trial_config(p, 0).fingerprint() for p in grid_points(table))
    assert len(fps) == 48 and hashlib.sha256(" ".join(fps).encode()).hexdigest()[:16] == "69a5183790600559"
    passt = load_spec(REPO / "studies/passt.yaml")
    trial = passt.trial_config({"audio_encoder.s_patchout_t": 30, "audio_encoder.s_patchout_f": 2}, 0)
    assert trial.fingerprint() == "0ccab163d8ea58df"


# --------------------------------------------------------------------------------------------- old spellings
#: ``audio_encoder`` of passt-roberta as ``to_dict()`` wrote it (into every run folder's config.yaml) at fe22cca
OLD_PASST_SECTION = {
    "name": "passt", "width": 16, "dropout": 0.0, "checkpoint": "weights/passt-s-f128-p16-s10-ap.476-swa.pt",
    "frozen": False, "cache": True, "segment_seconds": 10.0, "dim": 768, "depth": 12, "heads": 12,
    "patch_size": 16, "patch_stride": 10, "max_time_patches": 99, "s_patchout_t": 50, "s_patchout_f": 4}


def old_layout(raw: dict) -> dict:
    """``raw`` (a new ``to_dict()``) with ``audio_encoder`` flat, exactly as the code before the subsections wrote
    it (same keys, same order)."""
    ae = raw["audio_encoder"]
    flat = {"name": ae["name"], "width": ae["cnn"]["width"], "dropout": ae["dropout"],
            "checkpoint": ae["checkpoint"], "frozen": ae["frozen"], "cache": ae["cache"],
            "segment_seconds": ae["segment_seconds"], **ae["passt"]}
    assert set(ae) == {"name", "dropout", "checkpoint", "frozen", "cache", "segment_seconds", "cnn", "passt"}
    return {**raw, "audio_encoder": flat}


def test_old_flat_dicts_give_the_same_config():
    new = TrialConfig.load("passt-roberta")
    old = {**new.to_dict(), "audio_encoder": OLD_PASST_SECTION}
    assert TrialConfig.from_dict(old) == new and TrialConfig.from_dict(old).fingerprint() == NAMED["passt-roberta"]
    assert old_layout(new.to_dict())["audio_encoder"] == OLD_PASST_SECTION
    for name in NAMED:
        cfg = TrialConfig.load(name)
        assert TrialConfig.from_dict(old_layout(cfg.to_dict())) == cfg
    # the new layout: one subsection per encoder family
    ae = new.to_dict()["audio_encoder"]
    assert ae["cnn"] == {"width": 16} and ae["passt"]["s_patchout_t"] == 50 and "dim" not in ae


def test_flat_and_nested_spellings_are_the_same_key():
    from retrieval.config import KEY_ALIASES, canonical_key

    assert canonical_key("audio_encoder.width") == "audio_encoder.cnn.width"
    assert canonical_key("audio_encoder.s_patchout_f") == "audio_encoder.passt.s_patchout_f"
    assert canonical_key("fusion.mid.layers") == "fusion.mid.layers"
    base = TrialConfig.load("synthcaps-tiny")
    values = {"dim": 24, "heads": 4, "patch_size": 20}
    assert len(KEY_ALIASES) == 9
    for old, new in KEY_ALIASES.items():
        value = values.get(old.split(".")[-1], 2)
        a, b = base.with_overrides({old: value}), base.with_overrides({new: value})
        assert a == b and a.fingerprint() == b.fingerprint(), old
    assert base.with_overrides({"audio_encoder.width": 8}).audio_encoder.cnn.width == 8
    assert base.with_overrides({"audio_encoder.dim": 64, "audio_encoder.heads": 4}).audio_encoder.passt.dim == 64


def test_an_old_and_a_new_spelling_of_one_key_in_one_mapping_must_agree():
    from retrieval.config import ConfigError

    same = {"audio_encoder": {"width": 8, "cnn": {"width": 8}}}
    assert TrialConfig.from_dict(same).audio_encoder.cnn.width == 8
    with pytest.raises(ConfigError, match=r"^audio_encoder.width: is the old spelling of audio_encoder.cnn.width"):
        TrialConfig.from_dict({"audio_encoder": {"width": 8, "cnn": {"width": 16}}})
    with pytest.raises(ConfigError, match=r"^audio_encoder.passt.depth: must be in \[1, 48\]"):
        TrialConfig.from_dict({"audio_encoder": {"depth": 0}})  # errors name the key where it lives now


def test_yaml_files_mix_spellings_across_extends(tmp_path):
    """A user's file in the old spelling extends a shipped config in the new one (and the other way round)."""
    old = tmp_path / "old.yaml"
    old.write_text("extends: synthcaps-tiny\naudio_encoder:\n  width: 8\n  s_patchout_t: 3\n")
    cfg = TrialConfig.load(old)
    assert cfg.audio_encoder.cnn.width == 8 and cfg.audio_encoder.passt.s_patchout_t == 3
    assert cfg == TrialConfig.load("synthcaps-tiny").with_overrides({"audio_encoder.width": 8,
                                                                      "audio_encoder.s_patchout_t": 3})
    new = tmp_path / "new.yaml"
    new.write_text(f"extends: {old}\naudio_encoder:\n  cnn:\n    width: 4\n")
    assert TrialConfig.load(new).audio_encoder.cnn.width == 4  # the child wins, whatever the spelling


def test_study_specs_accept_both_spellings():
    from studies.spec import load_spec

    spec = {"name": "s", "base": {"extends": "synthcaps-tiny", "audio_encoder": {"width": 8}},
            "space": {"audio_encoder.width": {"categorical": [4, 8]},
                      "audio_encoder.passt.depth": {"categorical": [1, 2]}},
            "sampler": {"kind": "grid"}}
    s = load_spec(spec)
    assert s.base.audio_encoder.cnn.width == 8
    trial = s.trial_config({"audio_encoder.width": 4, "audio_encoder.passt.depth": 2}, 0)
    assert trial.audio_encoder.cnn.width == 4 and trial.audio_encoder.passt.depth == 2
    assert load_spec(spec, ["base.audio_encoder.width=16"]).base.audio_encoder.cnn.width == 16
