"""`feedback CHAPTER`: one HTML page per student (nbgrader's ``feedback/<student>/<chapter>/<nb>.html``)
with the score, each part's verdict and failure message, and the notebook as graded.

Never the hidden tests' source: every code cell's hidden block is cut out again here (whatever the
autograded notebook holds), and a failure is shown by its message only, as the grader recorded it.
"""

from __future__ import annotations

import json
import sys
from html import escape
from pathlib import Path

from .batch import GradeRefusedError, inside, read_journal
from .job import hidden_lines, scrub_notebook, scrub_record, strip_hidden

STYLE = ("body{font-family:sans-serif;max-width:60em;margin:auto}pre{background:#f6f6f6;padding:.5em;"
         "white-space:pre-wrap}.fail{color:#a00}.pass{color:#070}td,th{padding:.2em .8em;text-align:left}")


def chapter_records(course: Path, chapter: str, records: Path | None = None) -> list[dict]:
    """The chapter's records: from a ``grade --json`` file, or from the journal ``grade`` keeps."""
    if records is not None:
        recs = [r for r in json.loads(Path(records).read_text()) if r["assignment"] == chapter]
    else:
        journal = course / "autograded" / ".autograder" / f"{chapter}.jsonl"
        recs = [e["record"] for e in read_journal(journal).values()]
    if not recs:
        raise SystemExit(f"no graded submissions of {chapter} (run `grade` first)")
    return sorted(recs, key=lambda r: (r["student"], r["notebook"]))


def _outputs(cell) -> str:
    parts = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            parts.append(f"<pre>{escape(''.join(o.get('text', '')))}</pre>")
        elif o.get("output_type") == "error":
            parts.append(f"<pre class=fail>{escape(o.get('ename', ''))}: {escape(o.get('evalue', ''))}</pre>")
        elif "text/plain" in o.get("data", {}):
            parts.append(f"<pre>{escape(''.join(o['data']['text/plain']))}</pre>")
    return "".join(parts)


def page(record: dict, nb: dict | None) -> str:
    """The HTML feedback of one record (``nb``: its autograded notebook, None when nothing ran)."""
    rows = []
    for p in record["parts"]:
        verdict = "pass" if p["passed"] else "fail"
        why = f"<pre>{escape(p['message'])}</pre>" if p["message"] else ""
        rows.append(f"<tr><td>{escape(p['cell_id'])}</td><td>{p['score']:g}/{p['points']:g}</td>"
                    f"<td class={verdict}>{verdict}ed</td><td>{why}</td></tr>")
    rows = "".join(rows)
    flags = f"<p>flags: {escape(', '.join(record['flags']))}</p>" if record["flags"] else ""
    cells = []
    for c in (nb or {}).get("cells", []):
        src = "".join(c.get("source", ""))
        if c.get("cell_type") == "code":
            cells.append(f"<pre>{escape(strip_hidden(src))}</pre>{_outputs(c)}")
        else:
            cells.append(f"<div>{escape(src)}</div>")
    title = f"{escape(record['assignment'])} — {escape(record['student'])}"
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title><style>{STYLE}</style>"
            f"</head><body><h1>{title}</h1><p>score {record['score']:g} / {record['max_score']:g} · "
            f"{escape(record['status'])}: {escape(record['reason'])}</p>{flags}"
            f"<table><tr><th>part</th><th>score</th><th>result</th><th>why</th></tr>{rows}</table>"
            f"<h2>Your notebook as graded</h2>{''.join(cells)}</body></html>\n")


def chapter_hidden_lines(course: Path, chapter: str) -> list[str]:
    """The hidden tests' lines of every source notebook of the chapter (`job.hidden_lines`)."""
    lines: set[str] = set()
    for p in sorted((course / "source" / chapter).glob("*.ipynb")):
        lines.update(hidden_lines(p.read_text()))
    return sorted(lines)


def feedback(course: Path, chapter: str, records: Path | None = None) -> list[Path]:
    """Write every student's feedback page; returns the paths. Records of submissions that were refused
    get none (their names may be anything); every page is checked against the hidden tests' text."""
    written = []
    hidden = chapter_hidden_lines(course, chapter)
    for r in chapter_records(course, chapter, records):
        if r["status"] == "refused":
            continue
        r = json.loads(json.dumps(r))
        scrub_record(r, hidden)
        try:
            graded = inside(course / "autograded", r["student"], chapter) / f"{r['notebook']}.ipynb"
        except GradeRefusedError as e:  # a record written before names were checked
            print(f"feedback: skipped: {e}", file=sys.stderr)
            continue
        nb = json.loads(graded.read_text()) if graded.exists() else None
        if nb is not None:
            scrub_notebook(nb, hidden)
        dest = inside(course / "feedback", r["student"], chapter) / f"{r['notebook']}.html"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(page(r, nb))
        written.append(dest)
    return written
