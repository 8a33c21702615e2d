"""Reports from studies and runs: ``python -m reports {build,verify,compare}``.

:mod:`reports.collect` reads an Optuna study and its trials' run directories into trial records with per-query
AP@10; :mod:`reports.stats` holds the significance statistics (paired tests for *system* comparisons, seed-aware
tests for *recipe* comparisons, bootstrap CIs, Holm); :mod:`reports.tables` renders the summary, ablation and
factor tables (Markdown, LaTeX, CSV); :mod:`reports.importance` computes fANOVA and PED-ANOVA importance;
:mod:`reports.plots` draws the figures; :mod:`reports.build` writes and verifies a report folder;
:mod:`reports.compare` compares run directories or ``per_query.csv`` files.
"""
