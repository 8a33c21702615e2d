"""Study runner: study specs, Ray Tune + Optuna (being built; see the issues)."""
