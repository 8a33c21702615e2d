"""The one table renderer of the reports and the benchmarks: Markdown pipe tables, LaTeX booktabs floats, CSV, and
aligned plain text for the terminal.

It only lays out what it is given: the caller formats the values (``reports.tables`` in percent with 2 decimals,
the benchmarks with 3 significant digits, the leaderboard with 4 decimals) and the renderer never reformats them,
so equal inputs give byte-identical text.

A display cell (:data:`Cell`) is a string, shown as is in Markdown and escaped for LaTeX, or a pair
``(markdown, raw_latex)`` where the LaTeX differs (``$\\pm$``, a mark as a superscript, bold). In Markdown, ``|``
is escaped and a line break becomes a space, so a cell never breaks its row.

>>> print(markdown_table(["team", "mAP@10"], [["a|b", "0.5000"]], align="lr"), end="")
| team | mAP@10 |
|:---|---:|
| a\\|b | 0.5000 |
>>> print(csv_text(["team", "mAP@10"], [["a,b", 0.5]]), end="")
team,mAP@10
"a,b",0.5
>>> latex_escape("R@10 ≥ 50% & Δ")
'R@10 $\\\\geq$ 50\\\\% \\\\& $\\\\Delta$'

Imports nothing of the project, so that :mod:`reports.tables` and :mod:`benchmarks` can both use it.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence, Union

__all__ = ["Cell", "Column", "csv_text", "latex_escape", "latex_label", "latex_table", "markdown_cell",
           "markdown_table", "text_table"]

#: A display cell: the same text for Markdown and LaTeX (escaped for LaTeX), or ``(markdown, raw_latex)``.
Cell = Union[str, tuple]

_RULE = {"": "---", "l": ":---", "r": "---:"}

_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "±": r"$\pm$", "Δ": r"$\Delta$", "–": "--", "≥": r"$\geq$", "≤": r"$\leq$", "×": r"$\times$",
                  "<": r"$<$", ">": r"$>$", "…": r"\ldots{}", "·": r"$\cdot$", "ρ": r"$\rho$"}


def latex_escape(text: Any) -> str:
    """``text`` with LaTeX's special characters escaped (and ±, Δ, –, ≥, ≤, ×, <, > as math)."""
    return "".join(_LATEX_SPECIAL.get(c, c) for c in str(text))


def latex_label(name: str, default: str = "") -> str:
    """A ``\\label`` key from ``name``: runs of other characters than letters, digits, ``:`` and ``-`` become ``-``.

    >>> latex_label("ab c/d:e"), latex_label("%%", "board")
    ('ab-c-d:e', 'board')
    """
    return re.sub(r"[^A-Za-z0-9:-]+", "-", name).strip("-") or default


@dataclass(frozen=True)
class Column:
    """A display column: Markdown header, raw LaTeX header (default: the label, escaped), alignment ``l`` or
    ``r``."""

    label: str
    latex: str | None = None
    align: str = "r"

    @property
    def tex(self) -> str:
        return self.latex if self.latex is not None else latex_escape(self.label)


def markdown_cell(cell: Cell | Any) -> str:
    """A cell's Markdown text: the first of a pair, ``|`` escaped, line breaks as spaces."""
    text = cell[0] if isinstance(cell, tuple) else str(cell)
    return text.replace("|", "\\|").replace("\n", " ")


def _latex_cell(cell: Cell | Any) -> str:
    return cell[1] if isinstance(cell, tuple) else latex_escape(cell)


def _markdown_row(cells: Iterable[Cell | Any]) -> str:
    return "| " + " | ".join(markdown_cell(c) for c in cells) + " |"


def markdown_table(header: Sequence[str | Column], rows: Sequence[Sequence[Cell | Any]], *,
                   align: Sequence[str] | str | None = None, empty: str | None = None) -> str:
    """A Markdown pipe table, ending with a newline.

    ``header``: labels or :class:`Column` s (whose ``align`` then sets the rule unless ``align`` is given);
    ``align``: per column ``l``, ``r`` or ``""`` (a plain ``---`` rule, the default for labels); ``empty``: the
    first cell of the one row shown when there are no rows (``None``: no such row).
    """
    labels = [h.label if isinstance(h, Column) else h for h in header]
    if align is None:
        align = [h.align if isinstance(h, Column) else "" for h in header]
    lines = [_markdown_row(labels), "|" + "|".join(_RULE[a] for a in align) + "|"]
    lines += [_markdown_row(row) for row in rows]
    if not rows and empty is not None:
        lines.append(_markdown_row([empty] + [""] * (len(labels) - 1)))
    return "\n".join(lines) + "\n"


def latex_table(columns: Sequence[Column], rows: Sequence[Sequence[Cell | Any]], *, caption: str, label: str,
                comment: str, small: bool = False, empty: str = "(no rows)", notes: Sequence[str] = ()) -> str:
    """A ``table`` float holding a booktabs ``tabular`` (needs ``\\usepackage{booktabs}``), ending with a newline.

    ``caption`` is raw LaTeX (escape plain text with :func:`latex_escape`), ``label`` the ``\\label`` key,
    ``comment`` the text of the ``%`` line above the float; ``small`` sets ``\\small``; ``empty`` is shown across
    the table when there are no rows; ``notes`` (plain text, escaped) follow the tabular in footnote size, one
    paragraph each (empty ones are left out).
    """
    lines = [f"% {comment}", r"\begin{table}[t]", r"  \centering", *([r"  \small"] if small else []),
             f"  \\caption{{{caption}}}", f"  \\label{{{label}}}",
             f"  \\begin{{tabular}}{{{''.join(c.align for c in columns)}}}", r"    \toprule",
             "    " + " & ".join(c.tex for c in columns) + r" \\", r"    \midrule"]
    lines += ["    " + " & ".join(_latex_cell(x) for x in row) + r" \\" for row in rows]
    if not rows:
        lines.append(f"    \\multicolumn{{{len(columns)}}}{{c}}{{{empty}}} \\\\")
    lines += [r"    \bottomrule", r"  \end{tabular}"]
    if notes:
        lines.append(r"  \par\smallskip\footnotesize")
        lines += [f"  {latex_escape(n)}\\par" for n in notes if n]
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text (``\\n`` line ends, minimal quoting); values are written as ``str`` gives them (format first)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def text_table(rows: Sequence[Sequence[str]], align: str) -> list[str]:
    """Rows of cells (the first one the header) as lines for the terminal, columns two spaces apart and padded to
    their widest cell; ``align[c]`` is ``l`` or ``r`` for column ``c``; trailing spaces are dropped.

    >>> text_table([["arm", "mAP@10"], ["late", "0.2500"]], "lr")
    ['arm   mAP@10', 'late  0.2500']
    """
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return ["  ".join(c.ljust(wd) if al == "l" else c.rjust(wd) for c, wd, al in zip(r, widths, align)).rstrip()
            for r in rows]
