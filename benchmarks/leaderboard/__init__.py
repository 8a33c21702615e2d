"""Leaderboard for language-based audio retrieval: scoring DCASE submissions, persistent boards, ranked tables.

Layout:

* :mod:`.kcut` -- the board's cut-off ``k`` (mAP@k; 10 by default, 16 for DCASE 2025).
* :mod:`.formats` -- reading and validating ground truth (Clotho captions or multi-positive) and DCASE top-k
  submissions; :class:`GroundTruth` (with its fingerprint), :class:`Submission`, :class:`InputError`.
* :mod:`.matrix` -- score-matrix submissions (the DCASE 2025 baseline's prediction CSV), read with pandas.
* :mod:`.submissions` -- :func:`read_submission`: a top-k list or a score matrix, told apart by the header.
* :mod:`.scoring` -- :func:`score_submission` -> :class:`ScoreResult` (AP@k, AP@10, R@1/5/10 via
  :mod:`retrieval.metrics`).
* :mod:`.board` -- :class:`BoardStore` (SQLite / PostgreSQL via SQLAlchemy), :class:`Entry`.
* :mod:`.tables` -- :func:`standings` (ranking, randomization tests against the leader, Holm), Markdown / LaTeX /
  CSV renderers and the critical-difference style plot.
* :mod:`.html` -- the board as one self-contained HTML page (Jinja2 template ``templates/board.html.j2``).
* :mod:`.cli` -- ``python -m benchmarks leaderboard {score,submit,show,list}``.

Example::

    >>> from benchmarks.leaderboard import read_ground_truth, read_submission, score_submission
    >>> gt = read_ground_truth("clotho_captions_evaluation.csv")              # doctest: +SKIP
    >>> result = score_submission(gt, read_submission("team_a.csv", gt))    # doctest: +SKIP
    >>> result.summary()["map10"]                                            # doctest: +SKIP

Importing this package does not import torch (only scoring does).
"""

from .formats import GroundTruth, InputError, LeaderboardError, Submission, read_ground_truth
from .submissions import read_submission

__all__ = ["GroundTruth", "InputError", "LeaderboardError", "Submission", "read_ground_truth", "read_submission",
           "score_submission"]


def score_submission(gt, submission, **kwargs):
    """See :func:`benchmarks.leaderboard.scoring.score_submission` (imported lazily: it needs torch)."""
    from .scoring import score_submission as _score

    return _score(gt, submission, **kwargs)
