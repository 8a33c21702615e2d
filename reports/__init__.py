"""Reports from studies: tables, significance tests, plots (being built; see the issues)."""
