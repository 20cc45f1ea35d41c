"""`report CHAPTER`: the class report as one HTML page: the score distribution (a PNG embedded as
base64), each part's pass rate, the outcomes, and the most common failure messages."""

from __future__ import annotations

import base64
import io
from collections import Counter
from html import escape

from .feedback import STYLE


def figure_png(scores: list[float], max_score: float) -> bytes:
    """A histogram of the scores, one bar per point (matplotlib's Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3), dpi=100)
    top = max(max_score, max(scores, default=0.0))
    ax.hist(scores, bins=[x - 0.5 for x in range(int(top) + 2)], edgecolor="black")
    ax.set(xlabel=f"score (of {max_score:g})", ylabel="students", title="score distribution")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def summary(records: list[dict], top: int = 10) -> dict:
    """Pass rates per part (passed / submissions), outcome counts and the ``top`` failure messages."""
    parts: dict[str, list[int]] = {}
    failures: Counter = Counter()
    for r in records:
        for p in r["parts"]:
            parts.setdefault(p["cell_id"], [0, 0])
            parts[p["cell_id"]][0] += bool(p["passed"])
            parts[p["cell_id"]][1] += 1
            if not p["passed"]:
                failures[p["message"] or r["reason"]] += 1
    return {"pass_rates": {k: (n, t) for k, (n, t) in parts.items()},
            "statuses": Counter(r["status"] for r in records),
            "failures": failures.most_common(top)}


def page(chapter: str, records: list[dict]) -> str:
    """The report's HTML."""
    scores = [r["score"] for r in records]
    max_score = max((r["max_score"] for r in records), default=0.0)
    s = summary(records)
    png = base64.b64encode(figure_png(scores, max_score)).decode()
    mean = sum(scores) / len(scores) if scores else 0.0
    rates = "".join(f"<tr><td>{escape(k)}</td><td>{n}/{t}</td><td>{100 * n / t:.0f}%</td></tr>"
                    for k, (n, t) in s["pass_rates"].items())
    statuses = "".join(f"<tr><td>{escape(k)}</td><td>{v}</td></tr>" for k, v in sorted(s["statuses"].items()))
    fails = "".join(f"<tr><td>{n}</td><td><pre>{escape(m)}</pre></td></tr>" for m, n in s["failures"])
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{escape(chapter)} class report</title>"
            f"<style>{STYLE}</style></head><body><h1>{escape(chapter)}: class report</h1>"
            f"<p>{len(records)} submissions · mean score {mean:.2f} / {max_score:g}</p>"
            f"<img alt='score distribution' src='data:image/png;base64,{png}'>"
            f"<h2>Pass rate per part</h2><table><tr><th>part</th><th>passed</th><th>rate</th></tr>{rates}</table>"
            f"<h2>Outcomes</h2><table><tr><th>status</th><th>submissions</th></tr>{statuses}</table>"
            f"<h2>Most common failures</h2><table><tr><th>count</th><th>message</th></tr>{fails}</table>"
            "</body></html>\n")
