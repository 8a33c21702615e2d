"""``python -m benchmarks ablation_efficiency`` end to end on planted runs (studies.testing.planted_ablation_trial):
a fixed design and a sequential paired one, each a real study run (Ray Tune + Optuna), scored against each other;
the replication seed set; the simulated A/A; the result files. Plus the checks on the published fixed design."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from benchmarks.ablation_efficiency import PUBLISHED_FIXED, checks, main
from studies.testing import PLANTED_ENV

VARIANTS = ["full", "no_big", "no_none", "no_mid"]
OVERRIDES = {"full": {}, "no_big": {"augment.gain.g_max": 0.0}, "no_none": {"augment.mixstyle.p": 0.0},
             "no_mid": {"augment.spec.n_t": 0}}
PLANTED = {"effects": {"no_big": -0.08, "no_mid": -0.01},
           "noise": {"full": 0.002, "no_big": 0.002, "no_none": 0.002, "no_mid": 0.02}, "seed_sd": 0.03}


def _spec(path: Path, name: str, seeds, cache_dir: Path) -> Path:
    path.write_text(yaml.safe_dump({
        "name": name, "base": {"extends": "synthcaps-tiny", "train": {"epochs": 1},
                               "data": {"cache_dir": str(cache_dir)}},
        "variants": OVERRIDES, "space": {"variant": {"categorical": VARIANTS}}, "sampler": {"kind": "grid"},
        "resources": {"cpu": 1, "max_concurrent": 2}, "seeds": seeds}, sort_keys=False))
    return path


def test_the_benchmark_scores_both_designs_on_planted_runs(tmp_path, cache_dir, monkeypatch, capsys):
    monkeypatch.setenv(PLANTED_ENV, json.dumps(PLANTED))
    monkeypatch.chdir(tmp_path)
    fixed = _spec(tmp_path / "fixed.yaml", "fixed", list(range(6)), cache_dir)
    eff = _spec(tmp_path / "eff.yaml", "eff", {"min": 3, "max": 6, "delta": 0.02}, cache_dir)
    rc = main(["--fixed-spec", str(fixed), "--efficient-spec", str(eff), "--replication-first", "100",
               "--no-aa-redraw", "--variance-seeds", "0", "--aa-studies", "200", "--resamples", "200",
               "--runs-dir", str(tmp_path / "runs"), "--out", str(tmp_path / "out"),
               "--trainable", "studies.testing:planted_ablation_trial"])
    assert rc == 0, capsys.readouterr()
    payload = json.loads((tmp_path / "out" / "ablation_efficiency.json").read_text())
    fx, ef, rep = payload["fixed"], payload["efficient"], payload["replications"][0]
    assert fx["runs"] == 24 and fx["source"] == "run" and fx["stats_version"] == 1
    assert "no_big" in fx["significant"] and "no_none" not in fx["significant"]
    # the sequential design stops the planted rows early: fewer runs, and it finds what the fixed one finds
    assert ef["runs"] < fx["runs"] and ef["decisions"]["no_big"] == "effect"
    assert ef["decisions"]["no_none"] == "no effect larger than δ"
    assert payload["checks"]["covers_fixed"] is (set(fx["significant"]) <= set(ef["significant"]))
    assert payload["checks"]["runs_ratio"] == pytest.approx(ef["runs"] / fx["runs"])
    assert rep["design"]["seeds"] == [100, 101, 102, 103, 104, 105] and "no_big" in rep["significant"]
    assert payload["aa"]["simulated_studies"] == 200 and 0.0 <= payload["aa"]["simulated_false_positive_rate"] <= 1
    assert payload["paired_correlation"]["per_row"]["no_big"] is not None
    # power at the measured components, with the planted effects as the pooled estimates over both seed sets
    power = payload["power"]
    assert power["effects"]["no_big"] == pytest.approx(-0.08, abs=0.01) and power["studies"] == 200
    assert len(power["scenarios"]) == 3 * 3  # each set's sd and the pooled one, times max 5, 8, 10
    for sc in power["scenarios"]:
        assert sc["effect_rate"]["no_big"] > 0.9 and sc["effect_rate"]["no_none"] < 0.1
    runs = [sc["runs"] for sc in power["scenarios"] if sc["diff_sd_from"] == "pooled"]
    assert runs == sorted(runs) and runs[0] < runs[-1]
    md = (tmp_path / "out" / "ablation_efficiency.md").read_text()
    assert "| no_big |" in md and "effect" in md and "not measured in this run" in md
    assert "## Power of the design (simulated)" in md


def test_the_published_fixed_design_is_what_docs_results_prints():
    fixed = json.loads(PUBLISHED_FIXED.read_text())
    assert fixed["runs"] == 80 and sorted(fixed["significant"]) == ["no_audio_aug", "no_gain"]
    assert sorted(r["variant"] for r in fixed["rows"][1:] if r["p_holm"] <= 0.05) == sorted(fixed["significant"])
    results = (Path(__file__).resolve().parents[2] / "docs" / "results.md").read_text()
    for r in fixed["rows"][1:]:  # Δ and Holm p as the published table prints them
        assert f"| {r['variant']} |" in results
        assert f"{100 * r['diff']:+.2f}".replace("-", "−") in results


def test_checks_compare_significant_sets_and_signs():
    fixed = {"runs": 80, "significant": ["a", "b"], "rows": [{"variant": "full"}, {"variant": "a", "diff": -0.04},
                                                              {"variant": "b", "diff": -0.03}]}
    eff = {"runs": 36, "significant": ["a", "b"], "rows": [{"variant": "full"}, {"variant": "a", "diff": -0.05},
                                                            {"variant": "b", "diff": 0.02}]}
    c = checks(fixed, eff)
    assert c["runs_ratio"] == pytest.approx(0.45) and c["covers_fixed"] and c["opposite_signs"] == ["b"]
    assert not checks(fixed, {**eff, "significant": ["a"]})["covers_fixed"]


def test_variance_sources_vary_one_stream_at_a_time_on_real_tiny_runs(tmp_path, cache_dir):
    """Real 1-epoch runs of a recipe without augmentations: varying only the augmentation streams must give the
    reference run bit for bit (no other draw may move), varying the initial weights must not."""
    from benchmarks.ablation_efficiency import STREAM_GROUPS, variance_sources

    recipe = ("synthcaps-tiny", {"train.epochs": 1, "data.cache_dir": str(cache_dir)}, "tiny")
    out = variance_sources(2, tmp_path / "runs", 1, recipes={"tiny": recipe})
    table = out["recipes"]["tiny"]
    assert set(table) == {*STREAM_GROUPS, "all", "within_run_last5"} and out["seeds"] == [0, 1]
    # the reference run (every stream at seed 0) counts in every group, plus one run with the group at seed 1
    assert all(table[g]["runs"] == 2 for g in (*STREAM_GROUPS, "all"))
    assert table["augmentations"]["sd"] == 0.0, "an unused stream moved other draws"
    assert table["init"]["sd"] > 0.0 and table["all"]["sd"] > 0.0
    assert len({tuple(table[g]["map10"]) for g in STREAM_GROUPS}) > 1
    assert table["within_run_last5"]["runs"] == 0  # 1 epoch: no fluctuation to measure
    assert len(list((tmp_path / "runs" / "variance_sources").iterdir())) == 6


def test_a_resumed_study_s_wall_time_leaves_out_the_gap_between_its_sessions():
    from datetime import datetime, timedelta

    from benchmarks.ablation_efficiency import busy_seconds

    t0 = datetime(2026, 12, 6, 12)
    at = lambda m: t0 + timedelta(minutes=m)  # noqa: E731
    # two trials side by side (0-10, 5-12), a gap (a later session), one more (60-70), one that never ended
    spans = [(at(0), at(10)), (at(5), at(12)), (at(60), at(70)), (at(65), None)]
    assert busy_seconds(spans) == (12 + 10) * 60
    assert busy_seconds([(at(0), at(3)), (at(1), at(2))]) == 3 * 60  # nested
    assert busy_seconds([(None, None)]) is None


def test_a_study_with_no_row_paired_with_the_control_ends_in_one_error_line(tmp_path, monkeypatch, capsys):
    """Every run but the control's failed (or was deleted): nothing to pair, so nothing to simulate; one error line
    naming the study and the control, exit 2, and no result file written."""
    import benchmarks.ablation_efficiency as ae

    monkeypatch.setattr(ae, "run_study", lambda *a, **k: None)
    monkeypatch.setattr(ae, "analyse", lambda runs_dir, name, **k: {
        "study": name, "design": {"control": "full", "min": 3, "max": 5, "delta": 0.02, "alpha": 0.05},
        "rows": [{"variant": "full"}, {"variant": "no_gain"}], "significant": [], "runs": 3})
    monkeypatch.setattr(ae, "paired_pieces", lambda result: {})
    rc = main(["--fixed", "published", "--replication-first", "0", "--variance-seeds", "0", "--no-aa-redraw",
               "--runs-dir", str(tmp_path / "runs"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: study 'ablation_efficient'") and "control 'full'" in err
    assert "Traceback" not in err and not (tmp_path / "out" / "ablation_efficiency.json").exists()
