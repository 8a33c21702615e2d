import pytest
import yaml

from retrieval.config import ConfigError, TrialConfig, list_named_configs, parse_override


def test_named_configs_load_and_validate():
    names = list_named_configs()
    assert {"synthcaps-tiny", "synthcaps-small", "synthcaps"} <= set(names)
    for name in names:
        cfg = TrialConfig.load(name)
        cfg.validate()
    assert TrialConfig.load("synthcaps-tiny").data.synth_size == "tiny"
    # extends: tiny inherits the small frontend
    assert TrialConfig.load("synthcaps-tiny").features == TrialConfig.load("synthcaps-small").features


def test_synth_version_lists_the_generator_versions():
    import typing

    from retrieval.config import DataConfig
    from retrieval.data.synthcaps import GENERATOR_VERSION, VERSIONS

    hint = typing.get_type_hints(DataConfig)["synth_version"]
    assert typing.get_args(hint) == tuple(VERSIONS)
    assert GENERATOR_VERSION == list(VERSIONS)[-1]


def test_a_config_without_synth_version_means_1_1_0_and_keeps_its_fingerprint():
    from retrieval.config import LEGACY_SYNTH_VERSION, DataConfig

    assert DataConfig().synth_version == LEGACY_SYNTH_VERSION == "1.1.0"
    base = TrialConfig.load("synthcaps-small").with_overrides({"data.synth_version": "1.1.0"})
    raw = base.to_dict()
    del raw["data"]["synth_version"]  # a config.yaml written before versions existed
    assert TrialConfig.from_dict(raw).data.synth_version == "1.1.0"
    assert TrialConfig.from_dict(raw).fingerprint() == base.fingerprint()
    new = base.with_overrides({"data.synth_version": "2.0.0"})
    assert new.fingerprint() != base.fingerprint()


@pytest.mark.parametrize("raw, key", [
    ({"fusion": {"kind": "early"}}, "fusion.kind"),
    ({"optim": {"lr_audio": "fast"}}, "optim.lr_audio"),
    ({"optim": {"lr_audio": -1.0}}, "optim.lr_audio"),
    ({"train": {"epochs": 0}}, "train.epochs"),
    ({"train": {"epochs": 2.5}}, "train.epochs"),
    ({"train": {"progress": "yes"}}, "train.progress"),
    ({"augment": {"spec": {"n_t": 99}}}, "augment.spec.n_t"),
    ({"augment": {"mixstyle": {"p": 1.5}}}, "augment.mixstyle.p"),
    ({"fusion": {"mid": {"layerz": 2}}}, "fusion.mid.layerz"),
    ({"modle": {}}, "modle"),
    ({"text_encoder": {"name": "hf"}}, "text_encoder.path"),
    ({"data": {"dataset": "clotho"}}, "data.root"),
    ({"data": {"synth_version": "1.0.0"}}, "data.synth_version"),
    ({"fusion": {"kind": "mid", "embed_dim": 30, "mid": {"heads": 4}}}, "fusion.mid.heads"),
])
def test_bad_values_name_the_key(raw, key):
    with pytest.raises(ConfigError) as err:
        TrialConfig.from_dict(raw)
    assert str(err.value).startswith(key + ":"), str(err.value)


def test_overrides_and_frozen():
    cfg = TrialConfig.load("synthcaps-small")
    new = cfg.with_overrides({"fusion.kind": "late", "optim.lr_audio": "3e-4", "augment.gain.g_max": 3})
    assert new.fusion.kind == "late" and new.optim.lr_audio == 3e-4 and new.augment.gain.g_max == 3.0
    assert cfg.fusion.kind == "none"  # the original is untouched
    with pytest.raises(Exception):
        cfg.fusion.kind = "late"  # frozen
    with pytest.raises(ConfigError, match="fusion.knd"):
        cfg.with_overrides({"fusion.knd": "late"})
    assert parse_override("train.patience=null") == ("train.patience", None)
    assert parse_override("optim.lr_head=1e-3") == ("optim.lr_head", "1e-3")


def test_fingerprint_is_stable_and_sensitive():
    a = TrialConfig.from_dict({"fusion": {"kind": "late"}, "train": {"seed": 1}})
    b = TrialConfig.from_dict({"train": {"seed": 1}, "fusion": {"kind": "late"}})
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != a.with_overrides({"train.seed": 2}).fingerprint()
    assert a.fingerprint() == TrialConfig.from_dict(a.to_dict()).fingerprint()
    # where the cache lives and whether bars are drawn cannot change a result
    assert a.fingerprint() == a.with_overrides({"train.progress": False, "data.cache_dir": "/x"}).fingerprint()
    assert a.fingerprint() != a.with_overrides({"train.num_threads": 1}).fingerprint()


def test_yaml_file_with_extends_and_run_config_round_trip(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("extends: synthcaps-tiny\nfusion:\n  kind: mid\n")
    cfg = TrialConfig.load(f)
    assert cfg.fusion.kind == "mid" and cfg.data.synth_size == "tiny"
    run_cfg = tmp_path / "config.yaml"
    run_cfg.write_text(yaml.safe_dump({"fingerprint": cfg.fingerprint(), "seed": 0, "config": cfg.to_dict()}))
    assert TrialConfig.load(run_cfg) == cfg
    with pytest.raises(ConfigError, match="neither a file nor a named config"):
        TrialConfig.load("no-such-config")
    bad = tmp_path / "bad.yaml"
    bad.write_text("fusion: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        TrialConfig.load(bad)
