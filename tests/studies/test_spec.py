"""Study specs: validation (every bad case names its key, before Ray starts), --set overrides, the shipped specs,
and the translation of a space to Optuna (conditions, grid x seeds)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml

from studies.spec import SpecError, describe, grid_points, load_spec

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "studies").glob("*.yaml"))


def base_spec(**sections):
    spec = {"name": "t", "base": "synthcaps-tiny",
            "space": {"fusion.kind": {"categorical": ["none", "late", "mid"]},
                      "fusion.mid.layers": {"int": [1, 3], "when": {"fusion.kind": "mid"}},
                      "optim.lr_audio": {"loguniform": [1.0e-4, 1.0e-2]}},
            "budget": {"num_samples": 4, "max_epochs": 2}}
    spec.update(sections)
    return spec


def error(spec, overrides=(), check_registries=True) -> str:
    with pytest.raises(SpecError) as info:
        load_spec(spec, overrides, check_registries=check_registries)
    return str(info.value)


# --------------------------------------------------------------------------------------------- shipped specs
@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_shipped_specs_are_valid(path):
    spec = load_spec(path)
    assert spec.name == path.stem
    assert spec.storage is None  # the default: sqlite in runs/<name>/
    if spec.sampler["kind"] == "tpe":  # every TPE option pinned in the file itself
        raw = yaml.safe_load(path.read_text())["sampler"]
        assert set(raw) - {"kind"} == set(spec.sampler) - {"kind"}


def test_shipped_spec_sizes():
    assert load_spec(ROOT / "studies/quick.yaml").num_samples == 30
    assert load_spec(ROOT / "studies/quick.yaml").max_epochs == 10
    dcase = load_spec(ROOT / "studies/dcase2022_augmentations.yaml")
    assert (dcase.num_samples, dcase.sampler["n_startup_trials"], dcase.base.train.patience) == (110, 10, 10)
    assert "augment.bt.p_bt" in {p.key for p in dcase.params}  # back-translation is searched, as in the paper
    assert load_spec(ROOT / "studies/encoders.yaml").num_samples == 12  # (3 cnn-small widths + cnn10) x 3
    assert load_spec(ROOT / "studies/fusion.yaml").num_samples == 9  # 3 kinds x 3 seeds
    ablation = load_spec(ROOT / "studies/ablation.yaml")
    assert ablation.num_samples == 40  # at most 8 variants x 5 seeds: a sequential paired design
    assert ablation.sequential == {"min": 3, "max": 5, "delta": 0.02, "alpha": 0.05, "control": "full"}
    assert ablation.base.train.seed_streams.mode == "split"  # pairs share their initial weights and data order
    full = ablation.trial_config({"variant": "full"}, 0).augment
    no_audio = ablation.trial_config({"variant": "no_audio_aug"}, 1)
    assert full.gain.g_max > 0 and full.spec.n_t > 0 and full.mixstyle.p > 0 and full.eda.p_eda > 0
    assert no_audio.augment.gain.g_max == 0 and no_audio.augment.spec.n_t == 0 and no_audio.augment.mixstyle.p == 0
    assert no_audio.augment.eda.p_eda == full.eda.p_eda and no_audio.train.seed == 1
    assert full.bt.p_bt > 0 and ablation.trial_config({"variant": "no_bt"}, 0).augment.bt.p_bt == 0
    no_text = ablation.trial_config({"variant": "no_text_aug"}, 0).augment
    assert no_text.bt.p_bt == 0 and no_text.eda.p_eda == 0 and no_text.gain.g_max == full.gain.g_max


# --------------------------------------------------------------------------------------------- resolution
def test_budget_resources_and_scheduler_reach_the_base():
    spec = load_spec(base_spec(budget={"num_samples": 4, "max_epochs": 3}, resources={"cpu": 2},
                               scheduler={"kind": "fifo", "patience": 2}))
    t = spec.base.train
    assert (t.epochs, t.num_threads, t.patience, t.progress) == (3, 2, 2, False)
    assert spec.sampler["multivariate"] is True and spec.sampler["n_startup_trials"] == 10  # pinned defaults
    assert spec.seeds == (spec.base.train.seed,)


def test_set_overrides():
    spec = load_spec(base_spec(), ["budget.num_samples=6", "base.train.epochs=5", "budget.max_epochs=null",
                                   "space.fusion.mid.layers.int=[1, 2]", "sampler.seed=3", "seeds=[0, 1]",
                                   "space.augment.gain.g_max={uniform: [0, 3]}"])
    assert spec.num_samples == 6 and spec.max_epochs == 5 and spec.sampler["seed"] == 3
    assert spec.param("fusion.mid.layers").high == 2 and spec.seeds == (0, 1)
    assert spec.param("augment.gain.g_max").kind == "uniform"
    replaced = load_spec(base_spec(base={"train": {"epochs": 7}}), ["base=synthcaps-tiny", "base.fusion.embed_dim=32"])
    assert replaced.base.data.synth_size == "tiny" and replaced.base.fusion.embed_dim == 32


def test_base_file_relative_to_the_spec(tmp_path):
    (tmp_path / "cfg.yaml").write_text("extends: synthcaps-tiny\nfusion: {kind: late}\n")
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(base_spec(base="cfg.yaml")))
    assert load_spec(tmp_path / "s.yaml").base.fusion.kind == "late"


def test_overrides_of_variants_and_seeds():
    spec = load_spec(base_spec(space={"variant": {"categorical": ["a", "b"]}},
                               variants={"a": {}, "b": {"fusion.kind": "late"}}, seeds=[3, 4],
                               sampler={"kind": "grid"}, budget={"num_samples": None}))
    assert spec.overrides({"variant": "b", "seed": 4}, 4) == {"fusion.kind": "late", "train.seed": 4}
    assert spec.trial_config({"variant": "b"}, 4).fusion.kind == "late"


# --------------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize("spec, overrides, prefix", [
    (base_spec(colour="red"), (), "colour: unknown key"),
    (base_spec(budget={"num_sample": 4}), (), "budget.num_sample: unknown key"),
    (base_spec(), ["foo.bar=1"], "foo.bar: unknown key"),
    (base_spec(name=""), (), "name:"),
    (base_spec(sampler={"kind": "cmaes"}), (), "sampler.kind:"),
    (base_spec(sampler={"kind": "tpe", "n_startup": 3}), (), "sampler.n_startup: unknown key"),
    (base_spec(scheduler={"kind": "asha", "patienc": 3}), (), "scheduler.patienc: unknown key"),
    (base_spec(scheduler={"kind": "asha", "reduction_factor": 1}), (), "scheduler.reduction_factor:"),
    (base_spec(budget={"num_samples": 0}), (), "budget.num_samples:"),
    (base_spec(budget={"num_samples": 3}, seeds=[0, 1]), (), "budget.num_samples: 3 is not a multiple"),
    (base_spec(resources={"cpu": 0}), (), "resources.cpu:"),
    (base_spec(objective={"metric": "accuracy"}), (), "objective.metric:"),
    (base_spec(objective={"mode": "up"}), (), "objective.mode:"),
    (base_spec(seeds=[1, 1]), (), "seeds:"),
    (base_spec(base="no-such-config"), (), "base: 'no-such-config' is neither"),
    (base_spec(base={"train": {"epochz": 1}}), (), "base.train.epochz: unknown key"),
    (base_spec(), ["base.train.epochs=0"], "base.train.epochs: must be in"),
    (base_spec(budget={"num_samples": 4, "max_epochs": 0}), (), "budget.max_epochs:"),
    # the space
    (base_spec(space={"augment.spec.n_t": {"int": [5, 2]}}), (), "space.augment.spec.n_t.int: empty range"),
    (base_spec(space={"augment.spec.n_t": {"int": [3, 3]}}), (), "space.augment.spec.n_t.int: empty range"),
    (base_spec(space={"augment.mixstyle.p": {"uniform": [0.5, 0.5]}}), (), "space.augment.mixstyle.p.uniform: empty"),
    (base_spec(space={"optim.lr_audio": {"loguniform": [0, 0.1]}}), (), "space.optim.lr_audio.loguniform: a log range"),
    (base_spec(space={"fusion.mid.layerz": {"int": [1, 2]}}), (), "space.fusion.mid.layerz: not a trial config key"),
    (base_spec(space={"colour": {"int": [1, 2]}}), (), "space.colour: not a trial config key"),
    (base_spec(space={"fusion.mid": {"int": [1, 2]}}), (), "space.fusion.mid: is a config section"),
    (base_spec(space={"fusion.kind": {"categorical": []}}), (), "space.fusion.kind.categorical: expected a non-empty"),
    (base_spec(space={"fusion.kind": {"uniform": [0, 1], "int": [0, 1]}}), (), "space.fusion.kind: expected exactly one"),
    (base_spec(space={"fusion.kind": {"categorical": ["none"], "wen": {}}}), (), "space.fusion.kind.wen: unknown key"),
    (base_spec(space={"augment.mixstyle.p": {"uniform": [0, 2]}}), (), "space.augment.mixstyle.p.uniform: "
                                                                            "augment.mixstyle.p: must be in [0, 1]"),
    (base_spec(space={"fusion.kind": {"categorical": ["none", "early"]}}), (), "space.fusion.kind.categorical:"),
    (base_spec(space={"audio_encoder.name": {"categorical": ["cnn-small", "resnet"]}}), (),
     "space.audio_encoder.name.categorical: unknown audio encoder 'resnet'"),
    (base_spec(space={"text_encoder.name": {"categorical": ["tiny-bert", "gpt"]}}), (),
     "space.text_encoder.name.categorical: unknown text encoder 'gpt'"),
    (base_spec(space={"fusion.mid.layers": {"int": [1, 2], "when": {"fusion.kind": "mid"}}}), (),
     "space.fusion.mid.layers.when: 'fusion.kind' is not a parameter of the space"),
    (base_spec(space={"fusion.kind": {"categorical": ["none", "mid"]},
                      "fusion.mid.layers": {"int": [1, 2], "when": {"fusion.kind": "early"}}}), (),
     "space.fusion.mid.layers.when.fusion.kind: fusion.kind never takes the value 'early'"),
    (base_spec(space={"optim.lr_audio": {"uniform": [0.001, 0.01]},
                      "fusion.mid.layers": {"int": [1, 2], "when": {"optim.lr_audio": 0.005}}}), (),
     "space.fusion.mid.layers.when.optim.lr_audio: cannot condition on a continuous"),
    (base_spec(space={"fusion.kind": {"categorical": ["none", "mid"], "when": {"fusion.mid.layers": 1}},
                      "fusion.mid.layers": {"int": [1, 2], "when": {"fusion.kind": "mid"}}}), (),
     "space.fusion.kind.when: circular conditions"),
    # checked together with its condition: 3 heads do not divide fusion.embed_dim (64), which matters for mid only
    (base_spec(space={"fusion.kind": {"categorical": ["none", "mid"]},
                      "fusion.mid.heads": {"categorical": [4, 3], "when": {"fusion.kind": "mid"}}}), (),
     "space.fusion.mid.heads.categorical: fusion.mid.heads: must divide fusion.embed_dim"),
    # variants
    (base_spec(variants={"a": {}}), (), "variants: declared, but the space has no 'variant' parameter"),
    (base_spec(space={"variant": {"categorical": ["a", "c"]}}, variants={"a": {}}), (),
     "space.variant.categorical: unknown variant 'c'"),
    (base_spec(space={"variant": {"categorical": ["a"]}}, variants={"a": {"augment.gainn.g_max": 1}}), (),
     "variants.a.augment.gainn.g_max: not a trial config key"),
    (base_spec(space={"variant": {"categorical": ["a"]}}, variants={"a": {"augment.gain.g_max": -1}}), (),
     "variants.a.augment.gain.g_max: augment.gain.g_max: must be in"),
    # the grid
    (base_spec(sampler={"kind": "grid"}), (), "space.optim.lr_audio: the grid sampler needs categorical or int"),
    (base_spec(sampler={"kind": "grid"}, space={"fusion.kind": {"categorical": ["none", "late"]}},
               budget={"num_samples": 3}), (), "budget.num_samples: 3 is more than the 2 grid points"),
])
def test_bad_specs_name_their_key(spec, overrides, prefix):
    assert error(spec, overrides).startswith(prefix)


def test_bad_spec_files(tmp_path):
    assert error(tmp_path / "missing.yaml").startswith("spec: file not found")
    (tmp_path / "bad.yaml").write_text("name: [unclosed\n")
    assert error(tmp_path / "bad.yaml").startswith("spec:")
    (tmp_path / "list.yaml").write_text("- a\n")
    assert error(tmp_path / "list.yaml").startswith("spec:")


def test_yaml_exponents_without_a_dot_are_numbers():
    spec = load_spec(base_spec(space={"optim.lr_audio": {"loguniform": ["1e-4", "1e-2"]}}))
    assert spec.param("optim.lr_audio").low == 1e-4


def test_cli_rejects_a_bad_spec_before_ray_starts(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(base_spec(space={"fusion.mid.layers": {"int": [1, 2],
                                                                         "when": {"fusion.kind": "mid"}}})))
    proc = subprocess.run([sys.executable, "-m", "studies", "run", str(bad), "--runs-dir", str(tmp_path / "runs")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={**os.environ, "RAY_ADDRESS": "127.0.0.1:1"})  # joining a cluster would fail loudly
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: space.fusion.mid.layers.when: 'fusion.kind' is not a parameter")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists()  # nothing was created


# --------------------------------------------------------------------------------------------- the space
def test_conditional_parameters_exist_only_when_their_condition_holds():
    spec = load_spec(base_spec(space={
        "fusion.kind": {"categorical": ["none", "late", "mid"]},
        "fusion.mid.layers": {"int": [1, 3], "when": {"fusion.kind": "mid"}},
        "fusion.mid.heads": {"categorical": [2, 4], "when": {"fusion.kind": "mid", "fusion.mid.layers": [2, 3]}},
        "fusion.metadata_dropout": {"uniform": [0.0, 0.5], "when": {"fusion.kind": ["late", "mid"]}},
    }))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(120):
        trial = study.ask()
        values = spec.space(trial)
        assert values == trial.params
        kind = values["fusion.kind"]
        assert ("fusion.mid.layers" in values) == (kind == "mid")
        assert ("fusion.mid.heads" in values) == (kind == "mid" and values["fusion.mid.layers"] >= 2)
        assert ("fusion.metadata_dropout" in values) == (kind != "none")
        spec.trial_config(values, 0)  # every sampled combination is a valid TrialConfig
        seen.add(tuple(sorted(values)))
        study.tell(trial, 0.0)
    assert len(seen) == 4  # none / late / mid shallow / mid deep


def test_conditions_may_come_before_what_they_name():
    spec = load_spec(base_spec(space={
        "fusion.mid.layers": {"int": [1, 2], "when": {"fusion.kind": "mid"}},
        "fusion.kind": {"categorical": ["none", "mid"]}}))
    assert [p.key for p in spec.params] == ["fusion.kind", "fusion.mid.layers"]


def test_grid_times_seeds_enumerates_exactly():
    spec = load_spec(base_spec(
        space={"audio_encoder.name": {"categorical": ["cnn-small", "cnn10"]},
               "audio_encoder.width": {"categorical": [8, 16], "when": {"audio_encoder.name": "cnn-small"}},
               "text_encoder.layers": {"int": [1, 3], "step": 2}},
        sampler={"kind": "grid"}, seeds=[0, 1, 2], budget={"num_samples": None}))
    points = grid_points(spec)
    assert len(points) == (2 + 1) * 2 * 3 == spec.num_samples
    assert len({tuple(sorted(p.items())) for p in points}) == len(points)
    assert all(("audio_encoder.width" in p) == (p["audio_encoder.name"] == "cnn-small") for p in points)
    assert {p["text_encoder.layers"] for p in points} == {1, 3} and {p["seed"] for p in points} == {0, 1, 2}
    # the define-by-run function reproduces each enqueued grid point exactly (seed included)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for p in points:
        study.enqueue_trial(p)
    for p in points:
        trial = study.ask()
        assert spec.space(trial) == p
        study.tell(trial, 0.0)


# --------------------------------------------------------------------------------------------- base: {study: ...}
def _source_study(tmp_path, values: dict[int, float], *, state_of=None, name="smbo"):
    """A finished search: trial n has objective values[n] and a run directory whose config.yaml has
    augment.gain.g_max = n (so the test can tell which trial the base came from)."""
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial

    from retrieval.config import TrialConfig
    from studies.storage import open_storage, resolve

    runs = tmp_path / "runs"
    study = optuna.create_study(study_name=name, direction="maximize",
                                storage=open_storage(resolve(None, runs / name)))
    for n, v in values.items():
        run_dir = runs / name / "study-0000000a" / "trials" / str(n)
        run_dir.mkdir(parents=True)
        cfg = TrialConfig.load("synthcaps-tiny").with_overrides({"augment.gain.g_max": float(n),
                                                                 "train.patience": 3})
        (run_dir / "config.yaml").write_text(yaml.safe_dump({"fingerprint": cfg.fingerprint(), "seed": 0,
                                                             "config": cfg.to_dict()}))
        state = (state_of or {}).get(n, TrialState.COMPLETE)
        study.add_trial(create_trial(state=state, value=v if state == TrialState.COMPLETE else None,
                                     params={"x": v}, distributions={"x": FloatDistribution(0, 1)},
                                     user_attrs={"run_dir": str(run_dir)}))
    return runs


def test_base_from_the_best_trial_of_another_study(tmp_path, monkeypatch):
    from optuna.trial import TrialState

    runs = _source_study(tmp_path, {0: 0.30, 1: 0.55, 2: 0.90, 3: 0.55},
                         state_of={2: TrialState.PRUNED})  # a pruned trial's value is not a final one
    monkeypatch.chdir(tmp_path)
    raw = base_spec(space={"variant": {"categorical": ["full", "no_gain"]}},
                    variants={"full": {}, "no_gain": {"augment.gain.g_max": 0.0}},
                    sampler={"kind": "grid"}, base={"study": "smbo", "trial": "best"},
                    budget={"num_samples": None, "max_epochs": 2})
    spec = load_spec(raw, check_registries=False)
    assert spec.base.augment.gain.g_max == 1.0  # trial #1: best COMPLETE value, the lower number of the tie
    assert spec.base.train.patience is None  # the source study's early stopping is not part of the recipe
    assert spec.base_from["trial"] == 1 and spec.base_from["value"] == 0.55
    assert spec.base_from["storage"] == "sqlite:///runs/smbo/optuna.db"  # relative: no machine path recorded
    assert spec.to_dict()["base_from"]["trial"] == 1
    assert "base: trial #1 of study smbo (best" in describe(spec)
    pinned = load_spec(raw, ["base.trial=3"], check_registries=False)  # --set base.trial=3
    assert pinned.base.augment.gain.g_max == 3.0 and pinned.base_from["selected"] == "3"
    assert load_spec(raw, ["base.train.epochs=2"], check_registries=False).base.train.epochs == 2


@pytest.mark.parametrize("base, message", [
    ({"study": "nope"}, r"base.study: no study 'nope'"),
    ({"study": "smbo", "trial": 7}, r"base.trial: the study 'smbo' .* has no COMPLETE trial #7"),
    ({"study": "smbo", "trial": "worst"}, r"base.trial: expected best or a trial number"),
    ({"study": "smbo", "colour": 1}, r"base.colour: unknown key"),
    ({"study": "smbo", "runs_dir": "elsewhere"}, r"base.study: no study 'smbo': the storage file .* does not exist"),
])
def test_base_from_study_errors_name_the_key(tmp_path, monkeypatch, base, message):
    _source_study(tmp_path, {0: 0.3})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError, match=message):
        load_spec(base_spec(base=base), check_registries=False)


def test_a_study_keeps_the_trial_its_base_came_from(tmp_path, monkeypatch):
    """Once started from trial #1 ('best'), the study refuses a base that now selects another trial."""
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import create_trial

    from studies.runner import run_study
    from studies.storage import open_storage, resolve
    from studies.study import RunnerError

    runs = _source_study(tmp_path, {0: 0.3, 1: 0.5})
    monkeypatch.chdir(tmp_path)
    raw = base_spec(name="abl", base={"study": "smbo"}, budget={"num_samples": 1, "max_epochs": 1})
    abl = optuna.create_study(study_name="abl", direction="maximize", storage=open_storage(resolve(None, runs / "abl")))
    abl.set_user_attr("base_from", {"study": "smbo", "trial": 1})
    abl.add_trial(create_trial(value=0.1, params={"x": 0.1}, distributions={"x": FloatDistribution(0, 1)}))
    run_study(raw, runs_dir=runs)  # the budget is spent: nothing to do, and the base is the recorded one
    better = optuna.load_study(study_name="smbo", storage=open_storage(resolve(None, runs / "smbo")))
    run_dir = runs / "smbo" / "study-0000000a" / "trials" / "0"
    better.add_trial(create_trial(value=0.9, params={"x": 0.9}, distributions={"x": FloatDistribution(0, 1)},
                                  user_attrs={"run_dir": str(run_dir)}))
    with pytest.raises(RunnerError, match=r"started from trial #1 of 'smbo', but base now selects trial #2"):
        run_study(raw, runs_dir=runs)
