"""Sequential ablations in the runner (studies/sequential.py): the spec, the plan as a function of the study's trials,
and real Ray Tune runs of a trainable with planted effects (studies.testing.planted_ablation_trial): one runner, a
second run of a finished study, two runners on one study, and the report that replays the decisions."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from studies.sequential import ALL_DECIDED, MAX_REACHED, plan
from studies.spec import SpecError, load_spec
from studies.testing import PLANTED_ENV, write_planted_run

VARIANTS = ["full", "no_big", "no_none", "no_mid"]
# no_big: a large effect; no_none: nothing, with little run noise; no_mid: a small effect under a lot of run noise
PLANTED = {"effects": {"no_big": -0.08, "no_mid": -0.01},
           "noise": {"full": 0.002, "no_big": 0.002, "no_none": 0.002, "no_mid": 0.02}, "seed_sd": 0.03}


def spec_dict(name: str = "seq", **seeds) -> dict:
    return {"name": name, "base": {"extends": "synthcaps-tiny", "train": {"epochs": 1}},
            "variants": {"full": {}, "no_big": {"augment.gain.g_max": 0.0}, "no_none": {"augment.mixstyle.p": 0.0},
                         "no_mid": {"augment.spec.n_t": 0}},
            "space": {"variant": {"categorical": VARIANTS}}, "sampler": {"kind": "grid"},
            "resources": {"cpu": 1, "max_concurrent": 2},
            "seeds": {"min": 3, "max": 6, "delta": 0.02, **seeds}}


# --------------------------------------------------------------------------------------------- the spec
def test_a_sequential_spec_holds_its_design_and_its_seeds_in_order():
    spec = load_spec(spec_dict(first=100))
    assert spec.sequential == {"min": 3, "max": 6, "delta": 0.02, "alpha": 0.05, "control": "full"}
    assert spec.seeds == (100, 101, 102, 103, 104, 105)
    assert spec.num_samples == 4 * 6  # the upper bound: every variant at max
    again = load_spec(spec.to_dict())  # the resolved spec loads back to the same design
    assert again.sequential == spec.sequential and again.seeds == spec.seeds
    assert load_spec(spec_dict(values=[7, 3, 5, 1, 2, 9])).seeds == (7, 3, 5, 1, 2, 9)


@pytest.mark.parametrize("change, message", [
    ({"seeds": {"min": 3, "max": 6}}, "seeds.delta: required"),
    ({"seeds": {"min": 2, "max": 6, "delta": 0.02}}, "seeds.min: expected an integer >= 3"),
    ({"seeds": {"min": 5, "max": 4, "delta": 0.02}}, "seeds.max: expected an integer >= seeds.min"),
    ({"seeds": {"min": 3, "max": 6, "delta": 2}}, "seeds.delta: expected a number in (0, 1)"),
    ({"seeds": {"min": 3, "max": 6, "delta": 0.02, "alpha": 0.6}}, "seeds.alpha"),
    ({"seeds": {"min": 3, "max": 6, "delta": 0.02, "control": "base"}}, "seeds.control: 'base' is not one of"),
    ({"seeds": {"min": 3, "max": 4, "delta": 0.02, "values": [1, 2, 3]}}, "seeds.values: 3 seed(s), but seeds.max"),
    ({"seeds": {"min": 3, "max": 6, "delta": 0.02, "maximum": 9}}, "seeds.maximum: unknown key"),
    ({"sampler": {"kind": "random"}, "budget": {"num_samples": 8}}, "needs sampler.kind: grid"),
    ({"budget": {"num_samples": 8}}, "budget.num_samples: leave it null"),
    ({"scheduler": {"kind": "asha"}}, "scheduler: a sequential design needs every run trained to the end"),
])
def test_a_bad_sequential_spec_is_refused_naming_the_key(change, message):
    raw = spec_dict()
    raw.update(change)
    with pytest.raises(SpecError) as err:
        load_spec(raw)
    assert message in str(err.value)


# --------------------------------------------------------------------------------------------- the plan
def trial(root: Path, number: int, variant: str, seed: int, state=TrialState.COMPLETE, planted=PLANTED):
    run_dir = root / "trials" / str(number)
    if state == TrialState.COMPLETE:
        write_planted_run(run_dir, planted, variant, seed)
    return create_trial(state=state, value=0.3 if state == TrialState.COMPLETE else None,
                        params={"variant": variant, "seed": seed},
                        distributions={"variant": CategoricalDistribution(VARIANTS),
                                       "seed": CategoricalDistribution(list(range(6)))},
                        user_attrs={"run_dir": str(run_dir), "seed": seed})


def study_of(root: Path, cells: list[tuple[str, int]], planted=PLANTED, **states) -> list:
    return [trial(root, i, v, s, states.get(f"{v}{s}", TrialState.COMPLETE), planted)
            for i, (v, s) in enumerate(cells)]


def test_the_first_round_is_every_variant_on_the_first_min_seeds(tmp_path):
    step = plan(load_spec(spec_dict()), [])
    assert step.enqueue == tuple({"variant": v, "seed": s} for v in VARIANTS for s in (0, 1, 2))
    assert not step.wait and step.finished is None


def test_the_next_round_waits_for_every_running_or_waiting_trial(tmp_path):
    cells = [(v, s) for v in VARIANTS for s in (0, 1, 2)]
    for state in (TrialState.RUNNING, TrialState.WAITING):
        step = plan(load_spec(spec_dict()), study_of(tmp_path, cells, no_mid2=state))
        assert step.wait and not step.enqueue and step.finished is None


def test_after_a_round_only_the_open_variants_and_the_control_get_the_next_seed(tmp_path):
    cells = [(v, s) for v in VARIANTS for s in (0, 1, 2)]
    step = plan(load_spec(spec_dict()), study_of(tmp_path, cells))
    d = step.decisions
    assert d["no_big"].status == "effect" and d["no_big"].sign == -1 and d["no_big"].final
    assert d["no_none"].status == "no effect larger than δ" and d["no_none"].final
    assert d["no_mid"].status == "undecided" and not d["no_mid"].final
    assert step.enqueue == ({"variant": "no_mid", "seed": 3}, {"variant": "full", "seed": 3})
    # the plan is a function of the trials: asked again (another runner) it asks for the same, never for more
    assert plan(load_spec(spec_dict()), study_of(tmp_path, cells)).enqueue == step.enqueue


def test_a_failed_run_counts_as_a_seed_tried_and_its_row_gets_another_seed(tmp_path):
    cells = [(v, s) for v in VARIANTS for s in (0, 1, 2)]
    step = plan(load_spec(spec_dict()), study_of(tmp_path, cells, no_big1=TrialState.FAIL))
    assert step.decisions["no_big"] is None  # 2 pairs: not looked at
    assert {"variant": "no_big", "seed": 3} in step.enqueue and {"variant": "full", "seed": 3} in step.enqueue


def test_a_corrupt_or_truncated_per_query_file_counts_as_a_failed_run(tmp_path):
    cells = [(v, s) for v in VARIANTS for s in (0, 1, 2)]
    trials = study_of(tmp_path, cells)
    (tmp_path / "trials" / "4" / "per_query.csv").write_text("not,a,per-query\nfile\n")  # no_big seed 1
    lines = (tmp_path / "trials" / "7" / "per_query.csv").read_text().splitlines()  # no_none seed 1
    (tmp_path / "trials" / "7" / "per_query.csv").write_text("\n".join(lines[:50]) + "\n")
    step = plan(load_spec(spec_dict()), trials)
    assert step.decisions["no_big"] is None and step.decisions["no_none"] is None  # 2 pairs each: not looked at
    assert {"variant": "no_big", "seed": 3} in step.enqueue and {"variant": "no_none", "seed": 3} in step.enqueue


def test_the_ablation_finishes_when_every_variant_is_decided_or_at_max(tmp_path):
    cells = [(v, s) for v in VARIANTS for s in (0, 1, 2)] + [(v, s) for v in ("full", "no_mid") for s in (3, 4, 5)]
    step = plan(load_spec(spec_dict()), study_of(tmp_path, cells))
    assert step.finished == MAX_REACHED and not step.enqueue and step.decisions["no_mid"].n == 6
    quiet = {**PLANTED, "noise": {v: 0.0005 for v in VARIANTS}, "effects": {"no_big": -0.08}}
    cells = [(v, s) for v in VARIANTS for s in (0, 1, 2)]
    step = plan(load_spec(spec_dict()), study_of(tmp_path / "quiet", cells, quiet))
    assert step.finished == ALL_DECIDED, step.decisions


# --------------------------------------------------------------------------------------------- real runs
def _write_spec(tmp_path: Path, cache_dir: Path, name: str = "seq", storage: str | None = None) -> Path:
    raw = spec_dict(name)
    raw["base"]["data"] = {"cache_dir": str(cache_dir)}
    raw["storage"] = storage
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _cells(storage, name: str) -> list[tuple[str, int, str]]:
    st = optuna.load_study(study_name=name, storage=storage)
    return [(t.params["variant"], t.params["seed"], t.state.name) for t in st.get_trials(deepcopy=False)]


def test_a_sequential_study_adds_seeds_only_to_undecided_variants_and_its_report_shows_the_decisions(
        runner, tmp_path, cache_dir):
    spec = _write_spec(tmp_path, cache_dir)
    env = {PLANTED_ENV: json.dumps(PLANTED)}
    args = ["run", spec, "--runs-dir", tmp_path / "runs", "--trainable", "studies.testing:planted_ablation_trial"]
    r = runner(args, env=env)
    assert r.wait(600) == 0, r.output()
    r.assert_no_leftovers()
    out = r.output()
    assert f"done ({MAX_REACHED})" in out
    assert "no_big: 3 seed(s)" in out and ": effect" in out and "no_none: 3 seed(s)" in out
    db = f"sqlite:///{tmp_path / 'runs' / 'seq' / 'optuna.db'}"
    cells = _cells(db, "seq")
    assert all(state == "COMPLETE" for *_, state in cells)
    seeds = {v: sorted(s for w, s, _ in cells if w == v) for v in VARIANTS}
    assert seeds == {"full": [0, 1, 2, 3, 4, 5], "no_big": [0, 1, 2], "no_none": [0, 1, 2],
                     "no_mid": [0, 1, 2, 3, 4, 5]}

    again = runner(args, env=env)  # a finished study: nothing to do, and it says why
    assert again.wait(300) == 0, again.output()
    assert "nothing to do: the sequential ablation is finished" in again.output()
    assert len(_cells(db, "seq")) == 18
    status = subprocess.run([sys.executable, "-m", "studies", "status", str(spec), "--runs-dir", str(tmp_path / "runs")],
                            capture_output=True, text=True, cwd=tmp_path)
    assert f"sequential ablation (at most 24 trials): finished ({MAX_REACHED})" in status.stdout, status.stderr
    assert "no_mid: 6 seed(s)" in status.stdout

    build = subprocess.run([sys.executable, "-m", "reports", "build", str(spec), "--runs-dir", str(tmp_path / "runs"),
                            "--out", str(tmp_path / "report")], capture_output=True, text=True, cwd=tmp_path)
    assert build.returncode == 0, build.stderr
    with open(tmp_path / "report" / "tables" / "ablation.csv", newline="") as fh:
        rows = {r["variant"]: r for r in csv.DictReader(fh)}
    assert rows["no_big"]["decision"] == "effect" and rows["no_big"]["decision_seeds"] == "3"
    assert rows["no_none"]["decision"] == "no effect larger than δ"
    assert rows["no_mid"]["decision"] == "undecided" and rows["no_mid"]["decision_seeds"] == "6"
    assert "| effect (worse) |" in (tmp_path / "report" / "tables" / "ablation.md").read_text()


def test_two_runners_share_one_sequential_study_without_running_a_cell_twice(runner, tmp_path, cache_dir):
    journal = tmp_path / "seq2.journal"
    spec = _write_spec(tmp_path, cache_dir, name="seq2", storage=f"journal:{journal}")
    env = {PLANTED_ENV: json.dumps(PLANTED)}
    args = ["run", spec, "--runs-dir", tmp_path / "runs", "--trainable", "studies.testing:planted_ablation_trial"]
    first, second = runner(args, env=env), runner(args, env=env)
    for r in (first, second):
        assert r.wait(600) == 0, r.output()
        r.assert_no_leftovers()
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    cells = _cells(JournalStorage(JournalFileBackend(str(journal))), "seq2")
    done = [(v, s) for v, s, state in cells if state == "COMPLETE"]
    assert len(done) == len(set(done)) == len(cells) == 18  # the cells one runner runs, none twice


def test_a_study_that_runs_every_row_to_max_prints_the_decisions_when_it_ends(runner, tmp_path, cache_dir):
    """Every row undecided to ``max``: Tune stops at the design's last trial, before the searcher looks at the
    finished study; the runner still ends with the decisions (as a rerun's "nothing to do" does)."""
    raw = spec_dict("allmax", max=4)
    raw["variants"] = {"full": {}, "no_mid": {"augment.spec.n_t": 0}}
    raw["space"] = {"variant": {"categorical": ["full", "no_mid"]}}
    raw["base"]["data"] = {"cache_dir": str(cache_dir)}
    spec = tmp_path / "allmax.yaml"
    spec.write_text(yaml.safe_dump(raw, sort_keys=False))
    # no effect, much run noise: the repeated CI at 4 seeds is far wider than +-delta
    planted = {"effects": {}, "noise": {"full": 0.3, "no_mid": 0.3}, "seed_sd": 0.03, "n_queries": 20}
    r = runner(["run", spec, "--runs-dir", tmp_path / "runs", "--trainable", "studies.testing:planted_ablation_trial"],
               env={PLANTED_ENV: json.dumps(planted)})
    assert r.wait(600) == 0, r.output()
    r.assert_no_leftovers()
    out = r.output()
    assert "done (" in out and "no_mid: 4 seed(s)" in out and ": undecided" in out, out
    assert len(_cells(f"sqlite:///{tmp_path / 'runs' / 'allmax' / 'optuna.db'}", "allmax")) == 8
