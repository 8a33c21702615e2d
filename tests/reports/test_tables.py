"""Collecting a study and its comparison tables: planted effects, left-out trials, alignment, factor tables."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution

from reports.collect import CollectError, align_runs, collect_study, read_per_query
from reports.stats import holm, paired_randomization_test, recipe_test
from reports.analysis import Settings, analyse_study, factor_specs
from reports.tables import comparison_table, report_tables

SETTINGS = Settings(resamples=2000, seed=0)
#: the unpaired method of reports built before stats version 2 (every recipe row by the unpaired recipe test)
SETTINGS_V1 = Settings(resamples=2000, seed=0, stats_version=1)
VARIANTS = ("full", "no_x", "same")


def _file_keys(run_dir):
    """(query, target, occurrence) of each row of a per_query.csv, in file order."""
    seen, out = {}, []
    with open(run_dir / "per_query.csv", newline="") as fh:
        for row in list(csv.reader(fh))[1:]:
            k = (row[0], row[1])
            out.append((row[0], row[1], seen.get(k, 0)))
            seen[k] = seen.get(k, 0) + 1
    return out


def study_tables(data, settings):
    """The report's tables but importance: the analysis without it, formatted."""
    return report_tables(analyse_study(data, settings, importance=False))


def _comparison_table(data, spec, settings):
    analysis = analyse_study(data, settings, importance=False)
    return comparison_table(analysis, next(f for f in analysis.factors if f.spec == spec))


def _table(tables, name):
    return next(t for t in tables if t.name == name)


def _rows(table):
    return {r[table.label_columns[0]]: r for r in table.rows}


def test_collect_counts_left_out_trials_with_reasons(ablation_study):
    data = collect_study(storage=ablation_study["url"], study="abl")
    assert data.state_counts()["COMPLETE"] == 7 and data.state_counts()["PRUNED"] == 1
    assert data.state_counts()["FAIL"] == 1
    assert len(data.included) == 6
    summary = data.left_out_summary()
    assert "1 pruned (stopped by ASHA)" in summary
    assert "1 failed (TrainingDiverged: loss is NaN at epoch 2)" in summary
    assert "1 no per-query file (#8: " in summary and "runs/empty/per_query.csv missing" in summary
    # seed is not a param; it is the trial's seed
    t = data.included[0]
    assert "seed" not in t.params and t.seed in (0, 1)
    assert len(data.query_keys) == 300
    # metrics from per_query.csv against a naive reference
    ap = ablation_study["ap"][("full", 0)]
    full0 = next(r for r in data.included if r.params["variant"] == "full" and r.seed == 0)
    assert full0.metrics["map10"] == pytest.approx(ap.mean(), abs=1e-12)
    ranks = np.array([int(round(1 / a)) for a in ap])
    assert full0.metrics["r1"] == pytest.approx(np.mean(ranks <= 1))
    assert full0.metrics["r5"] == pytest.approx(np.mean(ranks <= 5))


def test_ablation_detects_planted_drop_and_not_a_null_variant(ablation_study):
    """Stats version 1 (unpaired); the paired layout of version 2 is test_paired_rows_show_the_correlation."""
    data = collect_study(storage=ablation_study["url"], study="abl")
    tables = study_tables(data, SETTINGS_V1)
    abl = _table(tables, "ablation")
    rows = _rows(abl)
    assert list(rows) == ["full", "no_x", "same"]  # spec (choices) order, the baseline first
    assert rows["full"]["baseline"] is True and rows["full"]["delta_map10"] is None
    assert rows["full"]["comparison"] == "baseline" and rows["full"]["seed_aware"] is None
    drop = rows["no_x"]
    assert drop["comparison"] == "recipe" and drop["seed_aware"] is True  # 2 seeds per arm: the recipe test
    assert drop["delta_map10"] == pytest.approx(-0.1, abs=1e-5)
    assert drop["ci_low"] <= -0.1 <= drop["ci_high"] or drop["ci_high"] - drop["ci_low"] < 1e-5
    assert drop["p_holm"] < 0.01 and drop["mark"] in ("**", "***")
    null = rows["same"]
    assert null["comparison"] == "recipe" and null["ci_low"] < 0 < null["ci_high"]
    assert null["p_holm"] > 0.05 and null["mark"] == ""
    # naive references: mean +- sample std over seeds, Δ of the seed means, the recipe test on the arms of runs
    # (paired by (query, target, occurrence)), Holm over the rows
    ap = ablation_study["ap"]
    per_seed = [ap[("same", s)].mean() for s in (0, 1)]
    assert null["map10_mean"] == pytest.approx(np.mean(per_seed), abs=1e-12)
    assert null["map10_std"] == pytest.approx(np.std(per_seed, ddof=1), abs=1e-12)
    full = (ap[("full", 0)] + ap[("full", 1)]) / 2
    same = (ap[("same", 0)] + ap[("same", 1)]) / 2
    assert null["delta_map10"] == pytest.approx(np.mean(same - full), abs=1e-12)
    keys = [tuple(k) for k in data.query_keys]
    assert keys == sorted(keys)
    file_keys = _file_keys(ablation_study["runs"][("full", 0)])
    idx = np.array([file_keys.index(k) for k in keys])
    arm = {v: [ap[(v, s)][idx] for s in (0, 1)] for v in VARIANTS}
    ref_same, ref_drop = recipe_test(arm["same"], arm["full"]), recipe_test(arm["no_x"], arm["full"])
    assert null["p_value"] == pytest.approx(ref_same.p_value, rel=1e-9)
    assert (null["ci_low"], null["ci_high"]) == pytest.approx((ref_same.ci_low, ref_same.ci_high), rel=1e-9)
    assert null["p_holm"] == pytest.approx(holm([ref_drop.p_value, ref_same.p_value])[1])
    assert null["n_runs"] == 2 and null["seeds"] == [0, 1] and null["n_configs"] == 1
    # not pooled: only the seed varies within a row; the sd note says the runs are seeds of one configuration
    assert not any(n.startswith(("exploratory (", "query-only (")) or "pools" in n for n in abl.notes)
    assert any("over the row's runs (seeds of one configuration)." in n for n in abl.notes)
    md = abl.to_markdown()
    assert "| no_x | 2 |" in md and "-10.00" in md and "(baseline)" in md and "| recipe |" in md
    # Table 5 layout: R@1, R@5, R@10, mAP@10, then Δ, CI, p, p (Holm)
    assert md.splitlines()[2] == ("| variant | Runs | R@1 | R@5 | R@10 | mAP@10 | Δ mAP@10 | 95% CI | p | p (Holm) | "
                                  "Comparison |")


def test_recipe_rows_cover_seed_noise_and_single_runs_are_query_only(seeded_ablation_study):
    """3 seeds per variant with run-level seed effects: the planted drop is tested seed-aware and marked; 'same'
    (the full recipe with other seeds) is not called different although a query-only test on seed-averaged AP
    would be; 'once' (one run) gets an effect and a labelled query-only CI, no p, no mark, and stays out of Holm.
    Stats version 1 (unpaired): the seed shifts of this study are independent between the arms (no shared seed
    component), the design the unpaired test is for."""
    data = collect_study(storage=seeded_ablation_study["url"], study="sab")
    abl = _table(study_tables(data, SETTINGS_V1), "ablation")
    rows = _rows(abl)
    assert list(rows) == ["full", "no_x", "same", "once"]
    assert [rows[v]["comparison"] for v in rows] == ["baseline", "recipe", "recipe", "query-only"]
    assert [rows[v]["seed_aware"] for v in ("no_x", "same", "once")] == [True, True, False]
    drop, same, once = rows["no_x"], rows["same"], rows["once"]
    assert drop["ci_low"] < -0.1 < drop["ci_high"] and drop["p_holm"] < 0.05 and drop["mark"] != ""
    assert same["p_holm"] > 0.05 and same["mark"] == "" and same["ci_low"] < 0 < same["ci_high"]
    # the old method (seed-averaged per-query AP, paired over queries) calls the same recipe different
    ap = seeded_ablation_study["ap"]
    avg = {v: np.mean([ap[(v, s)] for s in (0, 1, 2)], axis=0) for v in ("full", "same")}
    assert paired_randomization_test(avg["same"], avg["full"], n_resamples=2000, seed=0) < 0.001
    # Δ of the seed means (hand) and the Holm family: the two recipe rows only
    assert same["delta_map10"] == pytest.approx(np.mean([ap[("same", s)].mean() - ap[("full", s)].mean()
                                                         for s in (0, 1, 2)]), abs=1e-12)
    assert drop["p_holm"] == pytest.approx(holm([drop["p_value"], same["p_value"]])[0])
    assert once["p_value"] is None and once["p_holm"] is None and once["mark"] == ""
    assert once["delta_map10"] == pytest.approx(ap[("once", 0)].mean() - np.mean([ap[("full", s)].mean()
                                                                                  for s in (0, 1, 2)]), abs=1e-12)
    assert once["ci_low"] <= once["delta_map10"] <= once["ci_high"]
    line = next(x for x in abl.to_markdown().splitlines() if x.startswith("| once |"))
    assert "(query-only) | – | – | query-only |" in line and "*" not in line
    notes = " ".join(abl.notes)
    assert "Holm-adjusted over the 2 recipe comparison(s)" in notes
    assert "query-only (once: the row has one run)" in notes and "covers query sampling only" in notes
    assert "A row of one run has no sd." in notes


def test_single_seed_grid_gives_query_only_rows_without_tests(single_seed_study):
    data = collect_study(storage=single_seed_study["url"], study="one_seed")
    abl = _table(study_tables(data, SETTINGS), "ablation")
    rows = _rows(abl)
    for v in ("no_x", "same"):
        r = rows[v]
        assert r["comparison"] == "query-only" and r["seed_aware"] is False
        assert r["p_value"] is None and r["p_holm"] is None and r["mark"] == ""
    ap = single_seed_study["ap"]
    assert rows["no_x"]["delta_map10"] == pytest.approx(-0.1, abs=1e-9)
    assert rows["no_x"]["ci_low"] == pytest.approx(-0.1, abs=1e-9) == rows["no_x"]["ci_high"]  # constant shift
    assert rows["same"]["delta_map10"] == pytest.approx(ap["same"].mean() - ap["full"].mean(), abs=1e-12)
    md = abl.to_markdown()
    assert "*" not in md.split("\n\n")[1]  # no mark anywhere in the table body
    notes = " ".join(abl.notes)
    assert not any(n.startswith("recipe (") for n in abl.notes) and "Holm-adjusted" not in notes
    assert "query-only (no_x, same: the row and the baseline have one run each)" in notes


def test_deterministic_given_seed_and_seed_matters(single_seed_study, seeded_ablation_study):
    data = collect_study(storage=single_seed_study["url"], study="one_seed")
    a = [t.to_csv() for t in study_tables(data, SETTINGS)]
    b = [t.to_csv() for t in study_tables(data, SETTINGS)]
    c = [t.to_csv() for t in study_tables(data, Settings(resamples=2000, seed=1))]
    assert a == b
    assert a != c  # the query-only bootstrap CI moves with the seed
    # recipe rows involve no resampling: the seed changes only the query-only row
    data = collect_study(storage=seeded_ablation_study["url"], study="sab")
    r0 = _rows(_table(study_tables(data, SETTINGS), "ablation"))
    r1 = _rows(_table(study_tables(data, Settings(resamples=2000, seed=1)), "ablation"))
    assert r0["no_x"] == r1["no_x"] and r0["same"] == r1["same"] and r0["once"] != r1["once"]


def test_alignment_by_query_target_any_order_with_duplicates(tmp_path, fab):
    ap = fab.base_scores(50, seed=3)
    rows = fab.queries(50)
    perm = np.random.default_rng(0).permutation(50)
    a = read_per_query(fab.write_run(tmp_path / "a", ap, rows=rows))
    b = read_per_query(fab.write_run(tmp_path / "b", ap, rows=rows, order=perm))
    keys, aps, _ = align_runs([a, b], ["a", "b"])
    np.testing.assert_array_equal(aps[0], aps[1])
    assert len(keys) == 50 and keys.count((rows[0][0], rows[0][1], 1)) == 1  # the duplicate, its 2nd occurrence


def test_mismatched_query_sets_name_both_runs_and_a_query(tmp_path, fab):
    ap = fab.base_scores(20)
    rows = fab.queries(20)
    a = read_per_query(fab.write_run(tmp_path / "a", ap, rows=rows))
    other = list(rows)
    other[7] = ("a dog barks in the rain", other[7][1])
    b = read_per_query(fab.write_run(tmp_path / "b", ap, rows=other))
    with pytest.raises(CollectError) as e:
        align_runs([a, b], ["run A", "run B"])
    msg = str(e.value)
    assert "run A" in msg and "run B" in msg and "caption 7 of clip 1" in msg


@pytest.mark.parametrize("content,needle", [
    ("query,target,ap10\nq,t,0.5\n", "missing column(s) rank"),
    ("query,target,rank,ap10\nq,t,1,1.5\n", "row 2: field ap10"),
    ("query,target,rank,ap10\nq,t,1,0.5\nq,t,zero,0.5\n", "row 3: field rank"),
    ("", "empty file"),
    ("query,target,rank,ap10\n", "no query rows"),
])
def test_bad_per_query_files_name_file_row_field(error_from_file, content, needle):
    path, msg = error_from_file("per_query.csv", content, read_per_query, CollectError)
    assert needle in msg and str(path) in msg


def _fusion_study(tmp_path, fab, kinds, name="fus"):
    """A TPE-like study: fusion.kind and a continuous lr vary; late fusion is +0.15 per query."""
    study, url = fab.new_study(tmp_path, name, sampler="tpe")
    dists = {"fusion.kind": CategoricalDistribution(["none", "late", "mid"]),
             "optim.lr": FloatDistribution(1e-4, 1e-2, log=True),
             "audio_encoder.name": CategoricalDistribution(["cnn-small", "cnn10"])}
    base = fab.base_scores(200, seed=5) * 0.8
    rng = np.random.default_rng(2)
    i = 0
    for kind in kinds:
        for _ in range(2):
            shift = {"none": 0.0, "late": 0.15, "mid": 0.0}[kind]
            ap = np.clip(base + shift + rng.normal(0, 0.02, base.size), 0, 1)
            d = fab.write_run(tmp_path / "runs" / f"{name}{i}", ap)
            fab.add_trial(study, params={"fusion.kind": kind, "optim.lr": float(10 ** rng.uniform(-4, -2)),
                                         "audio_encoder.name": ["cnn-small", "cnn10"][i % 2]},
                          distributions=dists, value=float(ap.mean()), run_dir=d)
            i += 1
    return collect_study(storage=url, study=name)


def test_sampled_study_rows_are_exploratory_with_pooled_parameters_named(tmp_path, fab):
    data = _fusion_study(tmp_path, fab, ["late", "none", "mid"])
    names = [s.name for s in factor_specs(data)]
    assert names == ["encoders", "fusion"]  # no separate factor_fusion_kind (same as the fusion table)
    fusion = _table(study_tables(data, SETTINGS), "fusion")
    rows = _rows(fusion)
    assert list(rows) == ["none", "late", "mid"]
    assert rows["none"]["baseline"] is True
    late = rows["late"]
    assert late["delta_map10"] == pytest.approx(0.15, abs=0.01)  # the effect is shown ...
    for r in (late, rows["mid"]):  # ... but not tested: no CI, no p, no mark
        assert r["comparison"] == "exploratory" and r["seed_aware"] is False
        assert (r["ci_low"], r["ci_high"], r["p_value"], r["p_holm"], r["mark"]) == (None, None, None, None, "")
        assert r["pooled_over"] == ["optim.lr", "audio_encoder.name"] and r["n_configs"] == 2
    ap = {t.number: t.metrics["map10"] for t in data.included}
    assert late["delta_map10"] == pytest.approx(np.mean([ap[n] for n in late["trials"]])
                                                - np.mean([ap[n] for n in rows["none"]["trials"]]), abs=1e-12)
    notes = " ".join(fusion.notes)
    assert "exploratory (late, mid): Δ only, no CI, no p-value, no mark." in notes
    assert "Row late pools 2 runs of 2 different configurations" in notes
    assert "the baseline none pools 2 runs of 2 different configurations" in notes
    assert "(optim.lr, audio_encoder.name)" in notes and "The tpe sampler chose" in notes
    assert f"python -m studies run studies/ablation.yaml --set 'base={{study: fus, storage: {data.storage}, " \
           "trial: best}'" in notes
    # the sd is described as what it is: over runs of different configurations, not seeds
    assert "late: sd over 2 runs of 2 configurations" in notes and "seeds of one configuration" not in notes
    body = fusion.to_markdown()
    assert "| late | 2 (2 configs) |" in body and "*" not in body.split("\n\n")[1]
    enc = _table(study_tables(data, SETTINGS), "encoders")
    assert [r["audio_encoder.name"] for r in enc.rows] == ["cnn-small", "cnn10"]
    assert {r["comparison"] for r in enc.rows} == {"baseline", "exploratory"}


def test_sampled_study_is_exploratory_even_when_rows_are_single_configurations(tmp_path, fab):
    """TPE chose the configurations; each was repeated for 2 seeds and only fusion.kind was searched: nothing is
    pooled, but no grid controlled the comparison either."""
    study, url = fab.new_study(tmp_path, "tpe2", sampler="tpe")
    dists = {"fusion.kind": CategoricalDistribution(["none", "late"])}
    base = fab.base_scores(100, seed=4)
    for kind in ("none", "late"):
        for seed in (0, 1):
            ap = np.clip(base + (0.1 if kind == "late" else 0.0) + 0.01 * seed, 0, 1)
            fab.add_trial(study, params={"fusion.kind": kind}, distributions=dists, value=float(ap.mean()),
                          run_dir=fab.write_run(tmp_path / f"{kind}{seed}", ap), seed=seed)
    data = collect_study(storage=url, study="tpe2")
    fusion = _table(study_tables(data, SETTINGS), "fusion")
    late = _rows(fusion)["late"]
    assert late["comparison"] == "exploratory" and late["pooled_over"] == [] and late["p_value"] is None
    notes = " ".join(fusion.notes)
    assert "Row late is 2 runs, seeds of one configuration." in notes and "The tpe sampler chose" in notes
    assert "Other searched parameters" not in notes


def test_grid_row_pooling_a_conditional_parameter_is_exploratory_the_others_recipe(conditional_grid_study):
    data = collect_study(storage=conditional_grid_study["url"], study="gridc")
    tables = study_tables(data, SETTINGS)
    rows = _rows(_table(tables, "fusion"))
    assert [rows[k]["comparison"] for k in ("none", "late", "mid")] == ["baseline", "recipe", "exploratory"]
    assert rows["late"]["mark"] != "" and rows["late"]["p_holm"] == rows["late"]["p_value"]  # a family of one
    assert rows["mid"]["pooled_over"] == ["fusion.mid.layers"] and rows["mid"]["n_runs"] == 4
    notes = " ".join(_table(tables, "fusion").notes)
    assert "Row mid pools 4 runs of 2 different configurations." in notes
    assert "mid: sd over 4 runs of 2 configurations; the other rows: sd over the row's runs (seeds of one " \
           "configuration)" in notes
    assert "sampler chose" not in notes  # a grid
    layers = _rows(_table(tables, "factor_fusion_mid_layers"))
    assert layers[2]["comparison"] == "recipe"  # within mid, layers is controlled


def test_absent_baseline_gives_no_delta_columns(tmp_path, fab):
    data = _fusion_study(tmp_path, fab, ["late", "mid"], name="nobase")
    fusion = _table(study_tables(data, SETTINGS), "fusion")
    assert "delta_map10" not in fusion.csv_columns and "Δ mAP@10" not in fusion.to_markdown()
    assert len(fusion.rows) == 2


def test_conditional_parameter_gets_its_own_table_of_trials_that_have_it(tmp_path, fab):
    from optuna.distributions import IntDistribution

    study, url = fab.new_study(tmp_path, "cond", sampler="grid")
    dists = {"fusion.kind": CategoricalDistribution(["none", "mid"]), "fusion.mid.layers": IntDistribution(1, 2)}
    base = fab.base_scores(100)
    for i, params in enumerate([{"fusion.kind": "none"}, {"fusion.kind": "mid", "fusion.mid.layers": 1},
                                {"fusion.kind": "mid", "fusion.mid.layers": 2}]):
        d = fab.write_run(tmp_path / f"r{i}", base)
        fab.add_trial(study, params=params, distributions={k: dists[k] for k in params}, run_dir=d)
    data = collect_study(storage=url, study="cond")
    spec = next(s for s in factor_specs(data) if s.keys == ("fusion.mid.layers",))
    t = _comparison_table(data, spec, SETTINGS)
    assert [r["fusion.mid.layers"] for r in t.rows] == [1, 2]
    assert any("conditional" in n for n in t.notes)
    fusion = _comparison_table(data, next(s for s in factor_specs(data) if s.name == "fusion"), SETTINGS)
    assert [r["fusion.kind"] for r in fusion.rows] == ["none", "mid"]
    mid = fusion.rows[1]  # pools fusion.mid.layers 1 and 2
    assert mid["comparison"] == "exploratory" and mid["pooled_over"] == ["fusion.mid.layers"]
    assert mid["delta_map10"] == 0.0 and mid["p_value"] is None and mid["ci_low"] is None
    layer2 = t.rows[1]  # within mid, one run per level: controlled but single runs
    assert layer2["comparison"] == "query-only" and layer2["ci_low"] == layer2["ci_high"] == 0.0


def test_latex_is_booktabs_and_escaped(tmp_path, fab):
    study, url = fab.new_study(tmp_path, "tex")
    dists = {"variant": CategoricalDistribution(["full", "no_a&b_%"])}
    for v in ("full", "no_a&b_%"):
        fab.add_trial(study, params={"variant": v}, distributions=dists,
                      run_dir=fab.write_run(tmp_path / v.replace("%", "p"), fab.base_scores(30)))
    data = collect_study(storage=url, study="tex")
    tex = _table(study_tables(data, SETTINGS), "ablation").to_latex()
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"no\_a\&b\_\%" in tex and "no_a&b" not in tex
    assert tex.count(r"\\") >= 3
    csv_rows = list(csv.reader(io.StringIO(_table(study_tables(data, SETTINGS), "ablation").to_csv())))
    assert csv_rows[2][0] == "no_a&b_%"


def test_summary_compute_and_top_configs(ablation_study):
    data = collect_study(storage=ablation_study["url"], study="abl")
    tables = study_tables(data, Settings(resamples=200, seed=0, top_k=2))
    summary = {r["quantity"]: r["value"] for r in _table(tables, "summary").rows}
    # 7 complete x 3 epochs + pruned 1 + failed 2 ; wall 10 s each x 9 trials x 1 CPU
    assert summary["trial-epochs"] == 7 * 3 + 1 + 2
    assert summary["CPU time (h)"] == pytest.approx(9 * 10 / 3600)
    assert summary["trials FAIL"] == 1
    top = _table(tables, "top_configs")
    assert len(top.rows) == 2
    # configurations pooled over seeds, ranked by mean objective: 'full' has 3 COMPLETE trials (one without
    # per_query.csv, value 0.3), 'same' and 'full' compete; recompute naively
    by_cfg = {}
    for t in data.trials:
        if t.state == "COMPLETE":
            by_cfg.setdefault(t.params["variant"], []).append(t.value)
    best = sorted(by_cfg, key=lambda v: -np.mean(by_cfg[v]))[:2]
    assert [r["variant"] for r in top.rows] == best


def test_variant_overrides_come_from_the_spec_the_study_was_run_with(ablation_study):
    # the runner records the resolved spec in the run folder; the ablation note shows those overrides, also when
    # the report is built from the storage alone (no spec file) or after the spec file changed
    import optuna
    import yaml

    folder = ablation_study["tmp"] / "runfolder"
    folder.mkdir()
    (folder / "spec.resolved.yaml").write_text(yaml.safe_dump(
        {"variants": {"full": {}, "no_x": {"augment.gain.g_max": 0.0}, "same": {}}}))
    study = optuna.load_study(study_name="abl", storage=ablation_study["url"])
    study.set_user_attr("run_folder", str(folder))
    data = collect_study(storage=ablation_study["url"], study="abl")
    assert data.variants["no_x"] == {"augment.gain.g_max": 0.0}
    table = next(t for t in study_tables(data, Settings(resamples=200)) if t.name == "ablation")
    assert "no_x = augment.gain.g_max=0" in table.to_markdown()


def _shared_seed_study(tmp_path, fab, seeds=(0, 1, 2, 3)):
    """A leave-one-out grid whose arms share each seed's component (split random streams: seed s gives every
    variant the same initial weights and data order): run = base + shift_s + small own noise; no_x 0.02 lower,
    same the full recipe with other augmentation draws (own noise only)."""
    variants = ("full", "no_x", "same")
    study, url = fab.new_study(tmp_path, "crn")
    dists = {"variant": CategoricalDistribution(list(variants)), "seed": CategoricalDistribution(list(seeds))}
    base = fab.base_scores(200, seed=2) * 0.8
    rng = np.random.default_rng(12)
    shifts = {s: 0.03 * rng.standard_normal() for s in seeds}
    aps = {}
    for v in variants:
        for s in seeds:
            ap = np.clip(base + shifts[s] + 0.004 * rng.standard_normal() + rng.normal(0, 0.01, base.size)
                         - (0.02 if v == "no_x" else 0.0), 0, 1)
            d = fab.write_run(tmp_path / "runs" / f"{v}-{s}", ap, rows=fab.queries(200))
            aps[(v, s)] = np.round(ap, 6)
            fab.add_trial(study, params={"variant": v, "seed": s}, distributions=dists, value=float(ap.mean()),
                          run_dir=d, seed=s)
    return url, aps


def test_paired_rows_show_the_correlation(tmp_path, fab):
    """Stats version 2: rows that ran the baseline's seeds are paired; the table gains the paired and
    seed_correlation columns (ρ seeds), the Comparison says "recipe (paired)" and a note explains the test. Version
    1 on the same study has the unpaired layout, and misses the planted 2 pp drop that the pairing finds."""
    from reports.stats import paired_recipe_test

    url, aps = _shared_seed_study(tmp_path, fab)
    data = collect_study(storage=url, study="crn")
    abl = _table(study_tables(data, SETTINGS), "ablation")
    assert abl.csv_columns[-2:] == ["paired", "seed_correlation"]
    rows = _rows(abl)
    assert rows["full"]["paired"] is None and rows["full"]["seed_correlation"] is None
    keys = [tuple(k) for k in data.query_keys]
    idx = np.array([_file_keys(tmp_path / "runs" / "full-0").index(k) for k in keys])
    arm = {v: [aps[(v, s)][idx] for s in (0, 1, 2, 3)] for v in ("full", "no_x", "same")}
    for v in ("no_x", "same"):
        want = paired_recipe_test(arm[v], arm["full"])
        r = rows[v]
        assert r["comparison"] == "recipe" and r["seed_aware"] is True and r["paired"] is True
        assert r["seed_correlation"] == pytest.approx(want.correlation, rel=1e-9) and want.correlation > 0.9
        assert (r["delta_map10"], r["ci_low"], r["ci_high"], r["p_value"]) == pytest.approx(
            (want.diff, want.ci_low, want.ci_high, want.p_value), rel=1e-9)
    assert rows["no_x"]["p_holm"] < 0.01 and rows["same"]["p_holm"] > 0.05
    md = abl.to_markdown()
    assert md.splitlines()[2].endswith("| Comparison | ρ seeds |")
    line = next(x for x in md.splitlines() if x.startswith("| no_x |"))
    assert f"| recipe (paired) | {rows['no_x']['seed_correlation']:+.2f} |" in line
    assert r"$\rho$ seeds" in abl.to_latex()
    notes = " ".join(abl.notes)
    assert "recipe (paired) (no_x, same): the row and the baseline ran the same seeds" in notes
    assert "Holm-adjusted over the 2 recipe comparison(s)" in notes and "recipe (no_x" not in notes
    old = _table(study_tables(data, SETTINGS_V1), "ablation")
    assert "paired" not in old.csv_columns and "ρ" not in old.to_markdown()
    assert _rows(old)["no_x"]["p_holm"] > 0.05  # the unpaired test counts the shared seed noise twice
