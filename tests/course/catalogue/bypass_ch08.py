"""Shortcuts through the package for chapter 08: the package's loop or collate saved under another name
before the checks run (the routes the chapter's own method seals did not cover). Each must score 0 on its
part, refused by the seal (issue 22)."""

SLUG = "08_data_training"

BYPASS = {
    "train_epoch": {
        "saved_name": """
from minitorch_edu.train.loop import train_epoch as _t

def train_epoch(model, loader, optimizer, loss_fn):
    return _t(model, loader, optimizer, loss_fn)
""",
    },
    "collate": {
        "saved_name": """
from minitorch_edu.data.loader import default_collate as _c

def collate(samples):
    return tuple(_c(samples))
""",
        "hidden_name": """
import minitorch_edu.data as _d
_c = getattr(_d, "default_" + "collate")

def collate(samples):
    return tuple(_c(samples))
""",
    },
}
