"""Leaderboard and performance benchmarks (``python -m benchmarks ...``)."""
