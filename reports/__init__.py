"""Reports from studies and runs: ``python -m reports {build,verify,compare}``.

A report is built in one direction, collect -> analysis -> formatting -> files: :mod:`reports.collect` reads an
Optuna study and its trials' run directories into trial records with per-query AP@10; :mod:`reports.analysis`
computes every number of the report once (comparisons with their tests and Holm marks, seed noise, importance) as
an immutable record, using :mod:`reports.stats` (significance statistics: paired tests for *system* comparisons,
seed-aware tests for *recipe* comparisons, power, Holm), :mod:`reports.noise` (seed noise) and
:mod:`reports.importance` (fANOVA, PED-ANOVA); :mod:`reports.tables` lays the analysis out as tables (Markdown,
LaTeX, CSV through :mod:`reports.render`) and :mod:`reports.plots` draws its figures; :mod:`reports.build` writes
and verifies a report folder. ``python -m reports compare`` compares run directories or ``per_query.csv`` files:
:mod:`reports.comparison` computes the tests, :mod:`reports.compare` formats them.
"""
