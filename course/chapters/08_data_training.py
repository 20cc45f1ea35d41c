# %% [markdown]
# # 08 · Data and training: the loop PyTorch asks you to write, and the `fit` Keras writes for you
#
# Chapters 01–07 built the engine: tensors, autograd, kernels, layers and optimizers. This chapter builds
# what a practitioner touches every day: the code that feeds data to a model and the loop that trains it.
#
# The two big frameworks split here in a way you have surely noticed. PyTorch gives you a `Dataset` and
# a `DataLoader` and leaves the loop to you: forward, loss, `zero_grad`, `backward`, `step`, written out
# in every script. Keras hands you `model.compile(...)` and `model.fit(...)`: the same loop, written once
# inside the library, with **callbacks** as the places where you plug in early stopping, checkpoints and
# logging. You write both here, and you see that they are the same computation: trained from the same
# seed on the same data, the hand-written loop and your `fit` give *the same* loss curve, and your `fit`
# gives the curve real Keras gives.
#
# What you write (graded, 28 points):
#
# | part | what | points |
# | --- | --- | --- |
# | 1 | `TensorDataset`: samples as rows of arrays | 2 |
# | 2 | `collate`: a list of samples → one batch of tensors | 2 |
# | 3 | `DataLoader`: batching, seeded shuffling, `drop_last` | 4 |
# | 4 | `train_epoch`: PyTorch's training loop | 3 |
# | 5 | `evaluate`: loss and accuracy in eval mode, without a graph | 3 |
# | 6 | milestone: `train_digits` reaches 95% on digits it never saw | 3 |
# | 7 | `History` and `Model.fit` / `evaluate` / `predict`: Keras's side | 5 |
# | 8 | `EarlyStopping` | 3 |
# | 9 | `ModelCheckpoint` that restores the best weights | 3 |
#
# Layers (`mt.nn`) and optimizers (`mt.optim`) come from the package here (you wrote your own in
# chapters 06 and 07).

# %% [setup]
import os
import sys
import tempfile
import time
import types
from contextlib import contextmanager

import matplotlib.pyplot as plt
import numpy as np

import minitorch_edu as mt
from minitorch_edu import testing
from minitorch_edu.course import Chapter, ReferenceSealed

chapter = Chapter(
    "08_data_training",
    references={
        "dataset": ["minitorch_edu.data.TensorDataset", "minitorch_edu.data.Subset", "minitorch_edu.data.random_split"],
        "collate": ["minitorch_edu.data.default_collate", "minitorch_edu.data.DataLoader"],
        "dataloader": ["minitorch_edu.data.DataLoader", "minitorch_edu.data.default_collate"],
        "train_epoch": ["minitorch_edu.train.train_epoch", "minitorch_edu.train.fit"],
        "evaluate": ["minitorch_edu.train.evaluate_loop", "minitorch_edu.train.evaluate",
                     "minitorch_edu.train.predict", "minitorch_edu.train.accuracy"],
        "train_digits": ["minitorch_edu.train.train_epoch", "minitorch_edu.train.fit", "minitorch_edu.data.DataLoader",
                         "minitorch_edu.data.TensorDataset", "minitorch_edu.data.default_collate"],
        "fit": ["minitorch_edu.train.fit", "minitorch_edu.train.History", "minitorch_edu.train.compile",
                "minitorch_edu.train.evaluate", "minitorch_edu.train.predict", "minitorch_edu.train.train_epoch",
                "minitorch_edu.train.evaluate_loop", "minitorch_edu.data.DataLoader",
                "minitorch_edu.data.TensorDataset"],
        "early_stopping": ["minitorch_edu.train.EarlyStopping"],
        "checkpoint": ["minitorch_edu.train.ModelCheckpoint", "minitorch_edu.train.EarlyStopping"],
    },
)
plt.rcParams.update({"figure.dpi": 80, "figure.figsize": (5, 3.5)})
F = mt.nn.functional
KERAS_METHODS = ("compile", "fit", "evaluate", "predict")  # the package binds these onto every mt.nn.Module


# The package's classes whose work a part must not borrow: while the part is checked, their methods refuse
# calls from notebook code, whatever route reaches them (a name saved earlier, a subclass, an object held
# inside yours). `model.fit(...)` is one of them: the package binds mt.train.fit & co. onto every mt.nn.Module.
SEALED_CLASSES = {
    "dataset": [mt.data.TensorDataset, mt.data.Subset],
    "collate": [mt.data.DataLoader],
    "dataloader": [mt.data.DataLoader],
    "train_epoch": [(mt.nn.Module, KERAS_METHODS)],
    "evaluate": [(mt.nn.Module, KERAS_METHODS)],
    "train_digits": [(mt.nn.Module, KERAS_METHODS), mt.data.DataLoader, mt.data.TensorDataset],
    "fit": [(mt.nn.Module, KERAS_METHODS), mt.data.DataLoader, mt.data.TensorDataset, mt.train.History],
    "early_stopping": [mt.train.EarlyStopping],
    "checkpoint": [mt.train.ModelCheckpoint, mt.train.EarlyStopping],
}


@contextmanager
def sealed_classes(part):
    """While `part` is checked, the methods of its SEALED_CLASSES refuse calls that come from notebook code."""

    def seal(cls, name, method):
        def sealed_method(*args, **kwargs):
            caller = sys._getframe(1).f_globals.get("__name__", "")
            if caller.split(".")[0] == "minitorch_edu":
                return method(*args, **kwargs)  # the package's own code
            raise ReferenceSealed(
                f"your code called the package's `{cls.__name__}.{name}` while `{part}` is checked: write it yourself"
            )

        sealed_method.__name__ = name
        return sealed_method

    replaced = []
    for entry in SEALED_CLASSES.get(part, []):
        cls, names = entry if isinstance(entry, tuple) else (entry, None)
        for name, method in list(vars(cls).items()):
            if (names is None or name in names) and isinstance(method, types.FunctionType):
                replaced.append((cls, name, method))
                setattr(cls, name, seal(cls, name, method))
    try:
        yield
    finally:
        for cls, name, method in reversed(replaced):
            setattr(cls, name, method)


def own(cls, part, allowed=(mt.data.Dataset, mt.train.Callback)):
    """Check that the class `cls` is the learner's code, not one of the package's classes inherited."""
    borrowed = [c for c in cls.__mro__[1:] if c not in allowed and c.__module__.startswith("minitorch_edu")]
    testing.assert_true(
        not borrowed, call=f"{part}: the classes {cls.__name__} inherits from",
        got=f"the package's {borrowed[0].__module__}.{borrowed[0].__qualname__}" if borrowed else "",
        expected="only mt.data.Dataset / mt.train.Callback from the package",
        hint=f"the point of `{part}` is to write it yourself, not to inherit the package's version",
    )
    # another framework's loader or training loop (torch.utils.data, keras) doing the work is not yours either,
    # also where your class hands it to a helper of yours
    testing.assert_own_work(cls, call=f"{part}: the code of {cls.__name__}",
                            hint=f"the point of `{part}` is to write it with NumPy and minitorch_edu")


def mlp(hidden=64, seed=0, dropout=0.0):
    """The digits MLP, 64 -> hidden -> 10, with its weights drawn from `seed` (the same seed, the same net)."""
    mt.manual_seed(seed)
    layers = [mt.nn.Linear(64, hidden), mt.nn.ReLU()]
    layers += [mt.nn.Dropout(dropout)] if dropout else []
    return mt.nn.Sequential(*layers, mt.nn.Linear(hidden, 10))


def digits_accuracy(model, x, y):
    """The fraction of digits the model classifies right: computed here, from the model's outputs."""
    model.eval()
    with mt.no_grad():
        predicted = model(mt.tensor(np.asarray(x, dtype=np.float32))).numpy().argmax(axis=1)
    return float(np.mean(predicted == np.asarray(y)))


# scikit-learn's 8x8 handwritten digits, shipped with it (nothing is downloaded): 1438 to train on and
# 359 held back, split the same way for everyone; pixels in [0, 1], flattened to 64 numbers
(x_train, y_train), (x_test, y_test) = mt.data.load_digits(flatten=True)

# %% [markdown]
# ## The data side: `Dataset`, `collate`, `DataLoader`
#
# A training step wants a **batch**: 32 inputs stacked into one `(32, 64)` tensor and their 32 labels in
# one `(32,)` tensor. PyTorch splits the work of making batches into three pieces, and every other
# framework has the same three under other names:
#
# | piece | its job | PyTorch | Keras / TensorFlow |
# | --- | --- | --- | --- |
# | dataset | `len(ds)` samples, `ds[i]` one sample | `Dataset`, `TensorDataset` | arrays, `PyDataset`, `tf.data` |
# | collate | a list of samples → one batch | `default_collate` | `tf.data`'s `.batch()` |
# | loader | which samples go together, in which order | `DataLoader(shuffle, drop_last)` | `fit(batch_size, shuffle)` |
#
# ### Part 1 · `TensorDataset` (2 points)
#
# The simplest dataset keeps arrays of equal length and makes sample `i` from row `i` of each:
# `ds[i] == (x[i], y[i])`. Samples stay NumPy here; they become tensors only when a whole batch is
# collated, which is far cheaper than a tensor per sample. Turn tensors into arrays with `.numpy()` (and
# lists with `np.asarray`) once, in `__init__`, and refuse arrays of different lengths with a
# `ValueError` that names the lengths: a dataset whose labels are one row short would otherwise fail
# later, somewhere far away.

# %% [solution] id=dataset
class TensorDataset(mt.data.Dataset):
    """Samples are rows of equally long arrays: ds[i] == (arrays[0][i], arrays[1][i], ...).

    Tensors become NumPy arrays (`.numpy()`), other data `np.asarray`, once, here.
    Arrays of different lengths raise a ValueError that names every length.
    """

    def __init__(self, *arrays):
        ### BEGIN SOLUTION
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        self.arrays = tuple(a.numpy() if isinstance(a, mt.Tensor) else np.asarray(a) for a in arrays)
        lengths = [len(a) for a in self.arrays]
        if len(set(lengths)) != 1:
            raise ValueError(f"TensorDataset: every array needs the same first dimension, got lengths {lengths}")
        ### END SOLUTION

    def __len__(self):
        ### BEGIN SOLUTION
        return len(self.arrays[0])
        ### END SOLUTION

    def __getitem__(self, index):
        ### BEGIN SOLUTION
        return tuple(a[index] for a in self.arrays)
        ### END SOLUTION

# %% [tests] id=dataset_tests points=2
with testing.part("dataset"), sealed_classes("dataset"):
    own(TensorDataset, "dataset")
    _x, _y = np.arange(15.0).reshape(5, 3), np.array([4, 3, 2, 1, 0])
    _ds = TensorDataset(_x, _y)
    testing.assert_equal(len(_ds), 5, call="len(TensorDataset(x of shape (5, 3), y of shape (5,)))",
                         hints=[(lambda got, exp: got == 2, "len is the number of samples, not the number of arrays")])
    _sample = _ds[2]
    testing.assert_true(isinstance(_sample, tuple) and len(_sample) == 2, call="TensorDataset(x, y)[2]",
                        got=repr(_sample), expected="a tuple (x[2], y[2])",
                        hint="return one value per array: tuple(a[index] for a in self.arrays)")
    testing.assert_equal(_sample[0], _x[2], call="TensorDataset(x, y)[2][0]",
                         hints=[(lambda got, exp: np.shape(got) == (5,), "that is column 2 of x, not row 2")])
    testing.assert_equal(_sample[1], 2, call="TensorDataset(x, y)[2][1]")
    testing.assert_equal(_ds[-1][1], 0, call="TensorDataset(x, y)[-1][1]")
    _from_tensors = TensorDataset(mt.tensor(_x), mt.tensor(_y))
    testing.assert_true(isinstance(_from_tensors[0][0], np.ndarray), call="TensorDataset(tensor x, tensor y)[0][0]",
                        got=type(_from_tensors[0][0]).__name__, expected="a NumPy array",
                        hint="turn tensors into arrays once, in __init__: a.numpy()")
    _err = testing.assert_raises(ValueError, TensorDataset, _x, _y[:4],
                                 call="TensorDataset(x of 5 rows, y of 4 rows)",
                                 hints="compare the lengths of all the arrays in __init__")
    testing.assert_true("5" in str(_err) and "4" in str(_err), call="the ValueError of TensorDataset(5 rows, 4 rows)",
                        got=str(_err), expected="a message that names the lengths 5 and 4")
### BEGIN HIDDEN TESTS
with testing.part("dataset", hidden=True), sealed_classes("dataset"):
    _a, _b, _c = np.arange(8).reshape(4, 2), np.ones((4, 2, 2)), ["w", "x", "y", "z"]
    _ds = TensorDataset(_a, _b, _c)
    testing.assert_equal(len(_ds), 4, call="len(TensorDataset(three arrays of 4 rows))")
    testing.assert_true(len(_ds[3]) == 3 and _ds[3][2] == "z" and np.shape(_ds[3][1]) == (2, 2),
                        call="TensorDataset(a, b, list c)[3]", got=repr(_ds[3]), expected="(a[3], b[3], 'z')")
    _one = TensorDataset(np.arange(3))
    testing.assert_true(isinstance(_one[1], tuple) and len(_one[1]) == 1 and _one[1][0] == 1,
                        call="TensorDataset(one array)[1]", got=repr(_one[1]), expected="(1,): a tuple of one")
    _err = testing.assert_raises(ValueError, TensorDataset, np.zeros(4), np.zeros(4), np.zeros(3),
                                 call="TensorDataset(4 rows, 4 rows, 3 rows)",
                                 hints="compare the lengths of *all* the arrays, not only the first two")
    testing.assert_raises(IndexError, lambda: TensorDataset(np.zeros(3))[3], call="TensorDataset(3 rows)[3]")
    testing.assert_equal(len(TensorDataset([[1, 2], [3, 4], [5, 6]])), 3, call="len(TensorDataset(a list of 3 rows))")
### END HIDDEN TESTS

# %% [markdown]
# ### Part 2 · `collate`: a list of samples → one batch (2 points)
#
# The loader fetches `B` samples, each a tuple `(x_i, y_i)`, and must hand the model one tensor per
# **field**: all the `x_i` stacked along a new first axis into `(B, ...)`, all the `y_i` into `(B,)`.
# That is a transpose of the list (`zip(*samples)` gives the fields), then `np.stack` of each field.
#
# Dtypes matter here: NumPy's floats are float64, the model's weights float32 (PyTorch's default dtype,
# and the package's), so floating-point fields become float32. Integer fields (class labels) become int64,
# the dtype `cross_entropy` expects for targets.

# %% [solution] id=collate
def collate(samples):
    """One batch from a list of B samples (tuples of fields): a tuple with one Tensor per field.

    Field i of every sample is stacked along a new first axis, so each Tensor's shape starts with B.
    Floating-point fields become float32, integer fields int64.
    """
    ### BEGIN SOLUTION
    fields = []
    for column in zip(*samples):
        stacked = np.stack([np.asarray(value) for value in column])
        if stacked.dtype.kind == "f":
            stacked = stacked.astype(np.float32)
        elif stacked.dtype.kind in "iu":
            stacked = stacked.astype(np.int64)
        fields.append(mt.tensor(stacked))
    return tuple(fields)
    ### END SOLUTION

# %% [tests] id=collate_tests points=2
with testing.part("collate"), sealed_classes("collate"):
    _samples = [(np.array([1.0, 2.0]), 3), (np.array([4.0, 5.0]), 1), (np.array([7.0, 8.0]), 0)]
    _call = "collate([(array([1., 2.]), 3), (array([4., 5.]), 1), (array([7., 8.]), 0)])"
    _batch = collate(_samples)
    testing.assert_true(isinstance(_batch, tuple | list) and len(_batch) == 2, call=_call, got=repr(_batch)[:200],
                        expected="a tuple (x batch, y batch): one entry per field, not per sample",
                        hint="zip(*samples) turns the list of samples into the fields")
    _xb, _yb = _batch
    testing.assert_true(isinstance(_xb, mt.Tensor) and isinstance(_yb, mt.Tensor), call=_call,
                        got=f"{type(_xb).__name__}, {type(_yb).__name__}", expected="Tensor, Tensor",
                        hint="wrap each stacked field in mt.tensor(...)")
    testing.assert_close(_xb.numpy(), [[1.0, 2.0], [4.0, 5.0], [7.0, 8.0]], call=_call + " -> x batch",
                         hints=[(lambda got, exp: np.shape(got) == (6,), "np.concatenate joins the rows into one: "
                                 "np.stack puts them on a new first axis")])
    testing.assert_equal(_yb.numpy(), [3, 1, 0], call=_call + " -> y batch")
    testing.assert_equal(str(_xb.dtype), "float32", call=_call + " -> x batch's dtype",
                         hints="NumPy's float64 becomes float32, the model's dtype: .astype(np.float32)")
    testing.assert_equal(str(_yb.dtype), "int64", call=_call + " -> y batch's dtype",
                         hints="labels stay integers (int64): only floating-point fields become float32")
### BEGIN HIDDEN TESTS
with testing.part("collate", hidden=True), sealed_classes("collate"):
    _rng = np.random.default_rng(2)
    _imgs = [(_rng.random((1, 2, 2)), np.int32(i), np.float64(i / 2)) for i in range(4)]
    _call = "collate(4 samples of (image (1, 2, 2), int32 label, float64 number))"
    _b = collate(_imgs)
    testing.assert_true(len(_b) == 3, call=_call, got=f"{len(_b)} fields", expected="3 fields")
    testing.assert_equal(_b[0].shape, (4, 1, 2, 2), call=_call + " -> images' shape")
    testing.assert_close(_b[0].numpy(), np.stack([s[0] for s in _imgs]).astype(np.float32), call=_call + " -> images")
    testing.assert_equal(str(_b[1].dtype), "int64", call=_call + " -> int32 labels' dtype",
                         hints="every integer field becomes int64")
    testing.assert_equal(_b[1].numpy(), [0, 1, 2, 3], call=_call + " -> labels")
    testing.assert_close(_b[2].numpy(), [0.0, 0.5, 1.0, 1.5], call=_call + " -> numbers")
    testing.assert_equal(str(_b[2].dtype), "float32", call=_call + " -> numbers' dtype")
    _single = collate([(np.array([1.0, 2.0, 3.0]), 7)])
    testing.assert_equal(_single[0].shape, (1, 3), call="collate([one sample]) -> x batch's shape",
                         hints="a batch of one still has the batch axis: (1, 3)")
    _lists = collate([[np.zeros(2), 1], [np.ones(2), 0]])
    testing.assert_equal(_lists[1].numpy(), [1, 0], call="collate(samples that are lists) -> y batch")
### END HIDDEN TESTS

# %% [markdown]
# ### Part 3 · `DataLoader` (4 points)
#
# The loader decides which samples go into which batch. With `batch_size=4` and 10 samples an epoch has
# three batches: 4, 4 and the **last partial batch** of 2, which is kept, because dropping it silently
# would never train on those samples. `drop_last=True` drops it: useful when every batch must have the
# same size (batch norm's statistics, a compiled graph with a fixed shape).
#
# `shuffle=True` draws a new order **every epoch**, so the batches differ from epoch to epoch (the same
# order every epoch is one of the quiet bugs of hand-written loaders), and the order comes from a
# generator seeded once, so a run can be repeated exactly. Make the generator in `__init__` with
# `np.random.default_rng(seed)` and draw each epoch's order with `self.rng.permutation(len(dataset))`:
# that is also what `mt.data.DataLoader(seed=...)` does, and later in this chapter it lets two ways of
# training see exactly the same batches. (PyTorch does the same with a `torch.Generator` passed as
# `generator=`; Keras's `fit` shuffles with its own seed generator.)
#
# Fetch samples with `dataset[i]` (any object with `__len__` and `__getitem__` is a dataset, even a list)
# and turn each batch's list of samples into a batch with `collate_fn`, your `collate` by default.

# %% [solution] id=dataloader
class DataLoader:
    """Batches of `dataset`, like torch.utils.data.DataLoader (one process).

    len(loader) is the number of batches in an epoch. Iterating gives collate_fn([dataset[i] for i in batch])
    for each batch. shuffle=True: a fresh order every epoch, self.rng.permutation(len(dataset)), from a
    generator self.rng = np.random.default_rng(seed) made once. drop_last=True: no partial last batch.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, collate_fn=None):
        ### BEGIN SOLUTION
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, int(batch_size), shuffle, drop_last
        self.collate_fn = collate if collate_fn is None else collate_fn
        self.rng = np.random.default_rng(seed)
        ### END SOLUTION

    def __len__(self):
        ### BEGIN SOLUTION
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        ### END SOLUTION

    def __iter__(self):
        ### BEGIN SOLUTION
        n = len(self.dataset)
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield self.collate_fn([self.dataset[int(i)] for i in order[start:start + self.batch_size]])
        ### END SOLUTION

# %% [tests] id=dataloader_tests points=4
def _ids(samples):
    """A collate_fn that shows which samples a batch holds: their labels, as a list."""
    return [int(s[1]) for s in samples]


def _epoch(loader):
    return [list(b) for b in loader]


with testing.part("dataloader"), sealed_classes("dataloader"):
    own(DataLoader, "dataloader")
    _ten = [(np.array([float(i)]), i) for i in range(10)]  # a list is a dataset: len() and [i]
    _call = "DataLoader(10 samples, batch_size=4)"
    testing.assert_equal(len(DataLoader(_ten, batch_size=4)), 3, call=f"len({_call})",
                         hints=[(lambda got, exp: got == 2, "the last partial batch counts: round up, not down")])
    testing.assert_equal(_epoch(DataLoader(_ten, batch_size=4, collate_fn=_ids)),
                         [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]], call=f"the batches of {_call} (samples by label)",
                         hints=[(lambda got, exp: len(got) == 2, "the last partial batch [8, 9] was dropped: keep it "
                                 "unless drop_last=True")])
    _call = "DataLoader(10 samples, batch_size=4, drop_last=True)"
    testing.assert_equal(len(DataLoader(_ten, batch_size=4, drop_last=True)), 2, call=f"len({_call})")
    testing.assert_equal(_epoch(DataLoader(_ten, batch_size=4, drop_last=True, collate_fn=_ids)),
                         [[0, 1, 2, 3], [4, 5, 6, 7]], call=f"the batches of {_call}")
    _loader = DataLoader(_ten, batch_size=4, shuffle=True, seed=0, collate_fn=_ids)
    _rng = np.random.default_rng(0)
    _want1, _want2 = _rng.permutation(10).tolist(), _rng.permutation(10).tolist()
    _call = "DataLoader(10 samples, batch_size=4, shuffle=True, seed=0)"
    _e1, _e2 = _epoch(_loader), _epoch(_loader)
    testing.assert_equal([len(b) for b in _e1], [4, 4, 2], call=f"the batch sizes of {_call}")
    testing.assert_equal(sum(_e1, []), _want1, call=f"epoch 1 of {_call}, samples in order",
                         hints=[(lambda got, exp: sorted(got) == got, "nothing was shuffled"),
                                "draw the order with self.rng.permutation(len(dataset)), "
                                "self.rng = np.random.default_rng(seed) made once in __init__"])
    testing.assert_equal(sum(_e2, []), _want2, call=f"epoch 2 of {_call}, samples in order",
                         hints=[(lambda got, exp: got == _want1, "epoch 2 repeats epoch 1's order: make the generator "
                                 "once in __init__, not in __iter__, so each epoch draws a new order")])
    testing.assert_equal(sum(_epoch(DataLoader(_ten, 4, shuffle=True, seed=0, collate_fn=_ids)), []), _want1,
                         call=f"epoch 1 of a second {_call}",
                         hints="the same seed must give the same order: np.random.default_rng(seed)")
    _xb, _yb = next(iter(DataLoader(_ten, batch_size=4)))
    testing.assert_true(isinstance(_xb, mt.Tensor) and _xb.shape == (4, 1) and _yb.shape == (4,),
                        call="the first batch of DataLoader(10 samples, batch_size=4) with the default collate_fn",
                        got=f"{testing.describe(_xb)}, {testing.describe(_yb)}",
                        expected="Tensors of shapes (4, 1) and (4,)", hint="collate_fn=None means your collate")
### BEGIN HIDDEN TESTS
with testing.part("dataloader", hidden=True), sealed_classes("dataloader"):
    _twelve = [(np.zeros(1), i) for i in range(12)]
    for _drop in (False, True):
        _b = _epoch(DataLoader(_twelve, batch_size=4, drop_last=_drop, collate_fn=_ids))
        testing.assert_equal(_b, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]],
                             call=f"the batches of DataLoader(12 samples, batch_size=4, drop_last={_drop})",
                             hints=[(lambda got, exp: len(got) == 4, "an empty batch at the end: 12 / 4 is exactly 3")])
    testing.assert_equal(_epoch(DataLoader(_twelve[:3], batch_size=5, collate_fn=_ids)), [[0, 1, 2]],
                         call="DataLoader(3 samples, batch_size=5)")
    testing.assert_equal(len(DataLoader(_twelve[:3], batch_size=5, drop_last=True)), 0,
                         call="len(DataLoader(3 samples, batch_size=5, drop_last=True))")
    testing.assert_equal(_epoch(DataLoader(_twelve[:3], batch_size=5, drop_last=True, collate_fn=_ids)), [],
                         call="DataLoader(3 samples, batch_size=5, drop_last=True)")
    _loader = DataLoader(_twelve[:10], batch_size=3, shuffle=True, drop_last=True, seed=123, collate_fn=_ids)
    _rng = np.random.default_rng(123)
    for _k in range(3):
        _want = _rng.permutation(10)[:9].reshape(3, 3).tolist()
        testing.assert_equal(_epoch(_loader), _want,
                             call=f"epoch {_k + 1} of DataLoader(10 samples, 3, shuffle=True, drop_last=True, "
                                  "seed=123)",
                             hints="drop the tail of the shuffled order, after shuffling")
    _plain = DataLoader(_twelve, batch_size=5, collate_fn=_ids)
    testing.assert_equal(_epoch(_plain), _epoch(_plain), call="two epochs of DataLoader(12 samples, 5, shuffle=False)")

    class _Squares(mt.data.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return (np.array([i * i], dtype=np.float64), i)

    _xb, _yb = list(DataLoader(_Squares(), batch_size=2))[-1]
    testing.assert_close(_xb.numpy(), [[16.0]], call="the last batch of DataLoader(a Dataset of 5 squares, 2) -> x")
    testing.assert_equal(str(_xb.dtype), "float32", call="DataLoader(...) with the default collate_fn -> x's dtype")
### END HIDDEN TESTS

# %% [markdown]
# What the loader does, drawn: each row is one epoch of 10 samples with `batch_size=4`, each cell a sample
# (its number inside), coloured by the batch it lands in. Without shuffling every epoch is the same;
# with it, each epoch mixes the samples anew. With `drop_last=True` the grey samples sit out that epoch
# (different ones each time, so nothing is left out for good).

# %%
def draw_epochs(ax, loader, title, epochs=3):
    """One row per epoch: the samples in the order the loader gives them, coloured by batch."""
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:purple"]
    for row in range(epochs):
        batches = list(loader)
        seen = [i for b in batches for i in b]
        for b, batch in enumerate(batches):
            for i in batch:
                ax.add_patch(plt.Rectangle((seen.index(i), -row), 0.95, 0.9, color=colours[b % 4], alpha=0.75))
                ax.text(seen.index(i) + 0.47, -row + 0.45, str(i), ha="center", va="center", fontsize=8)
        for k, i in enumerate(sorted(set(range(10)) - set(seen))):
            ax.add_patch(plt.Rectangle((len(seen) + k, -row), 0.95, 0.9, color="lightgrey"))
            ax.text(len(seen) + k + 0.47, -row + 0.45, str(i), ha="center", va="center", fontsize=8, color="grey")
    ax.set_xlim(0, 10)
    ax.set_ylim(-epochs + 1, 1)
    ax.set_yticks([-r + 0.45 for r in range(epochs)], [f"epoch {r + 1}" for r in range(epochs)])
    ax.set_xticks([])
    ax.set_title(title, fontsize=9)


_ten = [(np.zeros(1), i) for i in range(10)]
fig, axes = plt.subplots(1, 3, figsize=(11, 2.2))
draw_epochs(axes[0], DataLoader(_ten, batch_size=4, collate_fn=_ids), "shuffle=False")
draw_epochs(axes[1], DataLoader(_ten, batch_size=4, shuffle=True, seed=0, collate_fn=_ids), "shuffle=True, seed=0")
draw_epochs(axes[2], DataLoader(_ten, batch_size=4, shuffle=True, drop_last=True, seed=0, collate_fn=_ids),
            "shuffle=True, drop_last=True")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## PyTorch's side: the training loop you write yourself
#
# Every PyTorch training script has these five lines at its heart, one pass per batch:
#
# ```python
# output = model(x)              # forward: builds the graph
# loss = loss_fn(output, y)      # one number
# optimizer.zero_grad()          # gradients accumulate (+=) in backward: clear the last batch's
# loss.backward()                # dL/dparameter for every parameter
# optimizer.step()               # parameter -= lr * gradient (or Adam's version of it)
# ```
#
# Forgetting `zero_grad` is the classic bug: `backward` **adds** into `.grad` (that is what makes
# gradient accumulation over several batches possible), so without it every step uses the sum of all the
# gradients so far. Calling it *between* `backward` and `step` is the other classic: the step then uses
# zeros.
#
# ### Part 4 · `train_epoch` (3 points)
#
# One pass over the loader. Put the model in training mode first (`model.train()`: dropout drops, batch
# norm uses the batch's statistics). Return the epoch's mean loss **per sample**, as a Python float: a
# batch's loss is a mean over its samples, so weigh it by the batch's size (`x.shape[0]`); a plain mean
# of the batch losses would over-weigh a small last batch. `loss.item()` gives the number without
# keeping the graph alive.

# %% [solution] id=train_epoch
def train_epoch(model, loader, optimizer, loss_fn):
    """One epoch of training: for each (x, y) batch, forward, loss, zero_grad, backward, step.

    Returns the mean loss per sample over the epoch (batch losses weighted by batch size), a float.
    """
    ### BEGIN SOLUTION
    model.train()
    total, count = 0.0, 0
    for x, y in loader:
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * x.shape[0]
        count += x.shape[0]
    return total / count
    ### END SOLUTION

# %% [tests] id=train_epoch_tests points=3
def _toy_batches(sizes, seed=0, d=3, classes=2):
    """Batches of random data as (x, y) Tensors: a list is all a training loop needs."""
    rng = np.random.default_rng(seed)
    return [(mt.tensor(rng.standard_normal((n, d)).astype(np.float32)), mt.tensor(rng.integers(0, classes, n)))
            for n in sizes]


def _toy_net(seed=0, dropout=0.0):
    mt.manual_seed(seed)
    layers = [mt.nn.Linear(3, 4), mt.nn.ReLU()] + ([mt.nn.Dropout(dropout)] if dropout else [])
    return mt.nn.Sequential(*layers, mt.nn.Linear(4, 2))


def _reference_epoch(net, batches, optimizer):
    """The test's own loop: what train_epoch must do (and the loss per sample it must return)."""
    net.train()
    total, n = 0.0, 0
    for x, y in batches:
        loss = F.cross_entropy(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total, n = total + loss.item() * x.shape[0], n + x.shape[0]
    return total / n


def _weights(net):
    return np.concatenate([p.numpy().ravel() for p in net.parameters()])


with testing.part("train_epoch"), sealed_classes("train_epoch"):
    _batches = _toy_batches([4, 4, 4])
    _mine, _ref = _toy_net(), _toy_net()
    _mine.eval()  # train_epoch must switch it to training mode itself
    _got = train_epoch(_mine, _batches, mt.optim.SGD(_mine.parameters(), lr=0.5), F.cross_entropy)
    _want = _reference_epoch(_ref, _batches, mt.optim.SGD(_ref.parameters(), lr=0.5))
    _call = "train_epoch(a 3-4-2 net, 3 batches of 4, SGD(lr=0.5), cross_entropy)"
    testing.assert_true(isinstance(_got, float), call=_call, got=type(_got).__name__, expected="a Python float",
                        hint="return a number, not a Tensor: accumulate loss.item()")
    testing.assert_close(_weights(_mine), _weights(_ref), call=_call + " -> the weights after the epoch", atol=1e-6,
                         hints=[(lambda got, exp: np.allclose(got, _weights(_toy_net())),
                                 "the weights did not change: zero_grad goes before backward, not between backward "
                                 "and step (and call optimizer.step())"),
                                "gradients accumulate in backward: call optimizer.zero_grad() before each backward"])
    testing.assert_close(_got, _want, call=_call + " -> the returned loss", rtol=1e-5,
                         hints=["return the mean loss per sample over the whole epoch, not one batch's loss"])
    testing.assert_true(_mine.training, call=_call + " -> model.training", got=_mine.training, expected=True,
                        hint="call model.train() at the start: the model may come in eval mode")
### BEGIN HIDDEN TESTS
with testing.part("train_epoch", hidden=True), sealed_classes("train_epoch"):
    _batches = _toy_batches([5, 5, 2], seed=3)
    _mine, _ref = _toy_net(4), _toy_net(4)
    _got = train_epoch(_mine, _batches, mt.optim.Adam(_mine.parameters(), lr=0.05), F.cross_entropy)
    _want = _reference_epoch(_ref, _batches, mt.optim.Adam(_ref.parameters(), lr=0.05))
    _call = "train_epoch(net, batches of 5, 5 and 2, Adam(lr=0.05), cross_entropy)"
    testing.assert_close(_weights(_mine), _weights(_ref), call=_call + " -> the weights", atol=1e-6)
    testing.assert_close(_got, _want, call=_call + " -> the returned loss", rtol=1e-5,
                         hints="weigh each batch's loss by its size: a mean of batch means over-weighs the last batch")
    # dropout: in training mode it drops; the test's loop sees the same random draws
    _mine, _ref = _toy_net(5, dropout=0.5), _toy_net(5, dropout=0.5)
    _mine.eval()
    mt.manual_seed(9)
    train_epoch(_mine, _batches, mt.optim.SGD(_mine.parameters(), lr=0.5), F.cross_entropy)
    mt.manual_seed(9)
    _reference_epoch(_ref, _batches, mt.optim.SGD(_ref.parameters(), lr=0.5))
    testing.assert_close(_weights(_mine), _weights(_ref), call="train_epoch(a net with Dropout, given in eval mode)",
                         atol=1e-6, hints="call model.train() first: dropout must be on while training")
### END HIDDEN TESTS

# %% [markdown]
# ### Part 5 · `evaluate` (3 points)
#
# Measuring a model is not training it, and two switches say so:
#
# - `model.eval()`: dropout stops dropping and batch norm uses its running statistics, so the answer does
#   not depend on chance. Put the model back in the mode it came in afterwards (`was = model.training`,
#   then `model.train(was)`), or the next epoch trains without dropout.
# - `with mt.no_grad():` no graph is recorded (as `torch.no_grad()`): evaluation never calls `backward`,
#   and the graph would only cost memory and time.
#
# Return `(mean loss per sample, accuracy)`: accuracy is the fraction of samples whose largest output is the
# right class, counted over all samples (not a mean of per-batch accuracies).

# %% [solution] id=evaluate
def evaluate(model, loader, loss_fn):
    """(mean loss per sample, accuracy) over every (x, y) batch of loader: in eval mode, under mt.no_grad().

    The model ends in the mode (training or eval) it came in.
    """
    ### BEGIN SOLUTION
    was_training = model.training
    model.eval()
    total = correct = count = 0
    try:
        with mt.no_grad():
            for x, y in loader:
                output = model(x)
                total += loss_fn(output, y).item() * x.shape[0]
                correct += int(np.sum(output.numpy().argmax(axis=1) == y.numpy()))
                count += x.shape[0]
    finally:
        model.train(was_training)
    return total / count, correct / count
    ### END SOLUTION

# %% [tests] id=evaluate_tests points=3
class _Spy(mt.nn.Module):
    """A net that notes, at each forward, whether it was in training mode and whether a graph was recorded."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.seen = []

    def forward(self, x):
        self.seen.append((self.training, mt.is_grad_enabled()))
        return self.net(x)


def _expected_eval(net, batches):
    """Loss per sample and accuracy, from the net's eval-mode outputs, in NumPy."""
    net.eval()
    with mt.no_grad():
        logits = np.concatenate([net(x).numpy() for x, _ in batches]).astype(np.float64)
    y = np.concatenate([t.numpy() for _, t in batches])
    shifted = logits - logits.max(axis=1, keepdims=True)
    losses = np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(len(y)), y]
    return float(losses.mean()), float(np.mean(logits.argmax(axis=1) == y))


def _run_evaluate(call, *args):
    """evaluate(*args); an error in it says the call, what was expected and, for NumPy's, the likely mistake."""
    __tracebackhide__ = True
    try:
        return evaluate(*args)
    except (AssertionError, NotImplementedError):
        raise
    except Exception as err:
        text = str(err)
        shapes = isinstance(err, ValueError) and ("broadcast" in text or "shape" in text)
        raise testing.explain_error(
            err, call, expected="(mean loss per sample, accuracy): two floats",
            hint=("the predictions and the labels differ in length: take the argmax over the class axis, "
                  "output.numpy().argmax(axis=1) (one class per sample), not over the batch axis (axis=0, one "
                  "answer per class)") if shapes else None,
        ) from None


with testing.part("evaluate"), sealed_classes("evaluate"):
    _batches = _toy_batches([4, 4, 4], seed=6)
    _spy = _Spy(_toy_net(6, dropout=0.5))
    _spy.train()
    _call = "evaluate(a net with Dropout(0.5), 3 batches of 4, cross_entropy)"
    _got = _run_evaluate(_call, _spy, _batches, F.cross_entropy)
    _want = _expected_eval(_toy_net(6, dropout=0.5), _batches)
    testing.assert_true(isinstance(_got, tuple) and len(_got) == 2, call=_call, got=repr(_got),
                        expected="a tuple (loss, accuracy)")
    testing.assert_true(all(not training for training, _ in _spy.seen), call=_call + ": the mode during the forwards",
                        got=f"training={[t for t, _ in _spy.seen]}", expected="training=False at every forward",
                        hint="call model.eval() before the loop: dropout must not drop while measuring")
    testing.assert_true(all(not grad for _, grad in _spy.seen), call=_call + ": was a graph recorded?",
                        got=f"grad enabled={[g for _, g in _spy.seen]}", expected="False at every forward",
                        hint="run the loop inside `with mt.no_grad():`")
    testing.assert_close(_got[0], _want[0], call=_call + " -> loss", rtol=1e-5)
    testing.assert_close(_got[1], _want[1], call=_call + " -> accuracy",
                         hints=[(lambda got, exp: got > 1, "accuracy is a fraction in [0, 1], not a count")])
    testing.assert_true(_spy.training, call=_call + " -> model.training afterwards", got=_spy.training, expected=True,
                        hint="put the model back in the mode it came in: model.train(was_training)")
### BEGIN HIDDEN TESTS
with testing.part("evaluate", hidden=True), sealed_classes("evaluate"):
    _batches = _toy_batches([7, 7, 1], seed=7, classes=3, d=3)
    mt.manual_seed(7)
    _net = mt.nn.Sequential(mt.nn.Linear(3, 5), mt.nn.ReLU(), mt.nn.Linear(5, 3))
    _want = _expected_eval(_net, _batches)
    _call = "evaluate(net, batches of 7, 7 and 1, cross_entropy)"
    _got = _run_evaluate(_call, _net, _batches, F.cross_entropy)
    testing.assert_close(_got[0], _want[0], call=_call + " -> loss", rtol=1e-5,
                         hints="weigh each batch's loss by its size")
    testing.assert_close(_got[1], _want[1], call=_call + " -> accuracy",
                         hints="count the right answers over all samples: a mean of batch accuracies over-weighs "
                               "the batch of 1")
    _net.eval()
    _run_evaluate("evaluate(a net in eval mode, ...)", _net, _batches, F.cross_entropy)
    testing.assert_true(not _net.training, call="evaluate(a net in eval mode) -> model.training afterwards",
                        got=_net.training, expected=False, hint="restore the mode it came in, not always train()")
### END HIDDEN TESTS

# %% [markdown]
# ### Part 6 · Milestone: 95% on handwritten digits (3 points)
#
# Time to train something real. `x_train` holds 1438 of scikit-learn's 8×8 handwritten digits (64 pixels
# each, in [0, 1]) and `y_train` their labels 0–9; 359 more are held back in `x_test`, `y_test`.
#
# Write `train_digits(x_train, y_train, seed)`: build an MLP (`mlp(hidden, seed)` from the setup cell
# makes one, or build your own with `mt.nn`), an optimizer from `mt.optim`, **your** `TensorDataset`,
# `DataLoader` (shuffled, seeded with `seed`) and `train_epoch`, train for as many epochs as it takes, and
# return the model. The test cell then measures the model's accuracy itself, on the held-back digits
# your function never saw: **the target is 95%**. It also trains once more on another split of the
# digits with another seed, so the choices must work in general, not for one lucky draw. A good
# start: 64 hidden units, `SGD(lr=0.1, momentum=0.9)`, batches of 32, 20 epochs (a second or two).

# %% [solution] id=train_digits
def train_digits(x_train, y_train, seed=0):
    """An MLP trained on (x_train (N, 64), y_train (N,)) with your TensorDataset, DataLoader and train_epoch.

    Returns the trained model: an mt.nn.Module mapping a (B, 64) batch to (B, 10) logits.
    """
    ### BEGIN SOLUTION
    model = mlp(hidden=64, seed=seed)
    optimizer = mt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True, seed=seed)
    for _ in range(20):
        train_epoch(model, loader, optimizer, F.cross_entropy)
    return model
    ### END SOLUTION

# %% [tests] id=train_digits_tests points=3
def counting_epochs(run):
    """run() with your train_epoch counted: (what run returned, how many epochs your train_epoch ran)."""
    global train_epoch
    yours, calls = train_epoch, []

    def train_epoch(*args, **kwargs):  # noqa: F811 (yours, counted: train_digits looks the name up when it runs)
        calls.append(1)
        return yours(*args, **kwargs)

    try:
        return run(), len(calls)
    finally:
        train_epoch = yours


def check_trained_here(model, epochs, call):
    """The model is an mt.nn.Module trained by your train_epoch (not another library's classifier)."""
    testing.assert_true(isinstance(model, mt.nn.Module) and epochs > 0, call=call,
                        got=f"a {type(model).__name__}, after {epochs} epochs of your train_epoch",
                        expected="an mt.nn.Module trained by your train_epoch (at least one epoch)",
                        hint="train the MLP with your TensorDataset, DataLoader and train_epoch: a model fitted by "
                             "another library (scikit-learn, torch) does not show that your training loop works")


with testing.part("train_digits"), sealed_classes("train_digits"):
    _start = time.perf_counter()
    _model, _epochs = counting_epochs(lambda: train_digits(x_train, y_train, seed=0))
    _seconds = time.perf_counter() - _start
    check_trained_here(_model, _epochs, "train_digits(x_train, y_train, seed=0)")
    _accuracy = digits_accuracy(_model, x_test, y_test)
    print(f"your model: {_accuracy:.1%} of the 359 held-back digits right, trained in {_seconds:.1f} s")
    testing.assert_true(_accuracy >= 0.95, call="train_digits(x_train, y_train, seed=0), measured on x_test",
                        got=f"{_accuracy:.1%} accuracy", expected="at least 95%",
                        hint="more epochs, a larger learning rate, or momentum; is the loader shuffling?")
    testing.assert_true(_seconds < 60, call="train_digits(x_train, y_train, seed=0)", got=f"{_seconds:.0f} s",
                        expected="under 60 s (a grader's cell may not run much longer)",
                        hint="fewer epochs or a smaller net: 20 epochs of a 64-unit MLP take a second or two")
### BEGIN HIDDEN TESTS
with testing.part("train_digits", hidden=True), sealed_classes("train_digits"):
    # another split, another seed, and the labels renamed (digit d is labelled (d + 3) % 10): a model must
    # learn from the data it is given
    (_x1, _y1), (_xt1, _yt1) = mt.data.load_digits(flatten=True, seed=1)
    _model, _epochs = counting_epochs(lambda: train_digits(_x1, (_y1 + 3) % 10, seed=1))
    check_trained_here(_model, _epochs, "train_digits on another split, seed=1")
    _accuracy = digits_accuracy(_model, _xt1, (_yt1 + 3) % 10)
    testing.assert_true(_accuracy >= 0.95, call="train_digits on another split, seed=1, digit d labelled (d + 3) % 10",
                        got=f"{_accuracy:.1%} accuracy on its held-back digits", expected="at least 95%",
                        hint="train on the x_train and y_train you are given, not on data loaded inside the function")
### END HIDDEN TESTS

# %% [markdown]
# Which digits does your model get wrong? Below, the first 40 held-back digits with the model's answer
# above each: red where it is wrong. (The mistakes are mostly digits a person would hesitate over too.)

# %%
digits_model = train_digits(x_train, y_train, seed=0)
digits_model.eval()
with mt.no_grad():
    guesses = digits_model(mt.tensor(x_test)).numpy().argmax(axis=1)
fig, axes = plt.subplots(4, 10, figsize=(9, 4))
for ax, image, guess, label in zip(axes.ravel(), x_test, guesses, y_test):
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
    ax.set_title(str(guess), color="tab:green" if guess == label else "tab:red", fontsize=10)
    ax.axis("off")
fig.suptitle(f"your MLP on held-back digits: {np.mean(guesses == y_test):.1%} right (red: wrong)", fontsize=10)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Keras's side: `compile`, `fit`, callbacks
#
# Keras writes the loop of part 4 once, inside `Model.fit`, and asks you for three decisions only:
#
# ```python
# model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
# history = model.fit(x, y, epochs=20, batch_size=32, validation_data=(x_val, y_val),
#                     callbacks=[keras.callbacks.EarlyStopping(patience=3)])
# history.history["val_loss"]     # one value per epoch
# ```
#
# What you would have written around the loop by hand (stop when validation stops improving, keep the
# best weights, write a log) becomes a **callback**: an object with hooks that `fit` calls at fixed
# points. The protocol is the same in Keras and here (`mt.train.Callback`):
#
# | hook | called | typical use |
# | --- | --- | --- |
# | `set_model(model)` | once, before training | gives the callback `self.model` |
# | `on_train_begin(logs)` | before the first epoch | reset state |
# | `on_epoch_begin(epoch, logs)` | before each epoch | learning-rate schedules |
# | `on_epoch_end(epoch, logs)` | after each epoch, with its logs (`"loss"`, `"val_loss"`) | stopping, checkpoints |
# | `on_train_end(logs)` | after the last epoch | restore the best weights, close files |
#
# A callback stops training by setting `self.model.stop_training = True`; `fit` checks it after each
# epoch. `History` is itself a callback, the one `fit` always adds last: it records every epoch's logs,
# and `fit` returns it.
#
# PyTorch has no `fit`: Lightning's `Trainer.fit` and its callbacks, or Hugging Face's `Trainer`, play this
# role on top of it.
#
# ### Part 7 · `History` and `Model` (5 points)
#
# `Model(network)` wraps a network (any `mt.nn.Module`) and gives it Keras's methods. `compile`,
# `evaluate` and `predict` are written for you; you write `History` and `fit`. In `fit`:
#
# 1. make a `DataLoader` over `TensorDataset(x, y)` with `batch_size`, `shuffle` and `seed`, **once**
#    (each epoch then draws a new order from it), and one over `validation_data` if given (not shuffled);
# 2. callbacks = the given ones, then a new `History` **last** (so it records what the others add to
#    the logs); call `set_model(self)` on each: callbacks see this `Model`;
# 3. set `self.stop_training = False` (a previous `fit` may have stopped early), call `on_train_begin`;
# 4. each epoch: `on_epoch_begin(epoch, {})`; `logs = {"loss": train_epoch(...)}`; with validation data,
#    `logs["val_loss"], logs["val_accuracy"] = evaluate(...)`; then `on_epoch_end(epoch, logs)` on every
#    callback, and stop if `self.stop_training`;
# 5. `on_train_end({})`, keep the History as `self.history` and return it.

# %% [solution] id=fit
class History(mt.train.Callback):
    """Records every epoch's logs (keras.callbacks.History).

    history.history["loss"] is the list of the epochs' losses (one key per logged name), history.epoch
    the list of epoch numbers.
    """

    def __init__(self):
        super().__init__()
        ### BEGIN SOLUTION
        self.history = {}
        self.epoch = []
        ### END SOLUTION

    def on_epoch_end(self, epoch, logs=None):
        ### BEGIN SOLUTION
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        ### END SOLUTION


class Model:
    """A network with Keras's training methods: compile, fit, evaluate, predict."""

    def __init__(self, network):
        self.network = network
        self.optimizer = self.loss_fn = None
        self.stop_training = False

    def state_dict(self):  # what checkpoints save and restore
        return self.network.state_dict()

    def load_state_dict(self, state):
        self.network.load_state_dict(state)

    def compile(self, optimizer, loss):
        """Remember the optimizer (an mt.optim optimizer over network.parameters()) and the loss function."""
        self.optimizer, self.loss_fn = optimizer, loss
        return self

    def fit(self, x, y, epochs=1, batch_size=32, validation_data=None, callbacks=(), shuffle=True, seed=0):
        """Train for `epochs` epochs (fewer if a callback stops it); returns the History.

        Each epoch's logs: "loss" (train_epoch's), and with validation_data=(x_val, y_val) also
        "val_loss" and "val_accuracy" (evaluate's).
        """
        ### BEGIN SOLUTION
        loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle, seed=seed)
        val_loader = None
        if validation_data is not None:
            val_loader = DataLoader(TensorDataset(*validation_data), batch_size=batch_size)
        history = History()
        callbacks = [*callbacks, history]
        for callback in callbacks:
            callback.set_model(self)
        self.stop_training = False
        for callback in callbacks:
            callback.on_train_begin({})
        for epoch in range(epochs):
            for callback in callbacks:
                callback.on_epoch_begin(epoch, {})
            logs = {"loss": train_epoch(self.network, loader, self.optimizer, self.loss_fn)}
            if val_loader is not None:
                logs["val_loss"], logs["val_accuracy"] = evaluate(self.network, val_loader, self.loss_fn)
            for callback in callbacks:
                callback.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for callback in callbacks:
            callback.on_train_end({})
        self.history = history
        return history
        ### END SOLUTION

    def evaluate(self, x, y, batch_size=32):
        """(loss, accuracy) on (x, y), with your evaluate."""
        return evaluate(self.network, DataLoader(TensorDataset(x, y), batch_size=batch_size), self.loss_fn)

    def predict(self, x, batch_size=32):
        """The network's outputs for x as one NumPy array: in eval mode, without a graph, batch by batch."""
        was_training = self.network.training
        self.network.eval()
        try:
            with mt.no_grad():
                batches = DataLoader(TensorDataset(np.asarray(x, dtype=np.float32)), batch_size=batch_size)
                return np.concatenate([self.network(xb).numpy() for (xb,) in batches])
        finally:
            self.network.train(was_training)

# %% [tests] id=fit_tests points=5
class _Recorder(mt.train.Callback):
    """Writes down every hook call, with the keys of the logs it got."""

    def __init__(self, stop_after=None):
        super().__init__()
        self.calls, self.stop_after = [], stop_after

    def set_model(self, model):
        super().set_model(model)
        self.calls.append("set_model")

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(f"epoch_begin {epoch}")

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(f"epoch_end {epoch} {sorted(logs or {})}")
        if self.stop_after is not None and epoch >= self.stop_after:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.calls.append("train_end")


def _toy_data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    return x, (x[:, 0] - x[:, 2] > 0).astype(np.int64)


def _expected_losses(x, y, epochs, batch_size, seed, lr=0.3, shuffle=True):
    """The per-epoch training losses fit must log: the test's own loop, its own batches."""
    net = _toy_net(seed)
    optimizer = mt.optim.SGD(net.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(x)) if shuffle else np.arange(len(x))
        batches = [(mt.tensor(x[order[i:i + batch_size]]), mt.tensor(y[order[i:i + batch_size]]))
                   for i in range(0, len(x), batch_size)]
        losses.append(_reference_epoch(net, batches, optimizer))
    return losses


def _compiled(seed, network=None):
    network = network or _toy_net(seed)
    return Model(network).compile(mt.optim.SGD(network.parameters(), lr=0.3), F.cross_entropy)


with testing.part("fit"), sealed_classes("fit"):
    own(History, "fit")
    own(Model, "fit")
    _x, _y = _toy_data(40)
    _xv, _yv = _toy_data(12, seed=1)
    _model, _rec = _compiled(0), _Recorder()
    _call = ("Model(net).fit(x (40, 3), y, epochs=3, batch_size=8, validation_data=(xv, yv), callbacks=[recorder], "
             "seed=0)")
    _history = _model.fit(_x, _y, epochs=3, batch_size=8, validation_data=(_xv, _yv), callbacks=[_rec], seed=0)
    _keys = "['loss', 'val_accuracy', 'val_loss']"
    testing.assert_equal(_rec.calls, ["set_model", "train_begin"] + sum(
        ([f"epoch_begin {e}", f"epoch_end {e} {_keys}"] for e in range(3)), []) + ["train_end"],
        call=_call + ": the recorder's hook calls, in order",
        hints=[(lambda got, exp: any("epoch_end 0 ['loss']" in c for c in got),
                "on_epoch_end came before the validation values were in the logs: evaluate first")])
    testing.assert_true(_rec.model is _model, call=_call + ": the recorder's self.model", got=repr(_rec.model)[:80],
                        expected="the Model itself", hint="callback.set_model(self)")
    testing.assert_true(isinstance(_history, History) and isinstance(_history.history, dict), call=_call,
                        got=repr(_history)[:120], expected="a History whose .history is a dict",
                        hint="return the History: history.history maps each name to its per-epoch list")
    testing.assert_equal(sorted(_history.history), ["loss", "val_accuracy", "val_loss"],
                         call=_call + " -> sorted(history.history)")
    testing.assert_equal(_history.epoch, [0, 1, 2], call=_call + " -> history.epoch")
    testing.assert_close(_history.history["loss"], _expected_losses(_x, _y, 3, 8, 0), rtol=1e-5,
                         call=_call + ' -> history.history["loss"]',
                         hints="make the DataLoader once, before the epochs, with shuffle and seed (a new loader "
                               "each epoch repeats the first epoch's order); History records train_epoch's loss")
    testing.assert_close(_history.history["val_loss"][-1], _expected_eval(_model.network, [(mt.tensor(_xv),
                         mt.tensor(_yv))])[0], rtol=1e-5, call=_call + ' -> history.history["val_loss"][-1]')
    _stopper = _Recorder(stop_after=1)
    _h = _compiled(0).fit(_x, _y, epochs=5, batch_size=8, callbacks=[_stopper])
    testing.assert_equal(len(_h.history["loss"]), 2, call="fit(..., epochs=5, callbacks=[one that stops after epoch 1])"
                         " -> epochs recorded", hints="after on_epoch_end, break when self.stop_training is True")
    testing.assert_true(_stopper.calls[-1] == "train_end", call="fit with a callback that stops it",
                        got=_stopper.calls[-1], expected="train_end", hint="on_train_end runs after an early stop too")
    _loss, _acc = _model.evaluate(_xv, _yv)
    testing.assert_close([_loss, _acc], list(_expected_eval(_model.network, [(mt.tensor(_xv), mt.tensor(_yv))])),
                         rtol=1e-5, call="model.evaluate(xv, yv)")
    testing.assert_close(_model.predict(_xv, batch_size=5), _model.network(mt.tensor(_xv)).numpy(), atol=1e-6,
                         call="model.predict(xv, batch_size=5)")
### BEGIN HIDDEN TESTS
with testing.part("fit", hidden=True), sealed_classes("fit"):
    _x, _y = _toy_data(30, seed=4)
    _model = _compiled(2)
    _h = _model.fit(_x, _y, epochs=4, batch_size=7, shuffle=False)
    testing.assert_equal(sorted(_h.history), ["loss"], call="fit without validation_data -> sorted(history.history)")
    testing.assert_close(_h.history["loss"], _expected_losses(_x, _y, 4, 7, 2, shuffle=False), rtol=1e-5,
                         call="fit(x of 30, batch_size=7, shuffle=False) -> history.history['loss']")
    testing.assert_true(_model.history is _h, call="model.history after fit", got=repr(_model.history)[:80],
                        expected="the History fit returned")
    # a second fit after an early stop trains again
    _model = _compiled(3)
    _model.fit(_x, _y, epochs=3, batch_size=10, callbacks=[_Recorder(stop_after=0)])
    _h = _model.fit(_x, _y, epochs=3, batch_size=10)
    testing.assert_equal(len(_h.history["loss"]), 3, call="a second fit(epochs=3) after one that stopped early",
                         hints="set self.stop_training = False at the start of fit")

    class _AddsLr(mt.train.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["lr"] = 0.3

    _h = _compiled(4).fit(_x, _y, epochs=2, batch_size=10, callbacks=[_AddsLr()])
    testing.assert_equal(_h.history.get("lr"), [0.3, 0.3], call="fit with a callback that adds 'lr' to the logs",
                         hints="History goes last in the callbacks, so it records what the others add")
    _dropping = _compiled(5, network=_toy_net(5, dropout=0.5))
    _p1, _p2 = _dropping.predict(_x, batch_size=4), _dropping.predict(_x, batch_size=4)
    testing.assert_close(_p1, _p2, call="predict twice, with a Dropout net", atol=0,
                         hints="predict runs in eval mode: dropout off")
    testing.assert_equal(_p1.shape, (30, 2), call="predict(x of 30 rows, batch_size=4) -> shape")
### END HIDDEN TESTS

# %% [markdown]
# ### Part 8 · `EarlyStopping` (3 points)
#
# Validation loss falls, then turns up as the model starts to memorise the training set. Early stopping
# watches a logged value (`monitor`, usually `"val_loss"`) and stops when it has not improved for
# `patience` epochs **in a row**. The best value so far is what counts, not the last one: 0.9 after 0.95
# is no improvement if 0.8 came before. An improvement must beat the best by more than `min_delta`
# (smaller for `mode="min"`, losses; larger for `mode="max"`, accuracies).
#
# Keras's rule, which you follow exactly: each epoch without improvement adds 1 to `wait`; an improvement
# sets `wait` back to 0; training stops (`self.model.stop_training = True`, `self.stopped_epoch = epoch`)
# as soon as `wait >= patience`. So `patience=2` stops at the end of the second epoch in a row without
# improvement, and `patience=0` at the first. Keep `self.best` and `self.best_epoch` up to date, and start
# afresh in `on_train_begin`: one callback object may serve several `fit` calls.

# %% [solution] id=early_stopping
class EarlyStopping(mt.train.Callback):
    """Stop training when `monitor` has not improved for `patience` epochs in a row (keras.callbacks.EarlyStopping)."""

    def __init__(self, monitor="val_loss", patience=0, min_delta=0.0, mode="min"):
        super().__init__()
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, abs(min_delta), mode
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        """Reset: wait = 0, best = the worst possible value, best_epoch = stopped_epoch = -1."""
        ### BEGIN SOLUTION
        self.wait, self.best_epoch, self.stopped_epoch = 0, -1, -1
        self.best = np.inf if self.mode == "min" else -np.inf
        ### END SOLUTION

    def on_epoch_end(self, epoch, logs=None):
        ### BEGIN SOLUTION
        value = logs[self.monitor]
        if self.mode == "min":
            improved = value < self.best - self.min_delta
        else:
            improved = value > self.best + self.min_delta
        if improved:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.model.stop_training = True
            self.stopped_epoch = epoch
        ### END SOLUTION

# %% [tests] id=early_stopping_tests points=3
def _run_callback(callback, values, monitor="val_loss", model=None):
    """Feed a callback a sequence of monitored values, as fit would; the epoch it stopped at (None: never)."""
    model = model or types.SimpleNamespace(stop_training=False)
    callback.set_model(model)
    callback.on_train_begin({})
    for epoch, value in enumerate(values):
        callback.on_epoch_end(epoch, {"loss": 0.0, monitor: value})
        if model.stop_training:
            return epoch
    return None


with testing.part("early_stopping"), sealed_classes("early_stopping"):
    own(EarlyStopping, "early_stopping")
    _cases = [  # (values, patience, mode, the epoch it must stop at)
        ([1.0, 0.8, 0.85, 0.9, 0.7], 2, "min", 3),
        ([1.0, 0.9, 0.95, 0.92, 0.94, 0.5], 2, "min", 3),
        ([1.0, 0.8, 0.85, 0.7], 0, "min", 2),
        ([0.5, 0.6, 0.6, 0.55, 0.7], 1, "max", 2),
    ]
    for _values, _patience, _mode, _want in _cases:
        _es = EarlyStopping(patience=_patience, mode=_mode)
        _got = _run_callback(_es, _values)
        testing.assert_equal(_got, _want, call=f"EarlyStopping(patience={_patience}, mode={_mode!r}) on val_loss "
                             f"{_values}: the epoch it stops at",
                             hints=[(lambda got, exp: got == exp + 1,
                                     "one epoch late: stop as soon as wait >= patience"),
                                    (lambda got, exp: got is None or got > exp,
                                     "compare with the best value so far, not with the last epoch's"),
                                    "an epoch improves when it beats the best so far (smaller for mode='min', "
                                    "larger for mode='max')"])
    _es = EarlyStopping(patience=2)
    _run_callback(_es, [1.0, 0.8, 0.85, 0.9, 0.7])
    testing.assert_equal((_es.best, _es.best_epoch, _es.stopped_epoch), (0.8, 1, 3),
                         call="EarlyStopping(patience=2) on [1.0, 0.8, 0.85, 0.9, 0.7] -> (best, best_epoch, "
                              "stopped_epoch)")
### BEGIN HIDDEN TESTS
with testing.part("early_stopping", hidden=True), sealed_classes("early_stopping"):
    _es = EarlyStopping(patience=2, min_delta=0.05)
    testing.assert_equal(_run_callback(_es, [1.0, 0.97, 0.96, 0.5]), 2,
                         call="EarlyStopping(patience=2, min_delta=0.05) on [1.0, 0.97, 0.96, 0.5]",
                         hints="an improvement must beat the best by more than min_delta")
    _es = EarlyStopping(patience=2)
    testing.assert_equal(_run_callback(_es, [1.0, 0.9, 0.95, 0.85, 0.9, 0.95, 0.1]), 5,
                         call="EarlyStopping(patience=2) on [1.0, 0.9, 0.95, 0.85, 0.9, 0.95, 0.1]",
                         hints="an improvement sets wait back to 0: patience counts epochs *in a row*")
    testing.assert_equal(_run_callback(_es, [2.0, 1.9, 1.95, 1.8]), None,
                         call="the same EarlyStopping used again, on [2.0, 1.9, 1.95, 1.8]",
                         hints="on_train_begin must reset wait and best: the last fit's best (0.85) is not this one's")
    _es = EarlyStopping(monitor="val_accuracy", patience=1, mode="max", min_delta=0.01)
    testing.assert_equal(_run_callback(_es, [0.5, 0.505, 0.52, 0.7], monitor="val_accuracy"), 1,
                         call="EarlyStopping('val_accuracy', patience=1, mode='max', min_delta=0.01) on "
                              "[0.5, 0.505, 0.52, 0.7]")
### END HIDDEN TESTS

# %% [markdown]
# ### Part 9 · `ModelCheckpoint` that restores the best weights (3 points)
#
# Early stopping ends training *after* the best epoch, `patience` epochs too late: the weights you have at
# the end are not the best ones. A checkpoint fixes that. Each time `monitor` improves (the same rule as
# above, without `min_delta`), save the model's weights to `filepath` with `mt.save(self.model.state_dict(),
# filepath)`: on disk, so they survive a crash. At the end of training, load the best ones back:
# `self.model.load_state_dict(mt.load(filepath))`. Keep `self.best` and `self.best_epoch`, reset in
# `on_train_begin`. (Keras splits this in two: `ModelCheckpoint(save_best_only=True)` saves, and
# `EarlyStopping(restore_best_weights=True)` restores; PyTorch users write the same few lines with
# `torch.save(model.state_dict(), path)`.)

# %% [solution] id=checkpoint
class ModelCheckpoint(mt.train.Callback):
    """Save the weights to `filepath` whenever `monitor` improves; load the best back at the end of training."""

    def __init__(self, filepath, monitor="val_loss", mode="min"):
        super().__init__()
        self.filepath, self.monitor, self.mode = os.fspath(filepath), monitor, mode
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        ### BEGIN SOLUTION
        self.best = np.inf if self.mode == "min" else -np.inf
        self.best_epoch = -1
        ### END SOLUTION

    def on_epoch_end(self, epoch, logs=None):
        ### BEGIN SOLUTION
        value = logs[self.monitor]
        if (value < self.best) if self.mode == "min" else (value > self.best):
            mt.save(self.model.state_dict(), self.filepath)
            self.best, self.best_epoch = value, epoch
        ### END SOLUTION

    def on_train_end(self, logs=None):
        ### BEGIN SOLUTION
        if self.best_epoch >= 0:
            self.model.load_state_dict(mt.load(self.filepath))
        ### END SOLUTION

# %% [tests] id=checkpoint_tests points=3
def _epoch_weights(epoch):
    """The weights a 2 -> 2 Linear 'has' after `epoch`: easy to recognise (every entry equals the epoch)."""
    return {"weight": mt.tensor(np.full((2, 2), float(epoch), dtype=np.float32)),
            "bias": mt.tensor(np.full(2, float(epoch), dtype=np.float32))}


def _run_checkpoint(callback, values, monitor="val_loss", check_file=None):
    """Drive a checkpoint as fit would, the model's weights changing each epoch; the weights it ends with."""
    net = mt.nn.Linear(2, 2)
    callback.set_model(net)
    callback.on_train_begin({})
    for epoch, value in enumerate(values):
        net.load_state_dict(_epoch_weights(epoch))
        callback.on_epoch_end(epoch, {monitor: value})
        if check_file is not None:
            check_file(epoch)
    callback.on_train_end({})
    return float(net.weight.numpy()[0, 0])


_folder = tempfile.mkdtemp(prefix="minitorch_edu_08_")
with testing.part("checkpoint"), sealed_classes("checkpoint"):
    own(ModelCheckpoint, "checkpoint")
    _path = os.path.join(_folder, "best.npz")
    _values = [0.5, 0.3, 0.4, 0.35]
    _call = f"ModelCheckpoint(path) over val_loss {_values} (weights = the epoch number)"
    _ended_with = _run_checkpoint(ModelCheckpoint(_path), _values)
    testing.assert_equal(_ended_with, 1.0, call=_call + ": the weights the model ends with (their epoch)",
                         hints=[(lambda got, exp: got == 3.0, "the model kept the last epoch's weights: load the "
                                 "best ones back in on_train_end (and save only when the value improves)"),
                                "save only when the monitored value beats the best so far, then load that file "
                                "back in on_train_end"])
    testing.assert_true(os.path.exists(_path), call=_call + ": the file", got="no file at " + _path,
                        expected="the best weights saved there", hint="mt.save(self.model.state_dict(), self.filepath)")
    testing.assert_equal(float(mt.load(_path)["weight"].numpy()[0, 0]), 1.0,
                         call="the weights in the file after training (their epoch)")
    _cp = ModelCheckpoint(os.path.join(_folder, "acc.npz"), monitor="val_accuracy", mode="max")
    testing.assert_equal(_run_checkpoint(_cp, [0.5, 0.7, 0.6], monitor="val_accuracy"), 1.0,
                         call="ModelCheckpoint(monitor='val_accuracy', mode='max') over [0.5, 0.7, 0.6]: the weights "
                              "it ends with", hints="mode='max': larger is better")
### BEGIN HIDDEN TESTS
with testing.part("checkpoint", hidden=True), sealed_classes("checkpoint"):
    _path = os.path.join(_folder, "hidden.npz")
    _cp = ModelCheckpoint(_path)

    def _saved_when_improved(epoch, _want=(0.0, 1.0, 1.0, 3.0)):
        testing.assert_true(os.path.exists(_path),
                            call=f"the file after epoch {epoch} of val_loss [0.5, 0.3, 0.4, 0.2]",
                            got="no file yet", expected="the best weights so far",
                            hint="save when the value improves, during training (a crash must not lose it)")
        testing.assert_equal(float(mt.load(_path)["weight"].numpy()[0, 0]), _want[epoch],
                             call=f"the file after epoch {epoch} of val_loss [0.5, 0.3, 0.4, 0.2]",
                             hints="save when the value improves, during training (a crash must not lose it)")

    testing.assert_equal(_run_checkpoint(_cp, [0.5, 0.3, 0.4, 0.2], check_file=_saved_when_improved), 3.0,
                         call="ModelCheckpoint over [0.5, 0.3, 0.4, 0.2]: the weights it ends with")
    testing.assert_equal(_run_checkpoint(_cp, [0.9, 0.95, 1.0]), 0.0,
                         call="the same ModelCheckpoint used again, over [0.9, 0.95, 1.0]",
                         hints="reset best in on_train_begin: a second training must save its own best (0.9), "
                               "even if it is worse than the first training's")
    _cp = ModelCheckpoint(os.path.join(_folder, "tie.npz"))
    testing.assert_equal(_run_checkpoint(_cp, [0.5, 0.5, 0.6]), 0.0,
                         call="ModelCheckpoint over [0.5, 0.5, 0.6]: the weights it ends with",
                         hints="an equal value is not an improvement: keep the first best")
    # the mode says which way is better, whatever the metric is called (Keras guesses only with mode="auto")
    for _monitor, _mode, _want_epoch in (("val_f1", "max", 1.0), ("val_error", "min", 0.0)):
        _cp = ModelCheckpoint(os.path.join(_folder, f"{_monitor}.npz"), monitor=_monitor, mode=_mode)
        testing.assert_equal(_run_checkpoint(_cp, [0.5, 0.7, 0.6], monitor=_monitor), _want_epoch,
                             call=f"ModelCheckpoint(monitor={_monitor!r}, mode={_mode!r}) over [0.5, 0.7, 0.6]: the "
                                  "weights it ends with",
                             hints="compare as self.mode says ('max': larger is better), not by the metric's name")
### END HIDDEN TESTS

# %% [markdown]
# ## One computation, two styles: your loop and your `fit` give the same curve
#
# Is `fit` anything more than the loop of part 4? Train the same network twice: once with a hand-written
# loop over your `DataLoader` and `train_epoch`, once with your `Model.fit`, from the same seed (the same
# initial weights), on the same data, with a loader seeded the same way. Every batch, every update, every
# rounding is the same, so the two curves are not close, they are **equal**, to the last bit.

# %%
EPOCHS = 12
loop_losses = fit_history = None  # stay None until your parts run
loop_net = mlp(seed=1)
loop_opt = mt.optim.SGD(loop_net.parameters(), lr=0.05)
loop_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True, seed=1)
loop_test_loader = DataLoader(TensorDataset(x_test, y_test), batch_size=32)
loop_losses, loop_val = [], []
for _ in range(EPOCHS):
    loop_losses.append(train_epoch(loop_net, loop_loader, loop_opt, F.cross_entropy))
    loop_val.append(evaluate(loop_net, loop_test_loader, F.cross_entropy)[0])

fit_net = mlp(seed=1)
fit_model = Model(fit_net).compile(mt.optim.SGD(fit_net.parameters(), lr=0.05), F.cross_entropy)
fit_history = fit_model.fit(x_train, y_train, epochs=EPOCHS, batch_size=32, validation_data=(x_test, y_test), seed=1)
difference = np.max(np.abs(np.array(loop_losses) - np.array(fit_history.history["loss"])))
print(f"largest difference between the two training curves: {difference:.1e}")
print(f"held-back loss after {EPOCHS} epochs: loop {loop_val[-1]:.6f}, fit {fit_history.history['val_loss'][-1]:.6f}")

# %%
if fit_history is None:
    print("the two curves appear here once parts 1-7 run (the cell above says which part stopped it)")
else:
    fig, ax = plt.subplots(figsize=(6, 3.6))
    epochs_axis = np.arange(1, EPOCHS + 1)
    ax.plot(epochs_axis, loop_losses, "o-", lw=4, alpha=0.35, color="tab:blue", label="hand-written loop: training")
    ax.plot(epochs_axis, fit_history.history["loss"], "x--", color="k", label="Model.fit: training")
    ax.plot(epochs_axis, loop_val, "o-", lw=4, alpha=0.35, color="tab:orange", label="hand-written loop: held back")
    ax.plot(epochs_axis, fit_history.history["val_loss"], "x--", color="tab:red", label="Model.fit: held back")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    ax.set_title(f"the same network trained two ways (largest difference {difference:.0e})", fontsize=10)
    ax.legend(fontsize=8)
    plt.tight_layout()
    plt.show()

# %% [markdown]
# ## Your `fit` next to real Keras's `fit`
#
# Now the real thing. Keras 3 runs on top of JAX, PyTorch or TensorFlow (chosen with the environment
# variable `KERAS_BACKEND` *before* `import keras`); here it runs on JAX. The cell below builds the same
# MLP in Keras (`Dense` keeps its kernel as `(in, out)`, `mt.nn.Linear` as `(out, in)` like PyTorch, so
# the weights are copied in transposed), trains both for 8 epochs with plain SGD on the same batches
# (no shuffling on either side, since the two frameworks draw their shuffles differently), and compares
# the per-epoch losses. `bash scripts/start` installs Keras and JAX; without them the cell says how to
# install them and the chapter goes on.

# %%
os.environ.setdefault("KERAS_BACKEND", "jax")  # before the first `import keras`
try:
    import keras
except ImportError as err:
    keras = None
    print(f"Keras is not installed here ({err}): `.venv/bin/pip install 'keras>=3.5' jax` adds it "
          "(scripts/start installs both); the rest of the chapter does not need it")

# %%
KERAS_EPOCHS, N_SAME = 8, 1408  # 44 full batches of 32: both sides average the same batches the same way
keras_curve = None  # stays None until your fit and Keras have both run
if keras is not None:
    keras.utils.set_random_seed(0)
    ours_net = mlp(seed=2)
    start_weights = [p.numpy().copy() for p in ours_net.parameters()]  # W1 (64, 64), b1, W2 (10, 64), b2
    ours = Model(ours_net).compile(mt.optim.SGD(ours_net.parameters(), lr=0.1), F.cross_entropy)
    ours_history = ours.fit(x_train[:N_SAME], y_train[:N_SAME], epochs=KERAS_EPOCHS, batch_size=32, shuffle=False)

    theirs = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)])
    theirs.set_weights([w.T if w.ndim == 2 else w for w in start_weights])
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1),
                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    keras_history = theirs.fit(x_train[:N_SAME], y_train[:N_SAME], epochs=KERAS_EPOCHS, batch_size=32,
                               shuffle=False, verbose=0)
    ours_curve, keras_curve = np.array(ours_history.history["loss"]), np.array(keras_history.history["loss"])
    relative = np.max(np.abs(ours_curve - keras_curve) / keras_curve)
    predictions_gap = np.max(np.abs(ours.predict(x_test) - theirs.predict(x_test, verbose=0)))
    print(f"Keras {keras.__version__} on {keras.backend.backend()}: per-epoch training loss, largest relative "
          f"difference {relative:.1e}; predictions on the held-back digits differ by at most {predictions_gap:.1e}")
    print("equal up to float32 rounding:", bool(relative < 1e-4 and predictions_gap < 1e-3))

# %%
if keras_curve is not None:
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.plot(np.arange(1, KERAS_EPOCHS + 1), keras_curve, "o-", lw=4, alpha=0.4, label=f"keras {keras.__version__}.fit")
    ax.plot(np.arange(1, KERAS_EPOCHS + 1), ours_curve, "x--", color="k", label="your Model.fit")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_yscale("log")
    ax.set_title(f"same weights, same batches: largest relative difference {relative:.0e}", fontsize=10)
    ax.legend()
    plt.tight_layout()
    plt.show()
elif keras is not None:
    print("the comparison with Keras appears here once your Model.fit runs (parts 1-7)")

# %% [markdown]
# The only differences are float32 roundings: the two frameworks add the same numbers in different orders
# (JAX's XLA fuses and reorders the matrix products), and the differences stay at the level of float32's
# precision, about one part in ten million per operation, adding up over hundreds of steps.
#
# ## Watching training: TensorBoard
#
# A `History` lives in memory; a long training run wants a log you can watch while it runs and compare
# across runs. TensorBoard reads **event files**: records of (tag, step, value) in TensorBoard's protocol
# buffer format. The package's `mt.train.TensorBoard` is Keras's callback of that name, and it speaks the
# callback protocol your `fit` speaks, so it plugs straight into your `Model.fit`. It writes the files
# through tensorboardX (the library PyTorch's own `torch.utils.tensorboard` grew from): training values under
# `train/`, validation values under `validation/`, both as `epoch_loss`, `epoch_accuracy`, so TensorBoard
# draws each pair in one chart. Below, the files are read back with TensorBoard's own reader, the class its
# server loads runs with.

# %%
# one folder per run (TensorBoard compares the runs side by side); a grader's run writes to a temporary folder
runs = tempfile.mkdtemp(prefix="minitorch_edu_runs_") if chapter.grading else os.path.join("runs", "08_data_training")
log_dir = os.path.join(runs, time.strftime("mlp-%Y%m%d-%H%M%S"))
board_net = mlp(seed=3)
board_model = Model(board_net).compile(mt.optim.SGD(board_net.parameters(), lr=0.1, momentum=0.9), F.cross_entropy)
board_history = board_model.fit(x_train, y_train, epochs=6, batch_size=32, validation_data=(x_test, y_test),
                                callbacks=[mt.train.TensorBoard(log_dir)], seed=3)
try:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
except ImportError:
    EventAccumulator = None
    print("TensorBoard is not installed here: `.venv/bin/pip install tensorboard` (scripts/start installs it)")
if EventAccumulator is not None:
    for split, key in (("train", "loss"), ("validation", "val_loss")):
        events = EventAccumulator(os.path.join(log_dir, split))
        events.Reload()
        logged = [e.value for e in events.Scalars("epoch_loss")]
        print(f"{split:>10}/epoch_loss as TensorBoard reads it:", np.round(logged, 4),
              " same as the History:", bool(np.allclose(logged, board_history.history[key])))
print(f"\nto watch it: .venv/bin/tensorboard --logdir {os.path.abspath(runs)}"
      "   (then open http://localhost:6006)")

# %% [markdown]
# ## Closing: your data pipeline and your training code, together
#
# Everything you wrote, training one model: your `TensorDataset` and `DataLoader` feed a 128-unit MLP with
# dropout; your `Model.fit` runs your `train_epoch` and `evaluate` each epoch; your `EarlyStopping` ends
# training when the held-back loss stops improving, and your `ModelCheckpoint` hands back the best weights.
# A part you have not written yet is replaced by the package's version, and the cell says which (while
# grading, only your code runs).

# %%
def _probe_dataset(cls):
    return cls(np.zeros((2, 1)), np.zeros(2))[1]


def _probe_loader(cls):
    return next(iter(cls(ClosingDataset(np.zeros((3, 2), np.float32), np.arange(3)), batch_size=2, shuffle=True,
                         seed=0)))


def _probe_train_epoch(fn):
    net = mt.nn.Linear(2, 2)
    return fn(net, [(mt.ones(2, 2), mt.tensor([0, 1]))], mt.optim.SGD(net.parameters(), lr=0.1), F.cross_entropy)


def _probe_callback(cls):
    cb = cls(os.path.join(_folder, "probe.npz")) if cls in (ModelCheckpoint, mt.train.ModelCheckpoint) else cls()
    cb.set_model(mt.nn.Linear(1, 1))
    cb.on_train_begin({})
    cb.on_epoch_end(0, {"val_loss": 1.0})


def _probe_model(cls):
    net = mt.nn.Linear(3, 2)
    cls(net).compile(mt.optim.SGD(net.parameters(), lr=0.1), F.cross_entropy).fit(*_toy_data(8), epochs=1)


ClosingDataset = chapter.fallback("dataset", TensorDataset, _probe_dataset)
ClosingLoader = chapter.fallback("dataloader", DataLoader, _probe_loader)
closing_epoch = chapter.fallback("train_epoch", train_epoch, _probe_train_epoch)
closing_evaluate = chapter.fallback("evaluate", evaluate, lambda fn: fn(mt.nn.Linear(2, 2),
                                    [(mt.ones(2, 2), mt.tensor([0, 1]))], F.cross_entropy))
ClosingStopping = chapter.fallback("early_stopping", EarlyStopping, _probe_callback)
ClosingCheckpoint = chapter.fallback("checkpoint", ModelCheckpoint, _probe_callback)
closing_fit = chapter.fallback("fit", Model, _probe_model)

# %%
mt.manual_seed(4)
closing_net = mlp(hidden=128, seed=4, dropout=0.2)
closing_opt = mt.optim.SGD(closing_net.parameters(), lr=0.05, momentum=0.9)
stopper = ClosingStopping(patience=3)
keeper = (ClosingCheckpoint(os.path.join(_folder, "closing.npz")) if ClosingCheckpoint is ModelCheckpoint
          else mt.train.EarlyStopping(patience=10_000, restore_best_weights=True))  # the package's way to restore
train_loader = ClosingLoader(ClosingDataset(x_train, y_train), batch_size=32, shuffle=True, seed=4)
held_back = ClosingLoader(ClosingDataset(x_test, y_test), batch_size=64)


def run_epoch(model, loader, optimizer, loss_fn):
    """Your train_epoch, or the package's (which returns a dict of logs)."""
    result = closing_epoch(model, loader, optimizer, loss_fn)
    return result["loss"] if isinstance(result, dict) else result


def measure(model, loader, loss_fn):
    """Your evaluate, or the package's evaluate_loop with accuracy."""
    if closing_evaluate is evaluate:
        return evaluate(model, loader, loss_fn)
    logs = mt.train.evaluate_loop(model, loader, loss_fn, ["accuracy"])
    return logs["loss"], logs["accuracy"]


if closing_fit is Model:
    # your fit, with your callbacks (train_epoch and evaluate inside it are yours too)
    closing_model = Model(closing_net).compile(closing_opt, F.cross_entropy)
    closing_history = closing_model.fit(x_train, y_train, epochs=40, batch_size=32, validation_data=(x_test, y_test),
                                        callbacks=[stopper, keeper], seed=4)
    logs_of = closing_history.history
else:
    # the package's fit is not here: the same loop, by hand, with your loader and your callbacks
    logs_of = {"loss": [], "val_loss": [], "val_accuracy": []}
    closing_net.stop_training = False
    for callback in (stopper, keeper):
        callback.set_model(closing_net)
        callback.on_train_begin({})
    for epoch_index in range(40):  # noqa: B007 (the callbacks get it)
        logs = {"loss": run_epoch(closing_net, train_loader, closing_opt, F.cross_entropy)}
        logs["val_loss"], logs["val_accuracy"] = measure(closing_net, held_back, F.cross_entropy)
        for key, value in logs.items():
            logs_of[key].append(value)
        for callback in (stopper, keeper):
            callback.on_epoch_end(epoch_index, logs)
        if closing_net.stop_training:
            break
    for callback in (stopper, keeper):
        callback.on_train_end({})
closing_accuracy = digits_accuracy(closing_net, x_test, y_test)
best_epoch = int(np.argmin(logs_of["val_loss"]))
print(f"stopped after {len(logs_of['loss'])} epochs; best held-back loss at epoch {best_epoch + 1}; "
      f"the model ends with that epoch's weights: {closing_accuracy:.1%} of the held-back digits right")

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
run = np.arange(1, len(logs_of["loss"]) + 1)
ax1.plot(run, logs_of["loss"], "o-", label="training")
ax1.plot(run, logs_of["val_loss"], "o--", label="held back")
ax1.axvline(best_epoch + 1, color="k", lw=0.8, ls=":", label="best epoch (restored)")
ax1.set_yscale("log")
ax1.set_xlabel("epoch")
ax1.set_title("loss")
ax1.legend(fontsize=8)
ax2.plot(run, logs_of["val_accuracy"], "o--", color="tab:orange", label="held back")
ax2.axhline(0.95, color="grey", lw=0.8, label="95%")
ax2.set_xlabel("epoch")
ax2.set_title("accuracy")
ax2.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## What you built, and what comes next
#
# | you wrote | PyTorch | Keras |
# | --- | --- | --- |
# | `TensorDataset`, `collate`, `DataLoader` | `torch.utils.data` | arrays + `fit(batch_size, shuffle)`, `tf.data` |
# | `train_epoch`, `evaluate` | the loop in every training script | inside `Model.fit` / `evaluate` |
# | `Model.fit`, `History` | Lightning's `Trainer.fit` | `Model.fit`, `keras.callbacks.History` |
# | `EarlyStopping`, `ModelCheckpoint` | Lightning callbacks, a few lines by hand | `keras.callbacks` |
#
# The loop is the same computation in both styles; the styles differ in who writes it and where you may
# reach in. PyTorch's explicit loop is easy to bend (two optimizers, a custom schedule per batch, gradient
# accumulation); Keras's `fit` is short and hard to get wrong, and you bend it through callbacks or by
# overriding `train_step`. Chapter 09 puts convolutions into the model this loop trains, and chapter 10
# compiles the step itself into a static graph, as `jax.jit` and `tf.function` do.
