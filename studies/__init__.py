"""Studies: Ray Tune schedules trials that train retrievers; a persistent Optuna study records every trial.

``python -m studies run SPEC [--set key=value ...] [--storage URL] [--resume] [--address ADDR] [--runs-dir DIR]``
and ``python -m studies status SPEC``. Modules (nothing heavy is imported by this package itself):

- :mod:`studies.spec`: the YAML spec (schema, validation naming the key, ``--set``), the define-by-run space with
  ``when`` conditions, the grid, named variants, seeds;
- :mod:`studies.storage`: storage URLs (sqlite, postgresql, journal), refusal rules for clusters, the study lock;
- :mod:`studies.study`: the Optuna study without Ray: pinned samplers, the budget, runner ownership of trials;
- :mod:`studies.search`: the OptunaSearch subclass (states, values, user attributes, seeds, budget, resume);
- :mod:`studies.trainable`: the Ray Tune trainables around :func:`retrieval.train.fit` (and a no-op one);
- :mod:`studies.schedulers`: fifo / asha / hyperband / median, with stops that let a trial finish its run dir;
- :mod:`studies.runner`: :func:`~studies.runner.run_study`; :mod:`studies.status`; :mod:`studies.progress`;
  :mod:`studies.reaper` (stops a dead runner's Ray processes); :mod:`studies.cli`.
"""
