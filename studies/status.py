"""``python -m studies status SPEC``: the trials of a study as a table, and its best trial.

Reads only the Optuna storage (no Ray, no torch)::

    study quick in sqlite:////…/runs/quick/optuna.db: 4 of 12 trials (complete 2, pruned 1, failed 1)
     #  state     val_map10  epochs   wall  note                                           params
     0  COMPLETE     0.2134      12  3m12s                                                 fusion.kind=late, audio_encoder.width=16
     1  PRUNED       0.0813       1    41s  stopped by the scheduler                       fusion.kind=none, audio_encoder.width=8
     2  FAIL              -       -     2s  ConfigError: text_encoder.path: '/x' is not a… fusion.kind=mid, fusion.mid.layers=2
     3  RUNNING           -       3      -  stale: its runner is gone (run with --resume)  fusion.kind=late, audio_encoder.width=8
    best: #0 val_map10 0.2134 (fusion.kind=late, audio_encoder.width=16)
      run directory: runs/quick/study-3f0c9a2e/trials/0
    run folder: runs/quick/study-3f0c9a2e
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from .spec import load_spec
from .storage import open_storage, resolve


def study_status(source: str | Path | Mapping[str, Any], overrides: Sequence[str] = (), *,
                 storage: str | None = None, runs_dir: str | Path = "runs") -> str:
    """The status text of the study of ``source`` (see the module docstring)."""
    import optuna

    from .study import BUDGET_ATTR, RunnerError, RunnerInfo

    spec = load_spec(source, overrides, check_registries=False)
    surl = resolve(storage or spec.storage, (Path(runs_dir) / spec.name).resolve())
    if surl.path is not None and not surl.path.exists():
        raise RunnerError(f"no study {spec.name!r}: {surl.path} does not exist (run it first)")
    storage_obj = open_storage(surl, write=False)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=spec.name, storage=storage_obj)
    except KeyError:
        raise RunnerError(f"no study {spec.name!r} in {surl}") from None
    budget = spec.num_samples
    recorded = study.user_attrs.get(BUDGET_ATTR)
    if isinstance(recorded, int) and not any(str(o).startswith("budget.") for o in overrides):
        budget = recorded  # what the study's last runner was given (e.g. --set budget.num_samples=4)
    text = format_status(study.get_trials(deepcopy=False), name=spec.name, where=str(surl),
                         metric=spec.objective["metric"], mode=spec.objective["mode"], budget=budget,
                         me=RunnerInfo.current())
    if spec.sequential is not None:  # where the rounds stand: each variant's decision so far
        from .sequential import describe_plan, plan

        step = plan(spec, study.get_trials(deepcopy=False))
        state = (f"finished ({step.finished})" if step.finished else "waiting for the round's trials" if step.wait
                 else f"next round: {len(step.enqueue)} trial(s)")
        text += f"sequential ablation (at most {spec.num_samples} trials): {state}\n"
        text += (describe_plan(step) + "\n") if step.decisions else ""
    folder = study.user_attrs.get("run_folder")
    return text + (f"run folder: {folder}\n" if folder else "")


def format_status(trials: Sequence, *, name: str, where: str, metric: str, mode: str, budget: int,
                  me=None) -> str:
    from optuna.trial import TrialState

    from .study import best_trial, format_params, is_stale

    counts = {s: sum(t.state == s for t in trials) for s in TrialState}
    parts = [f"{label} {counts[s]}" for s, label in ((TrialState.COMPLETE, "complete"), (TrialState.PRUNED, "pruned"),
                                                     (TrialState.FAIL, "failed"), (TrialState.RUNNING, "running"),
                                                     (TrialState.WAITING, "waiting")) if counts[s]]
    lines = [f"study {name} in {where}: {len(trials)} of {budget} trials ({', '.join(parts) or 'none yet'})"]
    rows = [["#", "state", metric, "epochs", "wall", "note", "params"]]
    for t in sorted(trials, key=lambda t: t.number):
        a = t.user_attrs
        epochs = a.get("epochs_trained", max(t.intermediate_values) if t.intermediate_values else None)
        note = ""
        if t.state == TrialState.FAIL:
            note = str(a.get("fail_reason") or "failed")
        elif t.state == TrialState.PRUNED:
            note = "stopped by the scheduler"
        elif t.state == TrialState.RUNNING and me is not None and is_stale(t, me):
            note = "stale: its runner is gone (run with --resume)"
        elif t.state == TrialState.WAITING:
            note = f"queued (seed {a['seed']})" if "seed" in a else "queued"
        value = t.value
        if t.state == TrialState.RUNNING and t.intermediate_values:
            value = t.intermediate_values[max(t.intermediate_values)]
            note = note or "running: latest epoch"
        if a.get("promoted_from") is not None:
            note = f"rung {a.get('rung')}, promoted from #{a['promoted_from']}" + (f"; {note}" if note else "")
        elif a.get("confirms") is not None:
            note = f"rung {a.get('rung')}, repeats #{a['confirms']}" + (f"; {note}" if note else "")
        if "seed" in a and t.state != TrialState.WAITING and len({x.user_attrs.get("seed") for x in trials}) > 1:
            note = f"seed {a['seed']}" + (f"; {note}" if note else "")
        params = t.params or (t.system_attrs.get("fixed_params") or {})
        rows.append([str(t.number), t.state.name, f"{value:.4f}" if value is not None else "-",
                     str(epochs) if epochs is not None else "-", _duration(a.get("wall_time_s")), _clip(note, 60),
                     format_params(dict(params), limit=12)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = {0, 2, 3, 4}
    for r in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells).rstrip())
    b = best_trial(trials, mode)
    if b is not None:
        where_ = ""
        if b.state != TrialState.COMPLETE:
            rung = b.user_attrs.get("rung")
            where_ = (f" [{b.state.name}: no trial has finished its schedule yet; best of the highest "
                      + (f"rung reached, rung {rung}]" if rung is not None else "fidelity reached]"))
        lines.append(f"best: #{b.number} {metric} {b.value:.4f}{where_} ({format_params(b.params, limit=20)})")
        if b.user_attrs.get("run_dir"):
            lines.append(f"  run directory: {b.user_attrs['run_dir']}")
        test = b.user_attrs.get("test_metrics") or {}
        if test:
            lines.append("  test: " + ", ".join(f"{k} {v:.4f}" for k, v in test.items() if isinstance(v, float)))
    return "\n".join(lines) + "\n"


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "-"
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def _clip(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


__all__ = ["format_status", "study_status"]
