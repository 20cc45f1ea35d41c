# %% [markdown]
# # 00 · Why frameworks exist
#
# In this chapter you train a neural network with nothing but NumPy. You write the forward pass, the
# loss, and then, by hand, every derivative the training needs. By the end you will have felt exactly
# the work that PyTorch, TensorFlow and JAX were built to take off your hands, and in the last part you
# train the same network again in about ten lines of `minitorch_edu`, the framework you build yourself in
# the chapters that follow.
#
# What you write (graded, 23 points):
#
# | part | function | points |
# | --- | --- | --- |
# | 1 | `forward`: linear → ReLU → linear | 3 |
# | 2 | `cross_entropy_loss`: softmax cross-entropy that survives logits of 1000 | 3 |
# | 3 | `cross_entropy_grad`: its gradient with respect to the logits | 3 |
# | 4 | `linear_backward`: gradients of `x @ W + b` for `x`, `W` and `b` | 3 |
# | 5 | `relu_backward` | 2 |
# | 6 | `backward`: the whole network's gradients, from parts 3–5 | 3 |
# | 7 | `numerical_gradient`: a finite-difference gradient check | 3 |
# | 8 | `gradient_descent`: the training loop | 3 |
#
# After every part a tests cell checks your function and tells you, in words, what went wrong.

# %% [setup]
import matplotlib.pyplot as plt
import numpy as np

import minitorch_edu as mt
from minitorch_edu import testing
from minitorch_edu.course import Chapter, interact
from minitorch_edu.data import toy

AUTOGRAD = ["minitorch_edu.core.autograd.backpropagate", "minitorch_edu.core.autograd.flow"]  # any backward()
chapter = Chapter("00_why_frameworks", numpy_only=True, references={
    "forward": ["minitorch_edu.nn.functional.linear"],
    "cross_entropy_loss": ["minitorch_edu.nn.functional.cross_entropy", "minitorch_edu.core.ops.log_softmax",
                           "minitorch_edu.core.ops.logsumexp"],
    "cross_entropy_grad": ["minitorch_edu.nn.functional.cross_entropy", "minitorch_edu.core.ops.softmax", *AUTOGRAD],
    "linear_backward": ["minitorch_edu.nn.functional.linear", *AUTOGRAD],
    "relu_backward": ["minitorch_edu.relu", *AUTOGRAD],
    "backward": ["minitorch_edu.nn.functional.linear", "minitorch_edu.nn.functional.cross_entropy", *AUTOGRAD],
    "numerical_gradient": ["minitorch_edu.core.gradcheck.numerical_grad"],
    "gradient_descent": ["minitorch_edu.optim.SGD"],
})
plt.rcParams.update({"figure.dpi": 80, "figure.figsize": (5, 3.5)})


def init_params(n_in, n_hidden, n_out, seed=0):
    """Weights drawn at random (He initialisation: variance 2 / fan-in), biases zero."""
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.standard_normal((n_in, n_hidden)) * np.sqrt(2.0 / n_in),
        "b1": np.zeros(n_hidden),
        "W2": rng.standard_normal((n_hidden, n_out)) * np.sqrt(2.0 / n_hidden),
        "b2": np.zeros(n_out),
    }


def draw_points(ax, X, y):
    """The points of each class in their own colour and marker (black-edged: they stand out on any shade)."""
    for label, colour, marker in ((0, "tab:blue", "o"), (1, "tab:red", "^")):
        ax.scatter(X[y == label, 0], X[y == label, 1], c=colour, marker=marker, edgecolors="k", linewidths=0.5,
                   s=20, label=f"class {label}")
    ax.legend(fontsize=7, loc="upper right", framealpha=0.9)


def draw_boundary(ax, predict, X, y, title=None):
    """Shade the plane by predict(points) -> class scores (N, 2); draw the points by label."""
    xs = np.linspace(X[:, 0].min() - 0.2, X[:, 0].max() + 0.2, 120)
    ys = np.linspace(X[:, 1].min() - 0.2, X[:, 1].max() + 0.2, 120)
    gx, gy = np.meshgrid(xs, ys)
    scores = np.asarray(predict(np.stack([gx.ravel(), gy.ravel()], axis=1)), dtype=np.float64)
    diff = (scores[:, 1] - scores[:, 0]).reshape(gx.shape)
    p1 = 1.0 / (1.0 + np.exp(-np.clip(diff, -50, 50)))  # softmax of two classes, read as P(class 1)
    ax.contourf(gx, gy, p1, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.35)  # pale: the points stay visible
    ax.contour(gx, gy, p1, levels=[0.5], colors="k", linewidths=1)
    draw_points(ax, X, y)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)

# %% [markdown]
# ## The data: a circle no straight line can cut out
#
# `minitorch_edu.data.toy` bundles small 2-D classification sets (nothing is downloaded). The
# `circle` set labels a point 1 when it lies outside a circle around the centre. You train on 400
# points and measure accuracy on 400 fresh ones. The points are moved from the unit square to
# [-1, 1]² so that they are centred on zero, which helps gradient descent.

# %%
X_train, y_train = toy.circle(400, seed=0)
X_test, y_test = toy.circle(400, seed=1)
X_train, X_test = (X_train.astype(np.float64) - 0.5) * 2, (X_test.astype(np.float64) - 0.5) * 2
print("X_train", X_train.shape, X_train.dtype, "  y_train", y_train.shape, y_train.dtype)
print("points per class:", np.bincount(y_train))

# %%
fig, ax = plt.subplots(figsize=(4, 4))
draw_points(ax, X_train, y_train)
ax.set_aspect("equal")
ax.set_title("toy.circle: class 1 (red triangles) outside the circle")
plt.show()

# %% [markdown]
# ## The network: linear → ReLU → linear
#
# A linear model draws one straight line through the plane, and no straight line separates a circle
# from what surrounds it. One hidden layer is enough:
#
# $$z_1 = X W_1 + b_1, \qquad h_1 = \mathrm{relu}(z_1) = \max(z_1, 0), \qquad \text{logits} = h_1 W_2 + b_2$$
#
# With N points, D = 2 input features, H hidden units and C = 2 classes the shapes are `X (N, D)`,
# `W1 (D, H)`, `b1 (H,)`, `W2 (H, C)`, `b2 (C,)`, and the logits come out as `(N, C)`: one score per
# class for every point. Adding `b1` of shape `(H,)` to `X @ W1` of shape `(N, H)` relies on NumPy's
# broadcasting, which adds the bias to every row.
#
# What the frameworks call it: this is `torch.nn.Linear` / `keras.layers.Dense` twice with
# `torch.nn.ReLU` in between. Keras stores the weight as `(in, out)`, as you do here; PyTorch stores
# it as `(out, in)` and computes `x @ W.T + b`. The maths is the same.
#
# Below is the picture you will build the framework around: the network drawn as a **computation
# graph**. Data flows forward along the black arrows. To train, gradients flow backward along the red
# ones, and every box needs its own backward rule. Writing those rules is parts 3 to 6.

# %%
def draw_graph(ax):
    """The two-layer net as a computation graph: forward (black) and backward (red) arrows."""
    boxes = [("X", 0.0), ("linear\nW1, b1", 1.6), ("ReLU", 3.2), ("linear\nW2, b2", 4.8),
             ("softmax\ncross-entropy", 6.6), ("loss L", 8.4)]
    values = ["z1", "h1", "logits", "L"]
    grads = ["dL/dz1", "dL/dh1", "dL/dlogits", "1"]
    for text, x in boxes:
        op = "\n" in text or text == "ReLU"
        ax.text(x, 0, text, ha="center", va="center", fontsize=9,
                bbox={"boxstyle": "round", "fc": "#fde9c9" if op else "#d9e8f5", "ec": "k"})
    for i in range(len(boxes) - 1):
        x0, x1 = boxes[i][1] + 0.55, boxes[i + 1][1] - 0.55
        ax.annotate("", xy=(x1, 0.12), xytext=(x0, 0.12), arrowprops={"arrowstyle": "->", "color": "k"})
        ax.annotate("", xy=(x0, -0.12), xytext=(x1, -0.12), arrowprops={"arrowstyle": "->", "color": "tab:red"})
        if i >= 1:
            ax.text((x0 + x1) / 2, 0.27, values[i - 1], ha="center", fontsize=8)
            ax.text((x0 + x1) / 2, -0.34, grads[i - 1], ha="center", fontsize=8, color="tab:red")
    for x, label in ((1.6, "dL/dW1, dL/db1"), (4.8, "dL/dW2, dL/db2")):
        ax.annotate(label, xy=(x, -0.3), xytext=(x, -0.75), ha="center", fontsize=8, color="tab:red",
                    arrowprops={"arrowstyle": "<-", "color": "tab:red"})
    ax.text(6.6, 0.55, "labels y", ha="center", fontsize=8)
    ax.annotate("", xy=(6.6, 0.28), xytext=(6.6, 0.5), arrowprops={"arrowstyle": "->", "color": "k"})
    ax.set_xlim(-0.6, 9.0)
    ax.set_ylim(-0.95, 0.75)
    ax.axis("off")


fig, ax = plt.subplots(figsize=(9, 2.6))
draw_graph(ax)
ax.set_title("forward (black) and backward (red) through the two-layer net")
plt.show()

# %% [markdown]
# ### Part 1 · The forward pass (3 points)
#
# Write `forward(X, params)`. Return the logits and a `cache`: a dict that keeps what the backward
# pass will need, namely the input `"X"`, the hidden layer before the ReLU `"z1"` and after it `"h1"`.
# Use NumPy only (`@`, `np.maximum`).

# %% [solution] id=forward
def forward(X, params):
    """Two-layer net: logits = relu(X @ W1 + b1) @ W2 + b2.

    X: (N, D) array; params: dict with W1 (D, H), b1 (H,), W2 (H, C), b2 (C,).
    Returns (logits of shape (N, C), cache) where cache = {"X": X, "z1": ..., "h1": ...}.
    """
    ### BEGIN SOLUTION
    z1 = X @ params["W1"] + params["b1"]
    h1 = np.maximum(z1, 0.0)
    logits = h1 @ params["W2"] + params["b2"]
    return logits, {"X": X, "z1": z1, "h1": h1}
    ### END SOLUTION

# %% [tests] id=forward_tests points=3
with testing.part("forward"), testing.calling():
    _X = np.array([[1.0, 2.0], [-1.0, 0.5]])
    _p = {"W1": np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -1.0]]), "b1": np.array([0.0, -1.0, 0.5]),
          "W2": np.array([[1.0, 0.0], [-1.0, 1.0], [2.0, -2.0]]), "b2": np.array([0.5, -0.5])}
    _call = "forward(X of shape (2, 2), params with W1 (2, 3), b1 (3,), W2 (3, 2), b2 (2,))"
    with testing.calling(_call):
        _out = forward(_X, _p)
    testing.assert_true(isinstance(_out, tuple) and len(_out) == 2 and isinstance(_out[1], dict), call=_call,
                        got=type(_out).__name__, expected="a tuple (logits, cache) with cache a dict",
                        hint="return logits, {'X': X, 'z1': z1, 'h1': h1}")
    _logits, _cache = _out
    testing.assert_close(_cache.get("h1"), [[1.0, 2.0, 0.0], [0.0, 1.0, 0.0]], call=_call + ' -> cache["h1"]',
                         hints=[(lambda got, exp: np.shape(got) == (2, 3) and np.min(got) < 0,
                                 "h1 has negative entries: apply the ReLU, np.maximum(z1, 0)"),
                                (lambda got, exp: np.allclose(got, [[1.0, 2.0, 0.5], [0.0, 1.0, 0.5]]),
                                 "you added b1 after the ReLU: the bias goes inside, relu(X @ W1 + b1)"),
                                "h1 = np.maximum(X @ W1 + b1, 0)"])
    testing.assert_close(_logits, [[-0.5, 1.5], [-0.5, 0.5]], call=_call + " -> logits",
                         hints=[(lambda got, exp: np.allclose(got, [[0.0, 1.5], [0.0, 0.5]]),
                                 "the output layer has no ReLU: logits may be negative"),
                                (lambda got, exp: np.allclose(got, [[-1.0, 2.0], [-1.0, 1.0]]),
                                 "you forgot b2"),
                                "logits = h1 @ W2 + b2"])
### BEGIN HIDDEN TESTS
with testing.part("forward", hidden=True), testing.calling():
    _rng = np.random.default_rng(11)
    for _n, _d, _h, _c in [(7, 5, 4, 3), (1, 2, 6, 2), (16, 3, 8, 4)]:
        _X = _rng.standard_normal((_n, _d))
        _p = {"W1": _rng.standard_normal((_d, _h)), "b1": _rng.standard_normal(_h),
              "W2": _rng.standard_normal((_h, _c)), "b2": _rng.standard_normal(_c)}
        _z1 = _X @ _p["W1"] + _p["b1"]
        _call = f"forward(X of shape {_X.shape}, random params with H={_h}, C={_c})"
        with testing.calling(_call):
            _logits, _cache = forward(_X, _p)
        testing.assert_true(isinstance(_cache, dict) and {"X", "z1", "h1"} <= set(_cache), call=_call + " -> cache",
                            got=sorted(_cache) if isinstance(_cache, dict) else type(_cache).__name__,
                            expected='a dict with the keys "X", "z1" and "h1"',
                            hint='the backward pass reads cache["X"], cache["z1"] and cache["h1"]: store all three')
        testing.assert_close(_logits, np.maximum(_z1, 0) @ _p["W2"] + _p["b2"], call=_call + " -> logits")
        testing.assert_close(_cache["z1"], _z1, call=_call + ' -> cache["z1"]',
                             hints=["cache['z1'] must keep the values before the ReLU (did the ReLU overwrite them?)"])
        testing.assert_close(_cache["h1"], np.maximum(_z1, 0), call=_call + ' -> cache["h1"]')
        testing.assert_close(_cache["X"], _X, call=_call + ' -> cache["X"]')
### END HIDDEN TESTS

# %% [markdown]
# ## The loss: softmax cross-entropy, computed so that it cannot overflow
#
# Softmax turns each row of logits into probabilities, $p_{ic} = e^{s_{ic}} / \sum_k e^{s_{ik}}$, and
# cross-entropy is the mean over the batch of $-\log p_{i, y_i}$, the negative log-probability of the
# right class. Computed literally, it breaks as soon as a logit is large: $e^{1000}$ does not fit in a
# float64 (the largest is about $1.8 \cdot 10^{308} \approx e^{709}$). Watch:

# %%
big = np.array([1000.0, 0.0])
with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # the warnings say the same
    naive = np.exp(big) / np.exp(big).sum()
    print("naive softmax of [1000, 0]:", naive, " -> log gives", np.log(naive))

# %% [markdown]
# The fix every framework uses is an identity: subtracting any constant $m$ from a row does not change
# its softmax, because $e^{s - m} / \sum_k e^{s_k - m} = e^{s} / \sum_k e^{s_k}$. Choose $m = \max_k s_k$
# in **each row**. Then the largest exponent is $e^0 = 1$, nothing overflows, and
#
# $$-\log p_{i, y_i} = \log \sum_k e^{s_{ik} - m_i} - (s_{i, y_i} - m_i).$$
#
# This is the log-sum-exp trick (`torch.logsumexp`, `tf.reduce_logsumexp`, `jax.nn.logsumexp`).
# PyTorch's `F.cross_entropy` and Keras's `SparseCategoricalCrossentropy(from_logits=True)` take raw
# logits for exactly this reason.
#
# ### Part 2 · Softmax cross-entropy (3 points)

# %% [solution] id=cross_entropy_loss
def cross_entropy_loss(logits, y):
    """Mean softmax cross-entropy of logits (N, C) against integer labels y (N,), as a float.

    Numerically stable: shift each row by its own maximum before exponentiating,
    so that cross_entropy_loss(np.array([[1000.0, 0.0]]), np.array([1])) == 1000.0.
    """
    ### BEGIN SOLUTION
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1))
    return float(np.mean(log_sum - shifted[np.arange(len(y)), y]))
    ### END SOLUTION

# %% [tests] id=cross_entropy_loss_tests points=3
with testing.part("cross_entropy_loss"), testing.calling():
    _call = "cross_entropy_loss(logits [[2, 1, 0], [0, 0, 3]], y [0, 2])"
    testing.assert_close(cross_entropy_loss(np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 3.0]]), np.array([0, 2])),
                         0.25126446043267064, call=_call,
                         hints=[(lambda got, exp: np.isclose(got, 2 * exp), "you summed over the batch: take the mean"),
                                (lambda got, exp: np.size(got) != 1, "return one number, the mean over the batch"),
                                "the loss of row i is log(sum_k exp(s_ik)) - s_i,y_i"])
    for _label, _want in ((0, 0.0), (1, 1000.0)):
        _call = f"cross_entropy_loss(logits [[1000, 0]], y [{_label}])"
        testing.assert_close(cross_entropy_loss(np.array([[1000.0, 0.0]]), np.array([_label])), _want, call=_call,
                             atol=1e-9, hints=[
                                 (lambda got, exp: not np.all(np.isfinite(got)),
                                  "exp(1000) overflowed: subtract each row's maximum before np.exp"),
                                 (lambda got, exp: exp > 0 and 20 < got < 100,
                                  "clipping the probability (log(p + 1e-12)) caps the loss: use the log-sum-exp form"),
                                 "shift the logits by the row maximum, then log-sum-exp"])
### BEGIN HIDDEN TESTS
with testing.part("cross_entropy_loss", hidden=True), testing.calling():
    def _ce(s, t):
        s = s - s.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(s).sum(axis=1)) - s[np.arange(len(t)), t]))

    _rng = np.random.default_rng(12)
    for _n, _c, _scale in [(5, 3, 1.0), (1, 4, 3.0), (9, 2, 10.0), (6, 7, 200.0)]:
        _s, _t = _rng.standard_normal((_n, _c)) * _scale, _rng.integers(0, _c, _n)
        testing.assert_close(cross_entropy_loss(_s, _t), _ce(_s, _t),
                             call=f"cross_entropy_loss(random logits {_s.shape} * {_scale}, y)")
    # rows on very different scales: one shared shift would underflow the second row to log(0)
    _s = np.array([[1000.0, 0.0], [0.0, 1.0], [-800.0, -801.0]])
    testing.assert_close(cross_entropy_loss(_s, np.array([0, 0, 1])), _ce(_s, np.array([0, 0, 1])),
                         call="cross_entropy_loss(rows on scales 1000, 1 and -800, y [0, 0, 1])",
                         hints=["shift every row by its own maximum (axis=1, keepdims=True), not by one global max"])
    testing.assert_true(np.ndim(cross_entropy_loss(_s, np.array([0, 0, 1]))) == 0, call="cross_entropy_loss(...)",
                        got=np.shape(cross_entropy_loss(_s, np.array([0, 0, 1]))), expected="a scalar",
                        hint="return the mean as one number")
### END HIDDEN TESTS

# %% [markdown]
# ## The backward pass, by hand
#
# Training needs the gradient of the loss with respect to every parameter: $\partial L / \partial W_1$,
# $\partial L / \partial b_1$, $\partial L / \partial W_2$, $\partial L / \partial b_2$. The chain rule
# gets them one box of the graph at a time, walking backward. Each box receives $\partial L / \partial
# \text{output}$ (call it `dout`, with the output's shape) and passes on $\partial L / \partial
# \text{input}$. A handy check: **a gradient always has the shape of the thing it is the gradient of.**
#
# **Softmax cross-entropy.** Differentiate $L = \frac1N \sum_i \big(\log \sum_k e^{s_{ik}} - s_{i,y_i}\big)$
# with respect to $s_{ic}$ and the result is surprisingly neat:
#
# $$\frac{\partial L}{\partial s_{ic}} = \frac{1}{N}\big(p_{ic} - [c = y_i]\big),$$
#
# the softmax probabilities minus the one-hot labels, divided by the batch size because the loss is a
# mean. Compute $p$ with the same max-shift as in part 2.
#
# ### Part 3 · The gradient of the loss (3 points)

# %% [solution] id=cross_entropy_grad
def cross_entropy_grad(logits, y):
    """dL/dlogits for L = cross_entropy_loss(logits, y): (softmax(logits) - onehot(y)) / N, shape (N, C).

    Example: cross_entropy_grad(np.array([[0.0, 0.0]]), np.array([0])) == [[-0.5, 0.5]].
    """
    ### BEGIN SOLUTION
    shifted = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(shifted)
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1.0
    return p / len(y)
    ### END SOLUTION

# %% [tests] id=cross_entropy_grad_tests points=3
with testing.part("cross_entropy_grad"), testing.calling():
    testing.assert_close(cross_entropy_grad(np.array([[0.0, 0.0]]), np.array([0])), [[-0.5, 0.5]],
                         call="cross_entropy_grad(logits [[0, 0]], y [0])",
                         hints=[(lambda got, exp: np.allclose(got, [[0.5, 0.5]]), "subtract the one-hot label from p"),
                                (lambda got, exp: np.allclose(got, [[0.5, -0.5]]), "the sign is flipped: p - onehot"),
                                (lambda got, exp: np.allclose(got, [[-0.25, 0.25]]),
                                 "divide by the batch size N = len(y) (here 1), not by the number of classes"),
                                "softmax([0, 0]) = [0.5, 0.5]; subtract 1 at the label"])
    _call = "cross_entropy_grad(logits [[0, 0], [log 3, 0]], y [0, 1])"
    testing.assert_close(cross_entropy_grad(np.array([[0.0, 0.0], [np.log(3.0), 0.0]]), np.array([0, 1])),
                         [[-0.25, 0.25], [0.375, -0.375]], call=_call,
                         hints=[(lambda got, exp: np.allclose(got, 2 * np.asarray(exp)),
                                 "the loss is a mean over the batch: divide by N = len(y)"),
                                (lambda got, exp: np.allclose(got, -np.asarray(exp)),
                                 "the sign is flipped: p - onehot"),
                                "(softmax(logits) - onehot(y)) / N"])
    for _label, _want in ((0, [[0.0, 0.0]]), (1, [[1.0, -1.0]])):
        testing.assert_close(cross_entropy_grad(np.array([[1000.0, 0.0]]), np.array([_label])), _want,
                             call=f"cross_entropy_grad(logits [[1000, 0]], y [{_label}])", atol=1e-12,
                             hints=[(lambda got, exp: not np.all(np.isfinite(got)),
                                     "exp(1000) overflowed: shift each row by its maximum first"),
                                    "shift each row by its maximum, then softmax"])
### BEGIN HIDDEN TESTS
with testing.part("cross_entropy_grad", hidden=True), testing.calling():
    _rng = np.random.default_rng(13)
    for _n, _c, _scale in [(5, 3, 1.0), (1, 4, 5.0), (3, 7, 300.0), (8, 2, 2.0)]:
        _s, _t = _rng.standard_normal((_n, _c)) * _scale, _rng.integers(0, _c, _n)
        _e = np.exp(_s - _s.max(axis=1, keepdims=True))
        _want = (_e / _e.sum(axis=1, keepdims=True) - np.eye(_c)[_t]) / _n
        _call = f"cross_entropy_grad(random logits {_s.shape} * {_scale}, y)"
        _before = _s.copy()
        _got = cross_entropy_grad(_s, _t)
        testing.assert_close(_s, _before, rtol=0, atol=0, call=f"logits after {_call}",
                             hints=["leave the logits as they were: shift a new array (s = logits - ...), "
                                    "not in place"])
        testing.assert_shape(_got, (_n, _c), call=_call)
        testing.assert_close(_got, _want, call=_call, atol=1e-12,
                             hints=["divide by the batch size N = len(y), not by the number of classes"])
### END HIDDEN TESTS

# %% [markdown]
# **Linear.** For $\text{out} = x W + b$ with `x (N, D)`, `W (D, C)`, `b (C,)` and `dout (N, C)`:
#
# $$\frac{\partial L}{\partial x} = \text{dout}\, W^\top \;(N, D), \qquad
# \frac{\partial L}{\partial W} = x^\top \text{dout} \;(D, C), \qquad
# \frac{\partial L}{\partial b} = \textstyle\sum_i \text{dout}_i \;(C,).$$
#
# Check the shapes: only `x.T @ dout` gives `(D, C)`, the shape of `W`. The bias was broadcast to every
# one of the N rows in the forward pass, so its gradient **sums** the N rows. This broadcast-then-sum
# pairing comes back in chapter 03, where the framework does it for every op automatically.
#
# ### Part 4 · The backward of a linear layer (3 points)

# %% [solution] id=linear_backward
def linear_backward(dout, x, W):
    """Gradients of out = x @ W + b, given dout = dL/dout (N, C), x (N, D) and W (D, C).

    Returns (dx, dW, db) with the shapes of x, W and b: (N, D), (D, C), (C,).
    """
    ### BEGIN SOLUTION
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)
    ### END SOLUTION

# %% [tests] id=linear_backward_tests points=3
with testing.part("linear_backward"), testing.calling():
    _x = np.array([[1.0, 2.0], [3.0, -1.0], [0.0, 1.0]])
    _W = np.array([[1.0, 0.0, -1.0, 2.0], [2.0, 1.0, 0.0, -1.0]])
    _dout = np.array([[1.0, 0.0, 2.0, -1.0], [0.0, 1.0, -1.0, 1.0], [2.0, -1.0, 0.0, 1.0]])
    _call = "linear_backward(dout of shape (3, 4), x of shape (3, 2), W of shape (2, 4))"
    with testing.calling(_call):
        _out = linear_backward(_dout, _x, _W)
    testing.assert_true(isinstance(_out, tuple) and len(_out) == 3, call=_call, got=type(_out).__name__,
                        expected="a tuple (dx, dW, db)", hint="return dx, dW, db")
    _dx, _dw, _db = _out
    testing.assert_close(_dx, [[-3.0, 3.0], [3.0, 0.0], [4.0, 2.0]], call=_call + " -> dx",
                         hints=["dx = dout @ W.T has the shape of x, (N, D)"])
    testing.assert_close(_dw, [[1.0, 3.0, -1.0, 2.0], [4.0, -2.0, 5.0, -2.0]], call=_call + " -> dW",
                         hints=[(lambda got, exp: np.shape(got) == (4, 2),
                                 "dW is transposed: x.T @ dout, not dout.T @ x"),
                                (lambda got, exp: np.allclose(got, np.asarray(exp) / 3), "do not divide by N here: "
                                 "the 1/N is already inside dout (part 3)"),
                                "dW = x.T @ dout has the shape of W, (D, C)"])
    testing.assert_true(_db is not None, call=_call + " -> db", got=None, expected="an array of shape (4,)",
                        hint="the bias has a gradient too: the sum of dout over the batch rows")
    testing.assert_close(_db, [3.0, 0.0, 1.0, 1.0], call=_call + " -> db",
                         hints=[(lambda got, exp: np.allclose(got, 0),
                                 "you forgot the bias gradient: db = dout.sum(axis=0)"),
                                (lambda got, exp: np.allclose(got, np.asarray(exp) / 3),
                                 "db sums over the batch (the bias was added to every row); a mean divides by N twice"),
                                "db = dout.sum(axis=0)"])
### BEGIN HIDDEN TESTS
with testing.part("linear_backward", hidden=True), testing.calling():
    _rng = np.random.default_rng(14)
    for _n, _d, _c in [(5, 3, 3), (1, 4, 2), (6, 6, 6), (9, 2, 5)]:
        _x, _W, _dout = _rng.standard_normal((_n, _d)), _rng.standard_normal((_d, _c)), _rng.standard_normal((_n, _c))
        _call = f"linear_backward(dout {_dout.shape}, x {_x.shape}, W {_W.shape})"
        with testing.calling(_call):
            _dx, _dw, _db = linear_backward(_dout, _x, _W)
        for _name, _got, _want in (("dx", _dx, _dout @ _W.T), ("dW", _dw, _x.T @ _dout), ("db", _db, _dout.sum(0))):
            testing.assert_shape(_got, _want.shape, call=f"{_call} -> {_name}")
            testing.assert_close(_got, _want, call=f"{_call} -> {_name}")
### END HIDDEN TESTS

# %% [markdown]
# **ReLU.** $\mathrm{relu}(z) = \max(z, 0)$ passes its input through where $z > 0$ (slope 1) and blocks
# it elsewhere (slope 0). So its backward lets `dout` through exactly where the **input** `z` was
# positive: $\partial L / \partial z = \text{dout} \cdot [z > 0]$. The sign of `dout` has nothing to do
# with it. At $z = 0$ exactly, the derivative is undefined; PyTorch, TensorFlow and JAX all use 0
# there, and so do you.
#
# ### Part 5 · The backward of ReLU (2 points)

# %% [solution] id=relu_backward
def relu_backward(dout, z):
    """dL/dz for h = relu(z), given dout = dL/dh; same shape as z. The slope at z == 0 is 0."""
    ### BEGIN SOLUTION
    return dout * (z > 0)
    ### END SOLUTION

# %% [tests] id=relu_backward_tests points=2
with testing.part("relu_backward"), testing.calling():
    _z = np.array([[-1.0, 2.0], [0.5, -3.0]])
    _dout = np.array([[1.0, -2.0], [3.0, 4.0]])
    testing.assert_close(relu_backward(_dout, _z), [[0.0, -2.0], [3.0, 0.0]],
                         call="relu_backward(dout [[1, -2], [3, 4]], z [[-1, 2], [0.5, -3]])",
                         hints=[(lambda got, exp: np.allclose(got, [[1.0, 0.0], [3.0, 4.0]]),
                                 "you masked by the sign of dout: the mask is where the input z > 0"),
                                (lambda got, exp: np.allclose(got, [[0.0, 1.0], [1.0, 0.0]]),
                                 "you returned the mask alone: multiply it by dout"),
                                (lambda got, exp: np.allclose(got, [[-1.0, -4.0], [1.5, -12.0]])
                                 or np.allclose(got, [[0.0, -4.0], [1.5, 0.0]]),
                                 "you multiplied by z (or relu(z)): the slope of relu is 1 or 0, not z"),
                                "dz = dout * (z > 0)"])
### BEGIN HIDDEN TESTS
with testing.part("relu_backward", hidden=True), testing.calling():
    _rng = np.random.default_rng(15)
    for _shape in [(4, 5), (1, 3), (7,), (2, 3, 4)]:
        _z, _dout = _rng.standard_normal(_shape), _rng.standard_normal(_shape)
        _got = relu_backward(_dout, _z)
        testing.assert_shape(_got, _shape, call=f"relu_backward(dout {_shape}, z {_shape})")
        testing.assert_close(_got, np.where(_z > 0, _dout, 0.0),
                             call=f"relu_backward(random dout, z of shape {_shape})")
    testing.assert_close(relu_backward(np.array([2.0, -3.0, 5.0]), np.array([0.0, 0.0, 1.0])), [0.0, 0.0, 5.0],
                         call="relu_backward(dout [2, -3, 5], z [0, 0, 1])",
                         hints=["at z == 0 the slope is 0 (as in PyTorch): use z > 0, not z >= 0"])
### END HIDDEN TESTS

# %% [markdown]
# ### Part 6 · The whole backward pass (3 points)
#
# Now chain the three rules, walking the graph picture from right to left: the loss gives `dlogits`;
# the second linear layer turns it into `dW2`, `db2` and `dh1`; the ReLU turns `dh1` into `dz1`; the
# first linear layer turns `dz1` into `dW1`, `db1` (and a `dX` nobody needs). Use your functions from
# parts 3–5 and the `cache` from part 1. Return a dict with the same keys and shapes as `params`.

# %% [solution] id=backward
def backward(logits, y, params, cache):
    """Gradients of cross_entropy_loss(logits, y) for every parameter of the two-layer net.

    logits, cache: what forward(X, params) returned. Returns {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}.
    """
    ### BEGIN SOLUTION
    dlogits = cross_entropy_grad(logits, y)
    dh1, dW2, db2 = linear_backward(dlogits, cache["h1"], params["W2"])
    dz1 = relu_backward(dh1, cache["z1"])
    _, dW1, db1 = linear_backward(dz1, cache["X"], params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    ### END SOLUTION

# %% [tests] id=backward_tests points=3
with testing.part("backward"), testing.calling():
    _X = np.array([[1.0, 2.0], [-1.0, 0.5]])
    _p = {"W1": np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -1.0]]), "b1": np.array([0.0, -1.0, 0.5]),
          "W2": np.array([[1.0, 0.0], [-1.0, 1.0], [2.0, -2.0]]), "b2": np.array([0.5, -0.5])}
    # the forward values of part 1's example, written out so that this check does not need your forward
    _cache = {"X": _X, "z1": np.array([[1.0, 2.0, -1.0], [-1.0, 1.0, -0.5]]),
              "h1": np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 0.0]])}
    _logits = np.array([[-0.5, 1.5], [-0.5, 0.5]])
    _call = "backward(logits, y [1, 0], params, cache) for part 1's example"
    with testing.calling(_call):
        _g = backward(_logits, np.array([1, 0]), _p, _cache)
    testing.assert_true(isinstance(_g, dict) and set(_g) >= {"W1", "b1", "W2", "b2"}, call=_call,
                        got=sorted(_g) if isinstance(_g, dict) else type(_g).__name__,
                        expected="a dict with keys W1, b1, W2, b2", hint="every parameter needs a gradient, biases too")
    _want = {"W2": [[0.0596014610, -0.0596014610], [-0.2463263673, 0.2463263673], [0.0, 0.0]],
             "b2": [-0.3059278283, 0.3059278283],
             "W1": [[0.0596014610, -0.8502615007, 0.0], [0.1192029220, 0.1271234453, 0.0]],
             "b1": [0.0596014610, 0.6118556566, 0.0]}
    _why = {"W2": "dW2 = h1.T @ dlogits (h1, after the ReLU, is the input of the second layer)",
            "b2": "db2 = dlogits.sum(axis=0)",
            "W1": "dW1 = X.T @ dz1 with dz1 = relu_backward(dlogits @ W2.T, z1)",
            "b1": "db1 = dz1.sum(axis=0): the first layer's bias needs its gradient too"}
    for _k in ("W2", "b2", "W1", "b1"):
        testing.assert_close(_g[_k], _want[_k], call=f'{_call} -> grads["{_k}"]', rtol=1e-8, atol=1e-9,
                             hints=[(lambda got, exp: np.allclose(got, 0), f"grads['{_k}'] is all zeros"),
                                    (lambda got, exp: np.allclose(got, np.asarray(exp) / 2),
                                     "half the answer: the 1/N is already inside cross_entropy_grad, "
                                     "do not divide by N again"),
                                    _why[_k]])
### BEGIN HIDDEN TESTS
with testing.part("backward", hidden=True), testing.calling():
    _rng = np.random.default_rng(16)
    for _n, _d, _h, _c in [(6, 3, 5, 4), (1, 2, 3, 2), (10, 4, 4, 3)]:
        _X = _rng.standard_normal((_n, _d))
        _p = {"W1": _rng.standard_normal((_d, _h)), "b1": _rng.standard_normal(_h),
              "W2": _rng.standard_normal((_h, _c)), "b2": _rng.standard_normal(_c)}
        _t = _rng.integers(0, _c, _n)
        _z1 = _X @ _p["W1"] + _p["b1"]
        _h1 = np.maximum(_z1, 0)
        _s = _h1 @ _p["W2"] + _p["b2"]
        _e = np.exp(_s - _s.max(axis=1, keepdims=True))
        _ds = (_e / _e.sum(axis=1, keepdims=True) - np.eye(_c)[_t]) / _n
        _dz1 = (_ds @ _p["W2"].T) * (_z1 > 0)
        _want = {"W1": _X.T @ _dz1, "b1": _dz1.sum(0), "W2": _h1.T @ _ds, "b2": _ds.sum(0)}
        _call = f"backward(logits, y, params, cache) for N={_n}, D={_d}, H={_h}, C={_c}"
        with testing.calling(_call):
            _g = backward(_s, _t, _p, {"X": _X, "z1": _z1, "h1": _h1})
        testing.assert_true(isinstance(_g, dict) and set(_g) >= set(_want), call=_call,
                            got=sorted(_g) if isinstance(_g, dict) else type(_g).__name__,
                            expected="a dict with keys W1, b1, W2, b2", hint="every parameter needs a gradient")
        for _k in _want:
            _call = f'backward(...) for N={_n}, D={_d}, H={_h}, C={_c} -> grads["{_k}"]'
            testing.assert_shape(_g[_k], _p[_k].shape, call=_call)
            testing.assert_close(_g[_k], _want[_k], call=_call)
### END HIDDEN TESTS

# %% [markdown]
# ## Did you get it right? The finite-difference gradient check
#
# Eight lines of backward code, and any of them could be quietly wrong: a missing transpose, a
# forgotten `/ N`, a bias without a gradient. Training might still make *some* progress with a wrong
# gradient, so a falling loss proves little. The classic test compares your gradient with the
# definition of a derivative. Nudge one entry of a parameter by a small $\varepsilon$ in both
# directions and see how the loss moves:
#
# $$\frac{\partial f}{\partial x_j} \approx \frac{f(x + \varepsilon e_j) - f(x - \varepsilon e_j)}{2\varepsilon}.$$
#
# This *central* difference is off by about $\varepsilon^2$; the one-sided $(f(x + \varepsilon e_j) - f(x))
# / \varepsilon$ is off by about $\varepsilon$, so it is far worse. Too small an $\varepsilon$ brings
# its own trouble: the two values of $f$ agree in almost all their digits, and subtracting them leaves
# rounding noise of about $10^{-16} / \varepsilon$. In float64, $\varepsilon \approx 10^{-5}$ balances
# the two errors for the central difference. The check costs two evaluations of $f$ **per entry**, so
# it is for testing gradients, never for training with them.
#
# Frameworks ship this as `torch.autograd.gradcheck`, `tf.test.compute_gradient` and
# `jax.test_util.check_grads`; `minitorch_edu` has `mt.grad_check`.
#
# ### Part 7 · The numerical gradient (3 points)
#
# Loop over every entry of `x`, whatever its shape (`np.ndindex(x.shape)` yields every index tuple).
# Leave `x` exactly as it was when you are done.

# %% [solution] id=numerical_gradient
def numerical_gradient(f, x, eps=1e-5):
    """Central-difference estimate of the gradient of the scalar function f at the float64 array x.

    Returns an array shaped like x whose entry j is (f(x + eps e_j) - f(x - eps e_j)) / (2 eps).
    x is unchanged afterwards.
    """
    ### BEGIN SOLUTION
    grad = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + eps
        f_plus = f(x)
        x[index] = old - eps
        f_minus = f(x)
        x[index] = old
        grad[index] = (f_plus - f_minus) / (2 * eps)
    return grad
    ### END SOLUTION

# %% [tests] id=numerical_gradient_tests points=3
with testing.part("numerical_gradient"), testing.calling():
    _x = np.array([1.0, -2.0, 0.5])
    _call = "numerical_gradient(lambda x: np.sum(x ** 3), x [1, -2, 0.5])"
    testing.assert_close(numerical_gradient(lambda v: np.sum(v ** 3), _x), [3.0, 12.0, 0.75], call=_call,
                         rtol=1e-6, atol=1e-8,
                         hints=[(lambda got, exp: np.allclose(got, 2 * np.asarray(exp), rtol=1e-3),
                                 "the two points are 2 eps apart: divide by 2 * eps"),
                                (lambda got, exp: np.allclose(got, exp, rtol=1e-3),
                                 "close but not close enough: use the central difference "
                                 "(f(x + eps) - f(x - eps)) / (2 eps) with the given eps, not a one-sided one"),
                                "d/dx sum(x**3) = 3 x**2"])
    _x = np.array([[0.3, -1.2], [2.0, 0.7]])
    _call = "numerical_gradient(lambda x: np.sum(np.sin(x)), x of shape (2, 2))"
    _want = np.cos(_x)
    testing.assert_close(numerical_gradient(lambda v: np.sum(np.sin(v)), _x), _want, call=_call,
                         rtol=1e-6, atol=1e-8, hints=["loop over every index of x: for index in np.ndindex(x.shape)"])
### BEGIN HIDDEN TESTS
with testing.part("numerical_gradient", hidden=True), testing.calling():
    _rng = np.random.default_rng(17)
    # not contiguous: a transposed view, so x.reshape(-1) would be a copy that f never sees
    _base = _rng.standard_normal((3, 4))
    _x = _base.T
    _before = _x.copy()
    _got = numerical_gradient(lambda v: np.sum(np.sin(v) * np.arange(v.size).reshape(v.shape)), _x)
    testing.assert_close(_got, np.cos(_before) * np.arange(12).reshape(4, 3), rtol=1e-6, atol=1e-8,
                         call="numerical_gradient(f, x = a (3, 4) array transposed, a non-contiguous view)",
                         hints=["perturb x itself at each index (x[index] += eps), not a reshaped copy of it"])
    testing.assert_close(_x, _before, rtol=0, atol=1e-15, call="x after numerical_gradient(f, x)",
                         hints=["put every entry back to its old value after perturbing it"])
    # a function that couples entries: softmax cross-entropy, compared with its known gradient
    _s, _t = _rng.standard_normal((3, 4)), np.array([0, 3, 1])

    def _ce_of(v):
        w = v - v.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(w).sum(axis=1)) - w[np.arange(3), _t]))

    _e = np.exp(_s - _s.max(axis=1, keepdims=True))
    testing.assert_close(numerical_gradient(_ce_of, _s.copy()), (_e / _e.sum(1, keepdims=True) - np.eye(4)[_t]) / 3,
                         rtol=1e-5, atol=1e-9, call="numerical_gradient(cross-entropy of logits (3, 4), logits)")
    _x = np.array([0.4, 1.1])
    testing.assert_close(numerical_gradient(lambda v: np.sum(np.exp(3 * v)), _x, eps=1e-4), 3 * np.exp(3 * _x),
                         rtol=1e-6, call="numerical_gradient(lambda x: np.sum(np.exp(3 * x)), x, eps=1e-4)",
                         hints=["use the eps you are given"])
### END HIDDEN TESTS

# %% [markdown]
# Now the moment of truth: check **your** `backward` against **your** `numerical_gradient` on a small
# random network. The relative error $|a - n| / \max(|a|, |n|)$ should be around $10^{-8}$ or below;
# anything above $10^{-4}$ means a bug.

# %%
def gradient_check(params, X, y):
    """Largest relative error between backward's gradient and the numerical one, per parameter."""
    logits, cache = forward(X, params)
    grads = backward(logits, y, params, cache)
    errors = {}
    for key in params:
        def loss_of(value, key=key):
            return cross_entropy_loss(forward(X, {**params, key: value})[0], y)

        numeric = numerical_gradient(loss_of, params[key].copy())
        scale = np.maximum(np.maximum(np.abs(grads[key]), np.abs(numeric)), 1e-12)
        errors[key] = float(np.max(np.abs(grads[key] - numeric) / scale))
    return errors


_rng = np.random.default_rng(0)
check_params = {k: v + 0.1 * _rng.standard_normal(v.shape) for k, v in init_params(2, 5, 2, seed=1).items()}
for name, err in gradient_check(check_params, X_train[:8], y_train[:8]).items():
    print(f"{name}: max relative error {err:.1e}", "ok" if err < 1e-4 else "<- a bug")

# %% [markdown]
# Why $\varepsilon = 10^{-5}$? The picture shows the error of both kinds of difference for
# $f(x) = \sin x$ at $x = 1$, where the true derivative is $\cos 1$. Going right to left, the error first
# falls as $\varepsilon$ shrinks (the truncation error: slope 1 for one-sided, slope 2 for central),
# then rises again as rounding noise takes over.

# %%
eps_values = np.logspace(-13, -1, 49)
one_sided = [abs((np.sin(1 + e) - np.sin(1)) / e - np.cos(1)) for e in eps_values]
central = [abs(numerical_gradient(lambda v: np.sum(np.sin(v)), np.array([1.0]), eps=e)[0] - np.cos(1))
           for e in eps_values]
fig, ax = plt.subplots(figsize=(5.5, 3.5))
ax.loglog(eps_values, one_sided, label="one-sided (f(x+ε) − f(x)) / ε")
ax.loglog(eps_values, central, label="central (your numerical_gradient)")
ax.axvline(1e-5, color="gray", ls=":", lw=1)
ax.set_xlabel("ε")
ax.set_ylabel("|error| of the derivative")
ax.set_title("finite differences: truncation vs rounding")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## Training: gradient descent
#
# With a correct gradient, training is a short loop. Compute the loss and the gradients, then step
# every parameter a little downhill, $\theta \leftarrow \theta - \eta\, \partial L / \partial \theta$,
# where $\eta$ is the learning rate. Repeat. (PyTorch's `torch.optim.SGD`, Keras's `optimizers.SGD` and
# `optax.sgd` all make exactly this step. Chapter 07 builds momentum and Adam on top of it.)
#
# ### Part 8 · The training loop (3 points)
#
# `loss_and_grads(params)` returns `(loss, grads)` for the current parameters, with `grads` keyed like
# `params`. Update **every** array in `params` in place (`params[k] -= lr * grads[k]`), `steps`
# times, and return the list of losses, each one recorded *before* its update. The loop does not need
# to know what the model is, which is exactly what lets a framework's optimizer work for any model.

# %% [solution] id=gradient_descent
def gradient_descent(params, loss_and_grads, lr, steps):
    """Run `steps` steps of params[k] -= lr * grads[k] for every key k; return the `steps` losses (floats).

    loss_and_grads(params) -> (loss, grads). Each loss is the one computed before that step's update.
    """
    ### BEGIN SOLUTION
    losses = []
    for _ in range(steps):
        loss, grads = loss_and_grads(params)
        for name in params:
            params[name] -= lr * grads[name]
        losses.append(float(loss))
    return losses
    ### END SOLUTION

# %% [tests] id=gradient_descent_tests points=3
with testing.part("gradient_descent"), testing.calling():
    def _bowl(p):  # loss (w - 1)^2 summed: every step with lr 0.25 halves the distance to 1
        return float(np.sum((p["w"] - 1.0) ** 2)), {"w": 2.0 * (p["w"] - 1.0)}

    _p = {"w": np.array([3.0, -1.0])}
    _call = "gradient_descent({'w': [3, -1]}, loss (w - 1)^2, lr=0.25, steps=3)"
    _losses = gradient_descent(_p, _bowl, lr=0.25, steps=3)
    testing.assert_close(list(_losses) if _losses is not None else None, [8.0, 2.0, 0.5], call=_call + " -> losses",
                         hints=[(lambda got, exp: got is not None and np.allclose(got, [2.0, 0.5, 0.125]),
                                 "record each loss before its update"),
                                (lambda got, exp: got is not None and np.allclose(got, [8.0, 18.0, 40.5]),
                                 "the loss grows: step against the gradient, params[k] -= lr * grads[k]"),
                                (lambda got, exp: got is not None and len(got) != 3,
                                 "run exactly `steps` steps and record one loss per step"),
                                (lambda got, exp: got is not None and np.allclose(got, 8.0),
                                 "the loss never changes: the update did not reach params (`value = value - ...` only "
                                 "rebinds a name; write params[k] -= lr * grads[k])"),
                                "return the list of the losses, one per step"])
    testing.assert_close(_p["w"], [1.25, 0.75], call=_call + " -> params['w'] afterwards",
                         hints=[(lambda got, exp: np.allclose(got, [3.0, -1.0]),
                                 "params did not change: update the arrays in params (params[k] -= ...)"),
                                "after 3 halvings w - 1 is [0.25, -0.25]"])
### BEGIN HIDDEN TESTS
with testing.part("gradient_descent", hidden=True), testing.calling():
    # several parameters: every one of them must move
    def _quad(p):
        return float(np.sum(p["a"] ** 2) + np.sum((p["b"] + 2.0) ** 2)), {"a": 2 * p["a"], "b": 2 * (p["b"] + 2.0)}

    _p = {"a": np.ones((2, 2)), "b": np.zeros(3)}
    _call = "gradient_descent({'a': ones((2, 2)), 'b': zeros(3)}, loss sum(a^2) + sum((b + 2)^2), lr=0.1, steps=5)"
    with testing.calling(_call):
        _losses = gradient_descent(_p, _quad, lr=0.1, steps=5)
    _steps = np.arange(5)

    def _like(want):
        return lambda got, exp: got is not None and len(got) == 5 and np.allclose(np.asarray(got, float), want)

    testing.assert_close(_losses, [(4 + 12) * 0.64 ** i for i in range(5)], call=_call + " -> losses", hints=[
        (lambda got, exp: got is None or len(got) != 5, "return a list with one loss per step (steps=5: 5 losses)"),
        (_like(16 * 0.64 ** (_steps + 1)), "record each loss before its update (the first loss is that of the "
         "parameters you were given)"),
        (_like(4 * 0.64**_steps + 12), "only a moved: update every parameter in params, not just the first"),
        (_like(4 + 12 * 0.64**_steps), "only b moved: update every parameter in params, not just the last"),
        (_like(np.full(5, 16.0)), "the loss never changes: the updates did not reach the arrays in params"),
        (lambda got, exp: got is not None and len(got) == 5 and got[-1] > got[0],
         "the loss grows: step against the gradient, params[k] -= lr * grads[k]"),
    ])
    testing.assert_close(_p["a"], np.full((2, 2), 0.8 ** 5), call="a after gradient_descent(two parameters, ...)")
    testing.assert_close(_p["b"], np.full(3, -2.0 + 2.0 * 0.8 ** 5),
                         call="b after gradient_descent(two parameters, ...)")
    testing.assert_equal(len(gradient_descent({"w": np.zeros(1)}, _bowl, lr=0.1, steps=7)), 7,
                         call="len(gradient_descent(..., steps=7))")

    # the stated target: the two-layer net reaches 95% on fresh circle points (gradients computed here)
    _Xtr, _ytr = toy.circle(400, seed=0)
    _Xte, _yte = toy.circle(400, seed=1)
    _Xtr, _Xte = (_Xtr.astype(np.float64) - 0.5) * 2, (_Xte.astype(np.float64) - 0.5) * 2

    def _net_loss_and_grads(p, X=_Xtr, t=_ytr):
        z1 = X @ p["W1"] + p["b1"]
        h1 = np.maximum(z1, 0)
        s = h1 @ p["W2"] + p["b2"]
        e = np.exp(s - s.max(axis=1, keepdims=True))
        prob = e / e.sum(axis=1, keepdims=True)
        ds = (prob - np.eye(2)[t]) / len(t)
        dz1 = (ds @ p["W2"].T) * (z1 > 0)
        loss = float(np.mean(-np.log(prob[np.arange(len(t)), t] + 1e-300)))
        return loss, {"W1": X.T @ dz1, "b1": dz1.sum(0), "W2": h1.T @ ds, "b2": ds.sum(0)}

    _p = init_params(2, 16, 2, seed=0)
    _losses = gradient_descent(_p, _net_loss_and_grads, lr=0.5, steps=500)
    _acc = float(np.mean((np.maximum(_Xte @ _p["W1"] + _p["b1"], 0) @ _p["W2"] + _p["b2"]).argmax(1) == _yte))
    _why = (None if len(_losses) == 500 and _losses[-1] < _losses[0]
            else f"{len(_losses)} losses for 500 steps: one loss per step" if len(_losses) != 500
            else "the loss did not go down: step against the gradient (params[k] -= lr * grads[k]) at every step")
    testing.assert_true(_acc >= 0.95 and _losses[-1] < 0.5 * _losses[0],
                        call="gradient_descent(the circle net, lr=0.5, steps=500)",
                        got=f"test accuracy {_acc:.1%}, loss {_losses[0]:.3f} -> {_losses[-1]:.3f}",
                        expected="test accuracy >= 95% and the loss at least halved", hint=_why)
### END HIDDEN TESTS

# %% [markdown]
# Train your network on the circle: 16 hidden units, learning rate 0.5, 500 steps of full-batch
# gradient descent. **The target: at least 95% accuracy on the 400 test points** that training never
# saw. (If a part above is not written yet, this cell stops with its `NotImplementedError`.)

# %%
def accuracy(params, X, y):
    """Fraction of points whose largest logit is the right class."""
    return float(np.mean(forward(X, params)[0].argmax(axis=1) == y))


def net_loss_and_grads(params, X=X_train, y=y_train):
    """The loss and all gradients of the two-layer net, built from your parts 1, 2 and 6."""
    logits, cache = forward(X, params)
    return cross_entropy_loss(logits, y), backward(logits, y, params, cache)


numpy_losses = None  # stays None until all your parts run
params = init_params(2, 16, 2, seed=0)
numpy_losses = gradient_descent(params, net_loss_and_grads, lr=0.5, steps=500)
test_accuracy = accuracy(params, X_test, y_test)
print(f"loss {numpy_losses[0]:.3f} -> {numpy_losses[-1]:.3f}; test accuracy {test_accuracy:.1%}",
      "(target 95%: reached)" if test_accuracy >= 0.95 else "(target 95%: not yet)")

# %%
if numpy_losses is None:
    print("the loss curve and the decision boundary appear here once parts 1-8 run")
else:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.8))
    ax1.plot(numpy_losses)
    ax1.set_yscale("log")
    ax1.set_xlabel("step")
    ax1.set_ylabel("cross-entropy")
    ax1.set_title("your NumPy net: training loss")
    draw_boundary(ax2, lambda P: forward(P, params)[0], X_test, y_test,
                  title=f"decision boundary, test accuracy {test_accuracy:.1%}")
    plt.tight_layout()
    plt.show()

# %% [markdown]
# ### A knob to turn: the learning rate
#
# The learning rate is the first knob everyone turns. Too small, and the loss creeps down. Larger is
# faster, up to a point. Too large, and the steps overshoot: the loss jumps up, and here it stays stuck,
# because the overshoot pushed the hidden ReLUs to where they never fire again (their gradient is 0).
# The faint curves are three fixed rates for reference; the bold one is the rate you pick. In
# JupyterLab a slider appears below the picture and redraws it; run headless, the cell just draws the
# default.

# %%
def loss_curve(lr, steps=300):
    """Train a fresh copy of the net with your parts at learning rate lr; return its losses."""
    with np.errstate(all="ignore"):  # a too-large rate may overflow: that is what the picture shows
        return gradient_descent(init_params(2, 16, 2, seed=0), net_loss_and_grads, lr=lr, steps=steps)


reference_curves = {lr: loss_curve(lr) for lr in (0.02, 2.0, 8.0)}


def show_lr(lr=0.5):
    """Draw the loss curve for learning rate lr over the three reference curves."""
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for ref, curve in reference_curves.items():
        ax.plot(np.clip(curve, 1e-3, 10), alpha=0.35, label=f"lr = {ref:g}")
    ax.plot(np.clip(loss_curve(lr), 1e-3, 10), color="k", lw=2, label=f"your pick: lr = {lr:.3g}")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (clipped to [0.001, 10])")
    ax.legend(fontsize=8)
    fig.tight_layout()
    plt.show()


interact(show_lr, lr=("log", 0.5, -2, 1.2, 0.05))  # headless (graded): the picture at 0.5

# %% [markdown]
# ## What that cost you, and why frameworks exist
#
# Look back at what a two-layer net took: a forward function, a loss, **four** backward functions
# written and debugged by hand, a gradient checker to trust them, and a cache threaded from the forward
# pass to the backward pass. Now imagine the network you actually want: convolutions, normalisation,
# attention, fifty layers. Every new layer means a new backward rule, a new chance of a transposed
# matrix or a forgotten bias, and a new gradient check. And all of it runs on one CPU core with NumPy.
#
# That is how deep learning was done until about 2015. The frameworks grew out of removing that work,
# one piece at a time:
#
# - **Layers with hand-written backward, in C++ and CUDA.** *Caffe* (Berkeley, 2013) gave you a library
#   of layers, each with `Forward_cpu`, `Backward_cpu`, `Forward_gpu` and `Backward_gpu` written by
#   experts, and a text file to wire them together. Fast, but a new layer meant writing four functions
#   in C++, much like the ones you just wrote.
# - **Automatic differentiation.** *Theano* (Montréal, 2007) had already shown the way: you write only
#   the forward computation as a symbolic graph, and the library derives the backward graph by applying
#   each op's derivative rule along the chain rule. That is **autograd**, and you build it in chapter 01.
#   It makes parts 3 to 7 of this chapter disappear.
# - **GPUs.** AlexNet (2012) trained on two gaming GPUs and won ImageNet by a wide margin. From then on,
#   a framework had to run every op as a fast kernel on a GPU, and that is why tensors carry a device.
#   You write CPU kernels in chapter 04 and GPU kernels in chapter 05.
# - **Static graphs.** *TensorFlow* 1 (Google, 2015), like Theano, asked you to *define* the whole graph
#   first and then *run* it in a session. Seeing the whole graph lets the library optimise and
#   distribute it, but debugging means printing from inside a graph that does not exist yet. *Keras*
#   (2015) put a friendly `model.fit` on top of Theano and then TensorFlow.
# - **Dynamic graphs ("define by run").** *Chainer* (2015) and then *PyTorch* (2016) record the graph
#   while ordinary Python code runs, so `if`, `for` and `print` just work. `loss.backward()` walks the
#   graph recorded during that run. Research moved to PyTorch within a few years, and TensorFlow 2
#   (2019) made eager execution the default.
# - **Both.** *JAX* (2018) traces ordinary Python functions into a static graph (`jax.jit`) and
#   transforms them (`grad`, `vmap`). PyTorch 2 (2023) added `torch.compile`, which does the same.
#
# **Dynamic versus static graphs** is the thread through this course. `minitorch_edu` records graphs
# dynamically as PyTorch does (chapters 01–09), and chapter 10 traces the same code into a static graph
# and fuses it, as `tf.function` and `jax.jit` do.

# %%
history = [  # (year, name, kind, label height: above or below the axis, staggered so labels do not collide)
    (2007, "Theano", "static", 1.0), (2012, "AlexNet on GPUs", "gpu", -1.0), (2013, "Caffe", "layers", 1.0),
    (2015, "TensorFlow", "static", -1.0), (2015.4, "Keras", "static", 0.55), (2015.8, "Chainer", "dynamic", -0.55),
    (2016.8, "PyTorch", "dynamic", 1.0), (2018, "JAX", "both", -1.0), (2019.7, "TF 2 (eager)", "dynamic", 1.0),
    (2023.2, "torch.compile", "both", -1.0),
]
colours = {"layers": "tab:gray", "static": "tab:blue", "dynamic": "tab:orange", "both": "tab:purple",
           "gpu": "tab:green"}
labels = {"layers": "hand-written layers", "static": "static graph", "dynamic": "dynamic graph",
          "both": "dynamic code traced to static", "gpu": "GPUs"}
fig, ax = plt.subplots(figsize=(9, 2.8))
ax.axhline(0, color="k", lw=1)
for year, name, kind, height in history:
    ax.plot([year, year], [0, 0.8 * height], color=colours[kind], lw=1)
    ax.scatter([year], [0], color=colours[kind], zorder=3)
    ax.text(year, 0.92 * height, name, ha="center", va="center", fontsize=8, color=colours[kind])
for kind, label in labels.items():
    ax.scatter([], [], color=colours[kind], label=label)
ax.legend(fontsize=7, loc="upper center", ncol=5, frameon=False, bbox_to_anchor=(0.5, -0.12))
ax.set_ylim(-1.25, 1.25)
ax.set_yticks([])
ax.set_xlim(2006, 2024.5)
ax.set_xticks(range(2007, 2025, 2))
ax.set_title("deep-learning frameworks, 2007–2023")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Closing: the same network in about ten lines of minitorch_edu
#
# Here is the same net in `minitorch_edu`, the framework you will build, with PyTorch's names. The model is
# `Sequential(Linear, ReLU, Linear)`, the optimizer is `optim.SGD`, and the gradients come from a single
# `loss.backward()`. Not one derivative is written by hand. (`mt.nn.Linear` initialises its weights
# its own way, so the curve is not identical to yours. The first step compiles the package's CPU kernels
# once: up to half a minute on a fresh machine, then they load from a disk cache in milliseconds.)

# %%
mt.manual_seed(0)
Xt, yt = mt.tensor(X_train.astype(np.float32)), mt.tensor(y_train)

# %%
model = mt.nn.Sequential(mt.nn.Linear(2, 16), mt.nn.ReLU(), mt.nn.Linear(16, 2))
opt = mt.optim.SGD(model.parameters(), lr=0.5)
mt_losses = []
for _step in range(500):
    loss = mt.nn.functional.cross_entropy(model(Xt), yt)
    opt.zero_grad()
    loss.backward()
    opt.step()
    mt_losses.append(loss.item())

mt_accuracy = float(np.mean(model(mt.tensor(X_test.astype(np.float32))).numpy().argmax(axis=1) == y_test))
print(f"minitorch_edu: loss {mt_losses[0]:.3f} -> {mt_losses[-1]:.3f}; test accuracy {mt_accuracy:.1%}")

# %% [markdown]
# ### Your gradient inside the framework
#
# Frameworks do not throw hand-written gradients away: where a formula is known to be better than the
# chain of small steps autograd would take, they plug it in. The softmax cross-entropy gradient you
# wrote in part 3 is exactly such a case (PyTorch's `cross_entropy` has it built in). The extension
# point is a `Function` with a `forward` and a `backward`: `torch.autograd.Function` in PyTorch,
# `tf.custom_gradient` in TensorFlow, `jax.custom_vjp` in JAX, and `mt.Function` here.
#
# The cell below wraps **your** `cross_entropy_loss` and `cross_entropy_grad` as an `mt.Function`
# and trains the framework's model with it. Every `loss.backward()` now calls your gradient. If your
# parts 2 and 3 are not written yet, the cell says so and uses the package's `cross_entropy` instead.

# %%
class YourCrossEntropy(mt.Function):
    """Mean softmax cross-entropy whose forward and backward are your NumPy parts 2 and 3."""

    @staticmethod
    def forward(ctx, logits, target):
        s, t = logits.numpy().astype(np.float64), target.numpy().astype(np.int64)
        ctx.dlogits = cross_entropy_grad(s, t)
        return mt.tensor(np.float32(cross_entropy_loss(s, t)))

    @staticmethod
    def backward(ctx, grad):
        # grad is dL/dloss (a scalar, 1 for loss.backward()): scale your dL/dlogits by it
        return grad * mt.tensor(ctx.dlogits.astype(np.float32)), None


def your_cross_entropy(logits, target):
    """cross_entropy(logits, target) running your forward and your gradient."""
    return YourCrossEntropy.apply(logits, target)


def _probe(fn):
    x = mt.tensor([[2.0, 0.0], [0.0, 1.0]], requires_grad=True)
    fn(x, mt.tensor([0, 1])).backward()


loss_fn = chapter.fallback("cross_entropy_loss", your_cross_entropy, _probe)

# %%
mt.manual_seed(0)
model2 = mt.nn.Sequential(mt.nn.Linear(2, 16), mt.nn.ReLU(), mt.nn.Linear(16, 2))
opt2 = mt.optim.SGD(model2.parameters(), lr=0.5)
yours_losses = []
for _step in range(500):
    loss = loss_fn(model2(Xt), yt)
    opt2.zero_grad()
    loss.backward()
    opt2.step()
    yours_losses.append(loss.item())
print(f"minitorch_edu with {'your' if loss_fn is your_cross_entropy else 'the reference'} cross-entropy: "
      f"loss {yours_losses[0]:.3f} -> {yours_losses[-1]:.3f}")
print("same curve as the built-in loss:", bool(np.allclose(yours_losses, mt_losses, rtol=1e-3, atol=1e-5)))

# %% [markdown]
# Side by side: your hand-written NumPy network and the framework's, trained on the same data with the same
# learning rate. Same maths, same result; one of them took you eight functions.

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.8))
if numpy_losses is not None:
    ax1.plot(numpy_losses, label="NumPy, your hand-written gradients")
ax1.plot(mt_losses, label="minitorch_edu, loss.backward()")
ax1.plot(yours_losses, ls="--", label="minitorch_edu + your cross-entropy Function")
ax1.set_yscale("log")
ax1.set_xlabel("step")
ax1.set_ylabel("training loss")
ax1.set_title("loss curves")
ax1.legend(fontsize=7)
draw_boundary(ax2, lambda P: model(mt.tensor(P.astype(np.float32))).numpy(), X_test, y_test,
              title=f"minitorch_edu net, test accuracy {mt_accuracy:.1%}")
plt.tight_layout()
plt.show()
if numpy_losses is None:
    print("your NumPy curve appears on the left once parts 1-8 run")

# %% [markdown]
# ## What comes next
#
# Each chapter removes one piece of the work you did by hand here, by building the piece of the
# framework that does it:
#
# | chapter | you build | it replaces here |
# | --- | --- | --- |
# | 01 scalar autodiff | derivative rules, topological sort, backprop | parts 3–6: every hand-written backward |
# | 02 tensors | strides, views, broadcasting | NumPy's arrays |
# | 03 tensor autograd | map / zip / reduce, tensor ops with their backward | the bias sum of part 4 (broadcasting) |
# | 04 fast CPU | numba kernels | NumPy's compiled loops |
# | 05 GPU | numba.cuda kernels | running on a GPU at all |
# | 06 modules and layers | `Module`, `Linear`, losses | `init_params`, `forward`, the params dict |
# | 07 optimizers | SGD, momentum, Adam | part 8 |
# | 08 data and training | `DataLoader`, `fit`, callbacks | the training cell |
# | 09 convolutional nets | convolutions, pooling | layers you would not want to differentiate by hand |
# | 10 static graphs | tracing, fusion | the dynamic graph of `loss.backward()`, made static |
#
# In chapter 01 you write the thing that made parts 3–6 unnecessary: backpropagation that works out
# every derivative on its own.
