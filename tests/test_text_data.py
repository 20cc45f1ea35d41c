"""The bundled text (`data.load_text`) and the character tokenizer (`data.CharTokenizer`)."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import numpy as np
import pytest

import minitorch_edu as mt
from minitorch_edu.data import CharTokenizer, load_text
from minitorch_edu.data import text as text_module

ROOT = Path(__file__).resolve().parents[1]


def test_the_sonnets_load_without_their_header() -> None:
    text = load_text()
    assert text == load_text("sonnets")
    assert 40_000 <= len(text.encode("utf-8")) <= 120_000
    assert text.startswith("I\n\nFrom fairest creatures we desire increase,\n")
    assert "#" not in text and "public domain" not in text.lower()  # the header's words are gone
    assert "Shall I compare thee to a summer's day?\n" in text
    assert text.count("\n\n") >= 2 * 70  # a heading and a poem per sonnet, blank lines between


def test_the_file_states_its_source_and_public_domain_status() -> None:
    raw = (Path(text_module.__file__).parent / "sonnets.txt").read_text(encoding="utf-8")
    header = [line for line in raw.splitlines() if line.startswith("#")]
    assert raw.startswith("#") and any("1609" in line for line in header)
    assert any("Public domain" in line for line in header)


def test_unknown_text_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="'sonnets'"):
        load_text("hamlet")


def test_package_data_ships_the_text() -> None:
    """pyproject's package-data must match every bundled .txt, or an installed wheel would lack it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["minitorch_edu.data"]
    bundled = [p.name for p in (ROOT / "minitorch_edu" / "data").glob("*.txt")]
    assert bundled and all(any(fnmatch.fnmatch(name, pat) for pat in patterns) for name in bundled)
    assert set(text_module.TEXTS) <= {name.removesuffix(".txt") for name in bundled}


def test_char_tokenizer_round_trips_and_numbers_characters_in_order() -> None:
    text = load_text()
    tok = CharTokenizer(text)
    assert tok.itos == sorted(set(text)) and tok.vocab_size == len(tok.itos)
    assert all(tok.stoi[ch] == i for i, ch in enumerate(tok.itos))
    ids = tok.encode(text[:500])
    assert len(ids) == 500 and tok.decode(ids) == text[:500]
    assert tok.encode("ab") == [tok.stoi["a"], tok.stoi["b"]] and tok.stoi["a"] < tok.stoi["b"]
    small = CharTokenizer("hello")
    assert small.itos == ["e", "h", "l", "o"] and small.encode("hole") == [1, 3, 2, 0]
    assert repr(small) == "CharTokenizer(vocab_size=4)"


def test_char_tokenizer_decodes_tensors_and_arrays() -> None:
    tok = CharTokenizer("abc")
    assert tok.decode(mt.tensor([2, 0, 1])) == "cab"
    assert tok.decode(np.array([1, 1])) == "bb"


def test_char_tokenizer_errors_name_the_character_or_id() -> None:
    tok = CharTokenizer("abc")
    with pytest.raises(KeyError, match="'z'"):
        tok.encode("abz")
    with pytest.raises(IndexError, match="id 3 is out of range for a vocabulary of 3"):
        tok.decode([0, 3])
    with pytest.raises(IndexError, match="id -1"):
        tok.decode([-1])
