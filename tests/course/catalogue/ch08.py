"""Wrong solutions for chapter 08 (data and training): the mistakes of a first loader, loop and fit.

Names ending in `_hidden_only` pass the visible self-check and fail only the hidden tests. Names starting
with `bypass_` hand the part to the package (a call, a subclass, a name saved before the checks, an
object held inside the learner's, `model.fit`): each must score 0.
"""

SLUG = "08_data_training"


def _dataset(init: str, length: str = "return len(self.arrays[0])",
             item: str = "return tuple(a[index] for a in self.arrays)", base: str = "mt.data.Dataset",
             before: str = "") -> str:
    return f'''{before}
class TensorDataset({base}):
    def __init__(self, *arrays):
{_indent(init, 8)}

    def __len__(self):
{_indent(length, 8)}

    def __getitem__(self, index):
{_indent(item, 8)}
'''


def _indent(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line if line.strip() else line for line in text.strip("\n").splitlines())


GOOD_INIT = """
if not arrays:
    raise ValueError("TensorDataset needs at least one array")
self.arrays = tuple(a.numpy() if isinstance(a, mt.Tensor) else np.asarray(a) for a in arrays)
lengths = [len(a) for a in self.arrays]
if len(set(lengths)) != 1:
    raise ValueError(f"lengths {lengths}")
"""


def _loader(init: str = "", length: str = "", iterate: str = "", before: str = "", base: str = "") -> str:
    init = init or """
self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, int(batch_size), shuffle, drop_last
self.collate_fn = collate if collate_fn is None else collate_fn
self.rng = np.random.default_rng(seed)
"""
    length = length or """
n = len(self.dataset)
return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
"""
    iterate = iterate or """
n = len(self.dataset)
order = self.rng.permutation(n) if self.shuffle else np.arange(n)
for start in range(0, len(self) * self.batch_size, self.batch_size):
    yield self.collate_fn([self.dataset[int(i)] for i in order[start:start + self.batch_size]])
"""
    return f'''{before}
class DataLoader{f"({base})" if base else ""}:
    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, collate_fn=None):
{_indent(init, 8)}

    def __len__(self):
{_indent(length, 8)}

    def __iter__(self):
{_indent(iterate, 8)}
'''


def _train_epoch(body: str) -> str:
    return f"""
def train_epoch(model, loader, optimizer, loss_fn):
{_indent(body, 4)}
"""


def _evaluate(body: str) -> str:
    return f"""
def evaluate(model, loader, loss_fn):
{_indent(body, 4)}
"""


HISTORY = """
class History(mt.train.Callback):
    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
"""

FIT = """
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
"""

PREDICT = """
was_training = self.network.training
self.network.eval()
try:
    with mt.no_grad():
        batches = DataLoader(TensorDataset(np.asarray(x, dtype=np.float32)), batch_size=batch_size)
        return np.concatenate([self.network(xb).numpy() for (xb,) in batches])
finally:
    self.network.train(was_training)
"""


def _model(fit: str = FIT, history: str = HISTORY, predict: str = PREDICT) -> str:
    return f"""{history}

class Model:
    def __init__(self, network):
        self.network = network
        self.optimizer = self.loss_fn = None
        self.stop_training = False

    def state_dict(self):
        return self.network.state_dict()

    def load_state_dict(self, state):
        self.network.load_state_dict(state)

    def compile(self, optimizer, loss):
        self.optimizer, self.loss_fn = optimizer, loss
        return self

    def fit(self, x, y, epochs=1, batch_size=32, validation_data=None, callbacks=(), shuffle=True, seed=0):
{_indent(fit, 8)}

    def evaluate(self, x, y, batch_size=32):
        return evaluate(self.network, DataLoader(TensorDataset(x, y), batch_size=batch_size), self.loss_fn)

    def predict(self, x, batch_size=32):
{_indent(predict, 8)}
"""


def _early_stopping(begin: str, end: str, base: str = "mt.train.Callback", before: str = "") -> str:
    return f"""{before}
class EarlyStopping({base}):
    def __init__(self, monitor="val_loss", patience=0, min_delta=0.0, mode="min"):
        super().__init__()
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, abs(min_delta), mode
        self.on_train_begin()

    def on_train_begin(self, logs=None):
{_indent(begin, 8)}

    def on_epoch_end(self, epoch, logs=None):
{_indent(end, 8)}
"""


ES_BEGIN = """
self.wait, self.best_epoch, self.stopped_epoch = 0, -1, -1
self.best = np.inf if self.mode == "min" else -np.inf
"""


IMPROVED = "value < self.best - self.min_delta if self.mode == 'min' else value > self.best + self.min_delta"


def _es_end(improved: str = IMPROVED, stop: str = "self.wait >= self.patience", reset: str = "self.wait = 0",
            best: str = "self.best = value") -> str:
    return f"""
value = logs[self.monitor]
improved = {improved}
if improved:
    {best}
    self.best_epoch = epoch
    {reset}
    return
self.wait += 1
if {stop}:
    self.model.stop_training = True
    self.stopped_epoch = epoch
"""


def _checkpoint(begin: str, end: str, train_end: str, base: str = "mt.train.Callback", before: str = "") -> str:
    return f"""{before}
class ModelCheckpoint({base}):
    def __init__(self, filepath, monitor="val_loss", mode="min"):
        super().__init__()
        self.filepath, self.monitor, self.mode = os.fspath(filepath), monitor, mode
        self.on_train_begin()

    def on_train_begin(self, logs=None):
{_indent(begin, 8)}

    def on_epoch_end(self, epoch, logs=None):
{_indent(end, 8)}

    def on_train_end(self, logs=None):
{_indent(train_end, 8)}
"""


CP_BEGIN = """
self.best = np.inf if self.mode == "min" else -np.inf
self.best_epoch = -1
"""
CP_END = """
value = logs[self.monitor]
if (value < self.best) if self.mode == "min" else (value > self.best):
    mt.save(self.model.state_dict(), self.filepath)
    self.best, self.best_epoch = value, epoch
"""
CP_TRAIN_END = """
if self.best_epoch >= 0:
    self.model.load_state_dict(mt.load(self.filepath))
"""

TRAIN_DIGITS = """
def train_digits(x_train, y_train, seed=0):
{body}
"""

WRONG = {
    "dataset": {
        "len_counts_arrays": _dataset(GOOD_INIT, length="return len(self.arrays)"),
        "getitem_returns_list": _dataset(GOOD_INIT, item="return [a[index] for a in self.arrays]"),
        "getitem_indexes_columns": _dataset(GOOD_INIT, item="return tuple(a[:, index] if a.ndim > 1 else a[index] "
                                                             "for a in self.arrays)"),
        "keeps_tensors": _dataset("self.arrays = arrays\nif len({len(a) for a in arrays}) != 1:\n"
                                  "    raise ValueError('lengths differ')"),
        "no_length_check": _dataset("self.arrays = tuple(a.numpy() if isinstance(a, mt.Tensor) else np.asarray(a) "
                                    "for a in arrays)"),
        "error_without_lengths": _dataset(GOOD_INIT.replace('f"lengths {lengths}"', '"the arrays differ in length"')),
        "checks_first_two_only_hidden_only": _dataset("""
self.arrays = tuple(a.numpy() if isinstance(a, mt.Tensor) else np.asarray(a) for a in arrays)
if len(self.arrays) > 1 and len(self.arrays[0]) != len(self.arrays[1]):
    raise ValueError(f"lengths {len(self.arrays[0])} and {len(self.arrays[1])}")
"""),
        "only_two_fields_hidden_only": _dataset("""
self.arrays = tuple(a.numpy() if isinstance(a, mt.Tensor) else a for a in arrays)
lengths = [len(a) for a in self.arrays]
if len(set(lengths)) != 1:
    raise ValueError(f"lengths {lengths}")
self.n = lengths[0]
""", length="return self.n", item="return tuple(a[index] for a in self.arrays[:2])"),
        "bypass_subclass": "\nclass TensorDataset(mt.data.TensorDataset):\n    pass\n",
        "bypass_delegate": _dataset("self.inner = mt.data.TensorDataset(*arrays)", length="return len(self.inner)",
                                    item="return self.inner[index]"),
        "bypass_saved_name": _dataset("self.inner = _PackageDataset(*arrays)", length="return len(self.inner)",
                                      item="return self.inner[index]",
                                      before="from minitorch_edu.data import TensorDataset as _PackageDataset"),
    },
    "collate": {
        "sample_major": """
def collate(samples):
    return tuple(mt.tensor(np.hstack([np.asarray(v, dtype=np.float32).ravel() for v in s])) for s in samples)
""",
        "concatenate_not_stack": """
def collate(samples):
    out = []
    for column in zip(*samples):
        joined = np.concatenate([np.atleast_1d(np.asarray(v)) for v in column])
        out.append(mt.tensor(joined.astype(np.float32) if joined.dtype.kind == "f" else joined))
    return tuple(out)
""",
        "keeps_float64": """
def collate(samples):
    return tuple(mt.tensor(np.stack([np.asarray(v) for v in column])) for column in zip(*samples))
""",
        "everything_float32": """
def collate(samples):
    return tuple(mt.tensor(np.stack([np.asarray(v) for v in column]).astype(np.float32)) for column in zip(*samples))
""",
        "returns_arrays": """
def collate(samples):
    out = []
    for column in zip(*samples):
        stacked = np.stack([np.asarray(v) for v in column])
        out.append(stacked.astype(np.float32) if stacked.dtype.kind == "f" else stacked.astype(np.int64))
    return tuple(out)
""",
        "squeezes_size_one_axes_hidden_only": """
def collate(samples):
    out = []
    for column in zip(*samples):
        stacked = np.stack([np.asarray(v) for v in column]).squeeze()  # "tidies" (B, 1) into (B,)
        out.append(mt.tensor(stacked.astype(np.float32) if stacked.dtype.kind == "f" else stacked))
    return tuple(out)
""",
        "bypass_default_collate": """
def collate(samples):
    return mt.data.default_collate(list(samples))
""",
        "bypass_package_loader": """
def collate(samples):
    columns = [np.stack([np.asarray(v) for v in column]) for column in zip(*samples)]
    return next(iter(mt.data.DataLoader(mt.data.TensorDataset(*columns), batch_size=len(samples))))
""",
    },
    "dataloader": {
        "seed_ignored": _loader(init="""
self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, int(batch_size), shuffle, drop_last
self.collate_fn = collate if collate_fn is None else collate_fn
self.rng = np.random.default_rng()
"""),
        "reshuffles_identically_each_epoch": _loader(init="""
self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, int(batch_size), shuffle, drop_last
self.collate_fn = collate if collate_fn is None else collate_fn
self.seed = seed
""", iterate="""
n = len(self.dataset)
order = np.random.default_rng(self.seed).permutation(n) if self.shuffle else np.arange(n)
for start in range(0, len(self) * self.batch_size, self.batch_size):
    yield self.collate_fn([self.dataset[int(i)] for i in order[start:start + self.batch_size]])
"""),
        "partial_batch_dropped_without_drop_last": _loader(length="return len(self.dataset) // self.batch_size"),
        "drop_last_ignored": _loader(length="return -(-len(self.dataset) // self.batch_size)"),
        "shuffles_always": _loader(iterate="""
n = len(self.dataset)
order = self.rng.permutation(n)
for start in range(0, len(self) * self.batch_size, self.batch_size):
    yield self.collate_fn([self.dataset[int(i)] for i in order[start:start + self.batch_size]])
"""),
        "legacy_global_seed": _loader(init="""
self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, int(batch_size), shuffle, drop_last
self.collate_fn = collate if collate_fn is None else collate_fn
np.random.seed(seed)
""", iterate="""
n = len(self.dataset)
order = np.random.permutation(n) if self.shuffle else np.arange(n)
for start in range(0, len(self) * self.batch_size, self.batch_size):
    yield self.collate_fn([self.dataset[int(i)] for i in order[start:start + self.batch_size]])
"""),
        "empty_last_batch_hidden_only": _loader(length="""
n = len(self.dataset)
return n // self.batch_size if self.drop_last else n // self.batch_size + 1
"""),
        "drops_before_shuffling_hidden_only": _loader(iterate="""
n = len(self.dataset)
keep = len(self) * self.batch_size
order = self.rng.permutation(n) if self.shuffle else np.arange(n)
if self.drop_last:
    order = self.rng.permutation(keep) if self.shuffle else np.arange(keep)
for start in range(0, keep, self.batch_size):
    yield self.collate_fn([self.dataset[int(i)] for i in order[start:start + self.batch_size]])
"""),
        "bypass_subclass": _loader(base="mt.data.DataLoader", init="""
super().__init__(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed,
                 collate_fn=collate_fn)
""", length="return mt.data.DataLoader.__len__(self)", iterate="""
for indices in self.batch_indices():
    yield (self.collate_fn or collate)([self.dataset[int(i)] for i in indices])
"""),
        "bypass_delegate": _loader(iterate="""
inner = mt.data.DataLoader(self.dataset, batch_size=self.batch_size, shuffle=self.shuffle, drop_last=self.drop_last,
                           generator=self.rng)
for indices in inner.batch_indices():
    yield self.collate_fn([self.dataset[int(i)] for i in indices])
"""),
        "bypass_saved_name": _loader(before="from minitorch_edu.data import DataLoader as _PackageLoader", iterate="""
inner = _PackageLoader(self.dataset, batch_size=self.batch_size, shuffle=self.shuffle, drop_last=self.drop_last,
                       generator=self.rng)
for indices in inner.batch_indices():
    yield self.collate_fn([self.dataset[int(i)] for i in indices])
"""),
    },
    "train_epoch": {
        "no_zero_grad": _train_epoch("""
model.train()
total, count = 0.0, 0
for x, y in loader:
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    total, count = total + loss.item() * x.shape[0], count + x.shape[0]
return total / count
"""),
        "zero_grad_between_backward_and_step": _train_epoch("""
model.train()
total, count = 0.0, 0
for x, y in loader:
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    total, count = total + loss.item() * x.shape[0], count + x.shape[0]
return total / count
"""),
        "returns_last_batch_loss": _train_epoch("""
model.train()
for x, y in loader:
    loss = loss_fn(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
return loss.item()
"""),
        "returns_a_tensor": _train_epoch("""
model.train()
total, count = 0.0, 0
for x, y in loader:
    loss = loss_fn(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    total, count = total + loss.detach() * x.shape[0], count + x.shape[0]
return total / count
"""),
        "no_train_mode_hidden_only": _train_epoch("""
total, count = 0.0, 0
for x, y in loader:
    loss = loss_fn(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    total, count = total + loss.item() * x.shape[0], count + x.shape[0]
model.train()
return total / count
"""),
        "mean_of_batch_means_hidden_only": _train_epoch("""
model.train()
losses = []
for x, y in loader:
    loss = loss_fn(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
return float(np.mean(losses))
"""),
        "bypass_package_loop": _train_epoch("return mt.train.train_epoch(model, loader, optimizer, loss_fn)['loss']"),
        "bypass_model_fit": _train_epoch("""
model.compile(optimizer=optimizer, loss=loss_fn)
return model.fit(loader, epochs=1, verbose=0).history["loss"][-1]
"""),
    },
    "evaluate": {
        "train_mode": _evaluate("""
total = correct = count = 0
with mt.no_grad():
    for x, y in loader:
        output = model(x)
        total += loss_fn(output, y).item() * x.shape[0]
        correct += int(np.sum(output.numpy().argmax(axis=1) == y.numpy()))
        count += x.shape[0]
return total / count, correct / count
"""),
        # argmax over the batch axis: (batch, classes) -> one answer per class, which NumPy cannot compare with
        # the labels (the check says so, and names the axis, instead of showing NumPy's ValueError)
        "argmax_over_the_batch_axis": _evaluate("""
was_training = model.training
model.eval()
total = correct = count = 0
with mt.no_grad():
    for x, y in loader:
        output = model(x)
        total += loss_fn(output, y).item() * x.shape[0]
        correct += int(np.sum(output.numpy().argmax(axis=0) == y.numpy()))
        count += x.shape[0]
model.train(was_training)
return total / count, correct / count
"""),
        "records_a_graph": _evaluate("""
was_training = model.training
model.eval()
total = correct = count = 0
for x, y in loader:
    output = model(x)
    total += loss_fn(output, y).item() * x.shape[0]
    correct += int(np.sum(output.detach().numpy().argmax(axis=1) == y.numpy()))
    count += x.shape[0]
model.train(was_training)
return total / count, correct / count
"""),
        "never_restores_mode": _evaluate("""
model.eval()
total = correct = count = 0
with mt.no_grad():
    for x, y in loader:
        output = model(x)
        total += loss_fn(output, y).item() * x.shape[0]
        correct += int(np.sum(output.numpy().argmax(axis=1) == y.numpy()))
        count += x.shape[0]
return total / count, correct / count
"""),
        "accuracy_as_count": _evaluate("""
was_training = model.training
model.eval()
total = correct = count = 0
with mt.no_grad():
    for x, y in loader:
        output = model(x)
        total += loss_fn(output, y).item() * x.shape[0]
        correct += int(np.sum(output.numpy().argmax(axis=1) == y.numpy()))
        count += x.shape[0]
model.train(was_training)
return total / count, correct
"""),
        "always_train_afterwards_hidden_only": _evaluate("""
model.eval()
total = correct = count = 0
with mt.no_grad():
    for x, y in loader:
        output = model(x)
        total += loss_fn(output, y).item() * x.shape[0]
        correct += int(np.sum(output.numpy().argmax(axis=1) == y.numpy()))
        count += x.shape[0]
model.train()
return total / count, correct / count
"""),
        "mean_of_batch_accuracies_hidden_only": _evaluate("""
was_training = model.training
model.eval()
total = count = 0
accuracies = []
with mt.no_grad():
    for x, y in loader:
        output = model(x)
        total += loss_fn(output, y).item() * x.shape[0]
        accuracies.append(float(np.mean(output.numpy().argmax(axis=1) == y.numpy())))
        count += x.shape[0]
model.train(was_training)
return total / count, float(np.mean(accuracies))
"""),
        "bypass_package_loop": _evaluate("""
logs = mt.train.evaluate_loop(model, loader, loss_fn, ["accuracy"])
return logs["loss"], logs["accuracy"]
"""),
        "bypass_model_evaluate": _evaluate("""
model.compile(optimizer="sgd", loss=loss_fn, metrics=["accuracy"])
loss, accuracy = model.evaluate(loader)
return loss, accuracy
"""),
    },
    "train_digits": {
        "one_epoch": TRAIN_DIGITS.format(body="""
    model = mlp(hidden=64, seed=seed)
    optimizer = mt.optim.SGD(model.parameters(), lr=0.01)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True, seed=seed)
    train_epoch(model, loader, optimizer, F.cross_entropy)
    return model
"""),
        "learning_rate_too_small": TRAIN_DIGITS.format(body="""
    model = mlp(hidden=64, seed=seed)
    optimizer = mt.optim.SGD(model.parameters(), lr=0.001)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True, seed=seed)
    for _ in range(10):
        train_epoch(model, loader, optimizer, F.cross_entropy)
    return model
"""),
        "returns_untrained_model": TRAIN_DIGITS.format(body="""
    model = mlp(hidden=64, seed=seed)
    trained = mlp(hidden=64, seed=seed)
    optimizer = mt.optim.SGD(trained.parameters(), lr=0.1, momentum=0.9)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True, seed=seed)
    for _ in range(5):
        train_epoch(trained, loader, optimizer, F.cross_entropy)
    return model
"""),
        "labels_misaligned_by_shuffle": TRAIN_DIGITS.format(body="""
    model = mlp(hidden=64, seed=seed)
    optimizer = mt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    shuffled = np.random.default_rng(seed).permutation(len(x_train))
    loader = DataLoader(TensorDataset(x_train[shuffled], y_train), batch_size=32, shuffle=True, seed=seed)
    for _ in range(10):
        train_epoch(model, loader, optimizer, F.cross_entropy)
    return model
"""),
        "ignores_its_arguments_hidden_only": TRAIN_DIGITS.format(body="""
    (x_train, y_train), _ = mt.data.load_digits(flatten=True)  # the chapter's split, whatever was passed
    model = mlp(hidden=64, seed=seed)
    optimizer = mt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True, seed=seed)
    for _ in range(20):
        train_epoch(model, loader, optimizer, F.cross_entropy)
    return model
"""),
        "bypass_model_fit": TRAIN_DIGITS.format(body="""
    model = mlp(hidden=64, seed=seed)
    model.compile(optimizer=mt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), loss="cross_entropy")
    model.fit(x_train, y_train, batch_size=32, epochs=20, verbose=0)
    return model
"""),
        "bypass_package_loader_and_loop": TRAIN_DIGITS.format(body="""
    model = mlp(hidden=64, seed=seed)
    optimizer = mt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = mt.data.DataLoader(mt.data.TensorDataset(x_train, y_train), batch_size=32, shuffle=True, seed=seed)
    for _ in range(20):
        mt.train.train_epoch(model, loader, optimizer, F.cross_entropy)
    return model
"""),
        "bypass_saved_package_loader": "from minitorch_edu.data import DataLoader as _PackageLoader\n"
        + TRAIN_DIGITS.format(body="""
    model = mlp(hidden=64, seed=seed)
    optimizer = mt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = _PackageLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True, seed=seed)
    for _ in range(20):
        train_epoch(model, loader, optimizer, F.cross_entropy)
    return model
"""),
        # another library's classifier dressed as a model: 97% without the learner's loop
        "bypass_sklearn_classifier": TRAIN_DIGITS.format(body="""
    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(max_iter=2000).fit(np.asarray(x_train), np.asarray(y_train))

    class Wrapped:
        training = True

        def eval(self):
            return self

        def train(self, mode=True):
            return self

        def __call__(self, x):
            return mt.tensor(classifier.predict_log_proba(x.numpy()).astype(np.float32))

    return Wrapped()
"""),
    },
    "fit": {
        "history_list_of_dicts": _model(history="""
class History(mt.train.Callback):
    def __init__(self):
        super().__init__()
        self.history = []
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        self.history.append(dict(logs or {}))
"""),
        "callbacks_before_validation": _model(fit=FIT.replace("""    if val_loader is not None:
        logs["val_loss"], logs["val_accuracy"] = evaluate(self.network, val_loader, self.loss_fn)
    for callback in callbacks:
        callback.on_epoch_end(epoch, logs)
""", """    for callback in callbacks:
        callback.on_epoch_end(epoch, logs)
    if val_loader is not None:
        logs["val_loss"], logs["val_accuracy"] = evaluate(self.network, val_loader, self.loss_fn)
""")),
        "new_loader_every_epoch": _model(fit=FIT.replace("""    logs = {"loss": train_epoch(""", """
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle, seed=seed)
    logs = {"loss": train_epoch(""".lstrip("\n"))),
        "stop_training_ignored": _model(fit=FIT.replace("""    if self.stop_training:
        break
""", "")),
        "callbacks_see_the_network": _model(fit=FIT.replace("callback.set_model(self)",
                                                            "callback.set_model(self.network)")
                                            .replace("self.stop_training = False", "self.network.stop_training = False")
                                            .replace("if self.stop_training:", "if self.network.stop_training:")),
        "no_train_end_after_stop": _model(fit=FIT.replace("""    if self.stop_training:
        break
for callback in callbacks:
    callback.on_train_end({})
""", """    if self.stop_training:
        self.history = history
        return history
for callback in callbacks:
    callback.on_train_end({})
""")),
        "stop_training_not_reset_hidden_only": _model(fit=FIT.replace("self.stop_training = False\n", "")),
        "history_first_hidden_only": _model(fit=FIT.replace("callbacks = [*callbacks, history]",
                                                            "callbacks = [history, *callbacks]")),
        "predict_in_train_mode_hidden_only": _model(predict="""
with mt.no_grad():
    batches = DataLoader(TensorDataset(np.asarray(x, dtype=np.float32)), batch_size=batch_size)
    return np.concatenate([self.network(xb).numpy() for (xb,) in batches])
"""),
        "bypass_network_fit": _model(fit="""
self.network.compile(optimizer=self.optimizer, loss=self.loss_fn)
history = self.network.fit(x, y, batch_size=batch_size, epochs=epochs, validation_data=validation_data,
                           callbacks=list(callbacks), shuffle=shuffle, verbose=0)
self.history = history
return history
"""),
        "bypass_package_fit": _model(fit="""
mt.train.compile(self.network, optimizer=self.optimizer, loss=self.loss_fn)
self.history = mt.train.fit(self.network, x, y, batch_size=batch_size, epochs=epochs,
                            validation_data=validation_data, callbacks=list(callbacks), verbose=0)
return self.history
"""),
        "bypass_package_history": _model(history="""
class History(mt.train.History):
    pass
"""),
    },
    "early_stopping": {
        "off_by_one_patience": _early_stopping(ES_BEGIN, _es_end(stop="self.wait > self.patience")),
        "compares_with_last_epoch": _early_stopping(ES_BEGIN + "self.last = self.best\n", """
value = logs[self.monitor]
improved = value < self.last - self.min_delta if self.mode == "min" else value > self.last + self.min_delta
self.last = value
if improved:
    if (value < self.best) if self.mode == "min" else (value > self.best):
        self.best, self.best_epoch = value, epoch
    self.wait = 0
    return
self.wait += 1
if self.wait >= self.patience:
    self.model.stop_training = True
    self.stopped_epoch = epoch
"""),
        "mode_max_ignored": _early_stopping(ES_BEGIN.replace('np.inf if self.mode == "min" else -np.inf', "np.inf"),
                                            _es_end(improved="value < self.best - self.min_delta")),
        "best_not_kept": _early_stopping(ES_BEGIN, _es_end(best="pass")),
        "wait_never_reset_hidden_only": _early_stopping(ES_BEGIN, _es_end(reset="pass")),
        "min_delta_ignored_hidden_only": _early_stopping(ES_BEGIN, _es_end(
            improved="value < self.best if self.mode == 'min' else value > self.best")),
        "no_reset_on_train_begin_hidden_only": _early_stopping("""
if not hasattr(self, "best"):
    self.wait, self.best_epoch, self.stopped_epoch = 0, -1, -1
    self.best = np.inf if self.mode == "min" else -np.inf
""", _es_end()),
        "bypass_subclass": """
class EarlyStopping(mt.train.EarlyStopping):
    def __init__(self, monitor="val_loss", patience=0, min_delta=0.0, mode="min"):
        super().__init__(monitor=monitor, patience=patience, min_delta=min_delta, mode=mode)
""",
        "bypass_delegate": _early_stopping("""
self.inner = mt.train.EarlyStopping(self.monitor, self.min_delta, self.patience, self.mode)
self.inner.set_model(self.model)
self.inner.on_train_begin()
self.best, self.best_epoch, self.stopped_epoch = self.inner.best, -1, -1
""", """
self.inner.set_model(self.model)
self.inner.on_epoch_end(epoch, logs)
self.best, self.best_epoch, self.stopped_epoch = self.inner.best, self.inner.best_epoch, self.inner.stopped_epoch
"""),
        "bypass_saved_name": _early_stopping("""
self.inner = _PackageStopping(self.monitor, self.min_delta, self.patience, self.mode)
self.inner.on_train_begin()
self.best, self.best_epoch, self.stopped_epoch = self.inner.best, -1, -1
""", """
self.inner.set_model(self.model)
self.inner.on_epoch_end(epoch, logs)
self.best, self.best_epoch, self.stopped_epoch = self.inner.best, self.inner.best_epoch, self.inner.stopped_epoch
""", before="from minitorch_edu.train import EarlyStopping as _PackageStopping"),
    },
    "checkpoint": {
        "saves_every_epoch": _checkpoint(CP_BEGIN, """
value = logs[self.monitor]
mt.save(self.model.state_dict(), self.filepath)
if (value < self.best) if self.mode == "min" else (value > self.best):
    self.best, self.best_epoch = value, epoch
""", CP_TRAIN_END),
        "never_restores": _checkpoint(CP_BEGIN, CP_END, "pass"),
        "compares_with_last_epoch": _checkpoint(CP_BEGIN + "self.last = self.best\n", """
value = logs[self.monitor]
if (value < self.last) if self.mode == "min" else (value > self.last):
    mt.save(self.model.state_dict(), self.filepath)
    self.best, self.best_epoch = value, epoch
self.last = value
""", CP_TRAIN_END),
        "keeps_weights_in_memory_only": _checkpoint(CP_BEGIN, """
value = logs[self.monitor]
if (value < self.best) if self.mode == "min" else (value > self.best):
    self.saved = {k: mt.tensor(v.numpy().copy()) for k, v in self.model.state_dict().items()}
    self.best, self.best_epoch = value, epoch
""", "if self.best_epoch >= 0:\n    self.model.load_state_dict(self.saved)"),
        "mode_ignored": _checkpoint(CP_BEGIN.replace('np.inf if self.mode == "min" else -np.inf', "np.inf"), """
value = logs[self.monitor]
if value < self.best:
    mt.save(self.model.state_dict(), self.filepath)
    self.best, self.best_epoch = value, epoch
""", CP_TRAIN_END),
        "no_reset_on_train_begin_hidden_only": _checkpoint("""
if not hasattr(self, "best"):
    self.best = np.inf if self.mode == "min" else -np.inf
    self.best_epoch = -1
""", CP_END, CP_TRAIN_END),
        "saves_only_at_the_end_hidden_only": _checkpoint(CP_BEGIN, """
value = logs[self.monitor]
if (value < self.best) if self.mode == "min" else (value > self.best):
    self.saved = {k: mt.tensor(v.numpy().copy()) for k, v in self.model.state_dict().items()}
    self.best, self.best_epoch = value, epoch
""", """
if self.best_epoch >= 0:
    mt.save(self.saved, self.filepath)
    self.model.load_state_dict(mt.load(self.filepath))
"""),
        "ties_count_as_improvement_hidden_only": _checkpoint(CP_BEGIN, """
value = logs[self.monitor]
if (value <= self.best) if self.mode == "min" else (value >= self.best):
    mt.save(self.model.state_dict(), self.filepath)
    self.best, self.best_epoch = value, epoch
""", CP_TRAIN_END),
        # the direction guessed from the metric's name (Keras's mode="auto"), the mode argument ignored
        "mode_guessed_from_name_hidden_only": _checkpoint(CP_BEGIN, """
value = logs[self.monitor]
if (value > self.best) if "acc" in self.monitor else (value < self.best):
    mt.save(self.model.state_dict(), self.filepath)
    self.best, self.best_epoch = value, epoch
""", CP_TRAIN_END),
        "bypass_package_checkpoint": _checkpoint("""
self.inner = mt.train.ModelCheckpoint(self.filepath, monitor=self.monitor, save_best_only=True, mode=self.mode)
self.best, self.best_epoch = self.inner.best, -1
""", """
self.inner.set_model(self.model)
before = self.inner.best
self.inner.on_epoch_end(epoch, logs)
if self.inner.best != before:
    self.best, self.best_epoch = self.inner.best, epoch
""", CP_TRAIN_END),
        "bypass_restore_best_weights": _checkpoint("""
self.inner = mt.train.EarlyStopping(self.monitor, patience=10**9, mode=self.mode, restore_best_weights=True)
self.best, self.best_epoch = np.inf, -1
""", """
self.inner.set_model(self.model)
self.inner.on_epoch_end(epoch, logs)
mt.save(self.model.state_dict(), self.filepath) if self.inner.best_epoch == epoch else None
""", "self.inner.on_train_end()"),
        "bypass_saved_name": _checkpoint("""
self.inner = _PackageCheckpoint(self.filepath, monitor=self.monitor, save_best_only=True, mode=self.mode)
self.best, self.best_epoch = np.inf, -1
""", """
self.inner.set_model(self.model)
self.inner.on_epoch_end(epoch, logs)
""", "self.model.load_state_dict(mt.load(self.filepath))",
            before="from minitorch_edu.train import ModelCheckpoint as _PackageCheckpoint"),
    },
}
