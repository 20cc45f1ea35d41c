"""`report` of a graded class: the embedded figure is a PNG, the pass rates and failures are exact."""

from __future__ import annotations

import base64
import re

import fixture as F

from autograder.cli import main


def test_report_has_figure_rates_and_failures(small_class, tmp_path, capsys):
    out = tmp_path / "report.html"
    args = ["--course", str(small_class["course"]), "report", F.SLUG, "--records", str(small_class["json"])]
    assert main([*args, "--to", str(out)]) == 0
    assert "3 submissions" in capsys.readouterr().out
    html = out.read_text()
    png = re.search(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html).group(1)
    assert base64.b64decode(png).startswith(b"\x89PNG\r\n\x1a\n")
    assert "<p>3 submissions · mean score 2.33 / 5</p>" in html
    assert "<tr><td>add_tests</td><td>2/3</td><td>67%</td></tr>" in html
    assert "<tr><td>scale_tests</td><td>1/3</td><td>33%</td></tr>" in html
    assert "<tr><td>graded</td><td>2</td></tr><tr><td>invalid_notebook</td><td>1</td></tr>" in html
    assert "<tr><td>2</td><td><pre>the file is empty</pre></td></tr>" in html  # cy's two parts
    assert re.search(r"<tr><td>1</td><td><pre>[^<]*negative factors", html)
