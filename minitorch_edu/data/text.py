"""Text for a tiny language model, shipped with the package (no download), and a character tokenizer.

    text = load_text()                    # Shakespeare's sonnets I-LXXIII (1609), public domain: 45 KB
    tok = CharTokenizer(text)
    ids = tok.encode("Shall I compare")   # list of ints, one per character
    tok.decode(ids)                       # 'Shall I compare'

Each bundled text is a `.txt` file next to this module whose first lines, starting with `#`, say
where it comes from and why it is public domain; `load_text` returns what follows that header.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

__all__ = ["CharTokenizer", "load_text", "TEXTS"]

_HERE = Path(__file__).parent
TEXTS = ("sonnets",)  # the names load_text knows: one <name>.txt each


def load_text(name: str = "sonnets") -> str:
    """The bundled text `name` as one string (its `#` header removed)."""
    if name not in TEXTS:
        raise ValueError(f"load_text: unknown text {name!r}; the package ships {', '.join(map(repr, TEXTS))}")
    raw = (_HERE / f"{name}.txt").read_text(encoding="utf-8")
    return _without_header(raw)


def _without_header(raw: str) -> str:
    """Drop the leading `#` lines and the blank lines right after them."""
    lines = raw.splitlines(keepends=True)
    start = 0
    while start < len(lines) and lines[start].startswith("#"):
        start += 1
    while start < len(lines) and not lines[start].strip():
        start += 1
    return "".join(lines[start:])


class CharTokenizer:
    """One token per distinct character of `text`, numbered in sorted order (as in nanoGPT's char model).

    `stoi` maps a character to its id, `itos` is the list of characters by id; `vocab_size` = len(itos).
    Encoding a character the text did not contain raises a KeyError that names it.
    """

    def __init__(self, text: str) -> None:
        self.itos: list[str] = sorted(set(text))
        self.stoi: dict[str, int] = {ch: i for i, ch in enumerate(self.itos)}

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        """The id of each character of `text`."""
        try:
            return [self.stoi[ch] for ch in text]
        except KeyError as err:
            raise KeyError(f"CharTokenizer: character {err.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids: Iterable[int]) -> str:
        """The characters of `ids` (ints, or a 1-D integer tensor or array) joined into a string."""
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        chars = []
        for i in ids:
            if not 0 <= int(i) < self.vocab_size:
                raise IndexError(f"CharTokenizer: id {int(i)} is out of range for a vocabulary of {self.vocab_size}")
            chars.append(self.itos[int(i)])
        return "".join(chars)

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"
