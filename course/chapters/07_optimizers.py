# %% [markdown]
# # 07 · Optimizers: SGD, momentum, Adam, AdamW, clipping and schedules
#
# `loss.backward()` tells every parameter which way is downhill. How far to go, and whether to trust
# this one gradient or an average of the last hundred, is the optimizer's job. In chapter 00 you wrote
# `p -= lr * grad`; every optimizer in PyTorch's `torch.optim` and Keras's `keras.optimizers` is a
# refinement of that line. In this chapter you write the ones people actually train with, each one
# checked step by step against the package's reference on the same parameters, and then you compare
# yours with the real `torch.optim.Adam` and Keras 3's optimizers, number for number.
#
# What you write (graded, 22 points):
#
# | part | what | points |
# | --- | --- | --- |
# | 1 | `SGD`: momentum, Nesterov momentum, dampening and weight decay, as `torch.optim.SGD` | 6 |
# | 2 | `Adam`, as `torch.optim.Adam` (with L2 weight decay) | 5 |
# | 3 | `AdamW`: Adam with decoupled weight decay, as `torch.optim.AdamW` | 4 |
# | 4 | `clip_grad_norm_`: clip all gradients by their global norm, as `torch.nn.utils.clip_grad_norm_` | 3 |
# | 5 | `warmup_cosine`: a linear warm-up followed by a cosine decay of the learning rate | 4 |
#
# After every part a tests cell checks your code and tells you, in words, what went wrong. At the end,
# your optimizer, your clipping and your schedule train a real network on handwritten digits.

# %% [setup]
import importlib
import math
import os

import matplotlib.pyplot as plt
import numpy as np

import minitorch_edu as mt
from minitorch_edu import testing
from minitorch_edu.course import Chapter, interact

_OPT = "minitorch_edu.optim."
_SCHED = "minitorch_edu.optim.lr_scheduler."
chapter = Chapter("07_optimizers", references={
    # every package object a part could hand its work to (RMSprop with alpha=1 is SGD in disguise)
    "SGD": [_OPT + "SGD", _OPT + "RMSprop", _OPT + "optimizer.rmsprop_step"],
    "Adam": [_OPT + "Adam", _OPT + "AdamW", _OPT + "optimizer.adam_step"],
    "AdamW": [_OPT + "AdamW", _OPT + "Adam", _OPT + "optimizer.adam_step"],
    "clip_grad_norm_": ["minitorch_edu.nn.utils.clip_grad_norm_"],
    "warmup_cosine": [_SCHED + "warmup_cosine", _SCHED + "LinearWarmup", _SCHED + "CosineAnnealingLR",
                      _SCHED + "LinearLR", _SCHED + "SequentialLR", _SCHED + "LambdaLR", _SCHED + "OneCycleLR"],
})
plt.rcParams.update({"figure.dpi": 80, "figure.figsize": (5, 3.5)})


def trajectory(make_optimizer, arrays, grad_fn, steps, lrs=None):
    """Run an optimizer on float64 copies of `arrays`; return the parameters (NumPy) after each step.

    `make_optimizer(params)` builds it; `grad_fn(values, t)` gives step t's gradients from the current
    values (None: that parameter gets no gradient); `lrs[t]`, if given, is every group's lr at step t.
    """
    params = [mt.tensor(np.array(a, dtype=np.float64), dtype="float64", requires_grad=True) for a in arrays]
    opt = make_optimizer(params)
    out = []
    for t in range(steps):
        if lrs is not None:
            for group in opt.param_groups:
                group["lr"] = lrs[t]
        for p, g in zip(params, grad_fn([p.numpy() for p in params], t)):
            p.grad = None if g is None else mt.tensor(np.asarray(g, dtype=np.float64), dtype="float64")
        call_yours(f"{type(opt).__name__}.step() (step {t + 1})", opt.step)
        out.append([p.numpy().copy() for p in params])
    return out


def call_yours(call, fn, *args, **kwargs):
    """fn(*args, **kwargs); an error in it is reported with the call that raised it (and a hint for None)."""
    __tracebackhide__ = True
    # another framework's optimizer, clipping or schedule run on copies of the tensors is not your code either
    # (read through your own helpers too: a step that calls a function that calls torch.optim)
    testing.assert_own_work(fn, call=call, hint="another framework's optimizer (torch.optim, optax, keras) run on "
                                                "copies of the tensors does the work for you: write the update with "
                                                "mt tensor operations")
    try:
        return fn(*args, **kwargs)
    except (NotImplementedError, AssertionError):  # "not written yet" and sealed references speak for themselves
        raise
    except Exception as err:
        hint = ("\n  likely mistake: a parameter whose .grad is None reached your code: skip those parameters"
                if "NoneType" in str(err) else "")
        raise AssertionError(f"{call} raised {type(err).__name__}: {err}{hint}") from err


def check_grads_left_alone(make_optimizer, call, steps=4):
    """step() reads each .grad and keeps no hold on it: it leaves the gradient as it was, and the run is the same
    when the .grad tensors are reused in place between steps (zero_grad(set_to_none=False), then backward adds
    into them, as PyTorch code often does) as when every step gets new ones."""
    __tracebackhide__ = True
    rng = np.random.default_rng(11)
    start = [rng.standard_normal((2, 3)), rng.standard_normal(4)]
    grads = [[rng.standard_normal(a.shape) for a in start] for _ in range(steps)]
    fresh = trajectory(make_optimizer, start, lambda values, t: grads[t], steps)
    params = [mt.tensor(np.array(a), dtype="float64", requires_grad=True) for a in start]
    opt = make_optimizer(params)
    for p, g in zip(params, grads[0]):
        p.grad = mt.tensor(g, dtype="float64")
    reused = f"{call}, with the .grad tensors reused in place between steps"
    for t in range(steps):
        if t:
            with mt.no_grad():
                for p, g in zip(params, grads[t]):
                    p.grad.zero_()
                    p.grad += mt.tensor(g, dtype="float64")
        call_yours(f"{type(opt).__name__}.step() (step {t + 1})", opt.step)
        for i, (p, g) in enumerate(zip(params, grads[t])):
            testing.assert_close(p.grad, g, call=f"{reused}: parameter {i}'s .grad after step {t + 1}", rtol=0, atol=0,
                                 hints=["step() must not change .grad: compute g = p.grad + weight_decay * p as a new "
                                        "tensor (p.grad += ... changes the gradient that the caller, clipping or "
                                        "logging, still reads)"])
        for i, p in enumerate(params):
            testing.assert_close(p, fresh[t][i], call=f"{reused}: parameter {i} after step {t + 1}", rtol=1e-12,
                                 atol=1e-14, hints=["your state holds the gradient tensor itself (e.g. momentum_buffer "
                                                    "= p.grad): when the next backward writes into that tensor, your "
                                                    "state changes with it; keep a copy (p.grad.clone())"])


def check_steps(got, want, call, first_hint="", later_hint="", rtol=1e-7, atol=1e-10):
    """Compare two trajectories step by step; the first step that differs is reported."""
    __tracebackhide__ = True
    for t, (got_t, want_t) in enumerate(zip(got, want), start=1):
        for i, (g, w) in enumerate(zip(got_t, want_t)):
            testing.assert_close(g, w, call=f"{call}: parameter {i} after step {t}", rtol=rtol, atol=atol,
                                 hints=[first_hint if t == 1 else later_hint] if (first_hint or later_hint) else ())


def check_own_class(cls, name):
    """`cls` is yours: a subclass of mt.optim.Optimizer that borrows no package optimizer."""
    __tracebackhide__ = True
    testing.assert_true(isinstance(cls, type) and issubclass(cls, mt.optim.Optimizer), call=name,
                        got=cls, expected="a class that subclasses mt.optim.Optimizer")
    borrowed = [c.__qualname__ for c in cls.__mro__[1:]
                if c.__module__.startswith("minitorch_edu") and c.__name__ != "Optimizer"]
    testing.assert_true(not borrowed, call=f"{name}'s base classes", got=borrowed, expected="only mt.optim.Optimizer",
                        hint="inheriting the package's optimizer runs its step, not yours: write step yourself")


def noisy_quadratic(scales=(1.0, 3.0), seed=0):
    """A gradient function for `trajectory`: grad = scale * value + noise, new noise at every step."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((64, 16))

    def grad_fn(values, t):
        return [s * v + noise[t % 64, : v.size].reshape(v.shape) for s, v in zip(scales, values)]

    return grad_fn


def as_float(value):
    """A Python float from a number, a 0-d array or a 0-d tensor."""
    return float(value.item() if hasattr(value, "item") else value)

# %% [markdown]
# ## The optimizer contract
#
# Every optimizer in PyTorch, and in `minitorch_edu`, follows one small contract:
#
# - `opt = Opt(params, lr=..., ...)`: the optimizer keeps **`param_groups`**, a list of dicts, each holding
#   some parameters (`group["params"]`) and their hyper-parameters (`group["lr"]`, `group["momentum"]`, ...).
#   One group is the usual case; two groups let you give the biases no weight decay, or the last layer a
#   larger learning rate. A learning-rate schedule works by writing `group["lr"]` between steps, so
#   **`step` must read the hyper-parameters from the group every time**, never copy them in `__init__`.
# - **`state`**, a dict from each parameter to its own memory: the momentum buffer, Adam's moments and
#   its step count.
# - **`step()`**: one update of every parameter that has a gradient (a parameter whose `.grad` is `None`
#   is skipped and its state is left as it was).
# - **`zero_grad()`**: forget the gradients, because `backward` adds into `.grad`.
#
# The base class `mt.optim.Optimizer` (like `torch.optim.Optimizer`) does the groups, the state dict and
# `zero_grad`; you write `step`. Here is the package's SGD at work on one tensor:

# %%
w = mt.tensor([1.0, -2.0], requires_grad=True)
opt = mt.optim.SGD([w], lr=0.1, momentum=0.9)
(w * w).sum().backward()
opt.step()
print("after one step:", w.numpy(), "  param_groups:", [{k: v for k, v in g.items() if k != "params"}
                                                        for g in opt.param_groups])
print("its state for w:", {k: v.numpy() for k, v in opt.state[w].items()})

# %% [markdown]
# Keras's optimizers have the same parts under other names: `keras.optimizers.SGD(learning_rate=...,
# momentum=...)` keeps its buffers as variables of its own, and `optimizer.apply_gradients(zip(grads,
# weights))` is `step()`. A schedule is passed as the `learning_rate` itself (a callable of the step).
#
# ## 1 · SGD with momentum, Nesterov and weight decay
#
# Plain gradient descent takes the step $-\text{lr}\cdot g$. On a long, narrow valley that is a bad step:
# the gradient points mostly across the valley, so the iterate bounces from wall to wall and crawls along
# the floor. **Momentum** keeps a running sum of the gradients, the *buffer* $b$, and steps along it:
# the across-valley components cancel, and the along-valley ones add up. `torch.optim.SGD` computes, for
# each parameter $p$ with gradient $\nabla$ at step $t$:
#
# $$g = \nabla + \lambda\, p \qquad \text{(weight decay } \lambda\text{, added to the gradient first)}$$
# $$b_1 = g, \qquad b_t = \mu\, b_{t-1} + (1 - \tau)\, g \quad (t > 1)
# \qquad \text{(momentum } \mu\text{, dampening } \tau)$$
# $$d = g + \mu\, b_t \ \text{ with Nesterov, otherwise } d = b_t, \qquad p \leftarrow p - \text{lr}\cdot d$$
#
# Three details matter, because they are where implementations differ:
#
# - the buffer **starts at the first gradient itself**, not at zero (so dampening does not shrink the
#   first step);
# - **Nesterov** looks ahead: it steps along the gradient plus the *new* buffer times $\mu$;
# - with $\mu = 0$ there is no buffer: $d = g$.
#
# Keras writes momentum differently: a *velocity* $v \leftarrow \mu v - \text{lr}\cdot g$, $p \leftarrow p
# + v$. It equals PyTorch's while the learning rate is constant, and differs once a schedule changes it
# (the learning rate is folded into the velocity). You will see it at the end of this part.
#
# ### Part 1 · `SGD` (6 points)
#
# Write `step`. `__init__` is written for you: it passes the defaults to the base class, which makes
# `self.param_groups` and `self.state`. Use tensor operations (`+`, `*`, `.clone()`); update the
# parameter in place (`p -= ...`), which `@mt.no_grad()` keeps out of the graph.

# %% [solution] id=SGD
class SGD(mt.optim.Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(params, defaults)

    @mt.no_grad()
    def step(self):
        """One update of every parameter that has a gradient (torch.optim.SGD's formulas above)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.setdefault(p, {})  # this parameter's memory, e.g. state["momentum_buffer"]
                ### BEGIN SOLUTION
                g = p.grad
                if group["weight_decay"]:
                    g = g + group["weight_decay"] * p
                momentum = group["momentum"]
                if momentum:
                    buf = state.get("momentum_buffer")
                    buf = g.clone() if buf is None else momentum * buf + (1 - group["dampening"]) * g
                    state["momentum_buffer"] = buf
                    g = g + momentum * buf if group["nesterov"] else buf
                p -= group["lr"] * g
                ### END SOLUTION

# %% [tests] id=SGD_tests points=6
_start = [np.array([1.0, -2.0, 0.5]), np.array([[0.3, -0.7], [1.5, 2.0]])]
_grads = noisy_quadratic()
_cases = [  # (settings, steps, hint for a wrong first step, hint for a wrong later step)
    (dict(lr=0.1), 3, "plain SGD is p -= lr * p.grad", "plain SGD is p -= lr * p.grad at every step"),
    (dict(lr=0.1, weight_decay=0.2), 3, "weight decay adds weight_decay * p to the gradient before the update",
     "weight decay uses the current p at every step"),
    (dict(lr=0.05, momentum=0.9), 4,
     "the first step is lr * grad: the buffer starts as a copy of the first gradient",
     "the buffer is b = momentum * b + (1 - dampening) * g, and the step is lr * b"),
    (dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01), 4,
     "Nesterov's first step is lr * (g + momentum * b) with b = g (g includes the weight decay)",
     "Nesterov steps along g + momentum * b_t, with the buffer b_t already updated at this step; "
     "weight decay goes into g before the buffer"),
]
_want = [trajectory(lambda ps, kw=kw: mt.optim.SGD(ps, **kw), _start, _grads, n) for kw, n, _, _ in _cases]
with testing.part("SGD"):
    check_own_class(SGD, "SGD")
    for (_kw, _n, _first, _later), _w in zip(_cases, _want):
        _got = trajectory(lambda ps, kw=_kw: SGD(ps, **kw), _start, _grads, _n)
        check_steps(_got, _w, f"SGD(params, {', '.join(f'{k}={v}' for k, v in _kw.items())}).step()",
                    _first, _later)
### BEGIN HIDDEN TESTS
_start_h = [np.array([0.5, -1.5]), np.array([2.0]), np.array([[1.0, -1.0, 0.25]])]
_grads_h = noisy_quadratic((0.5, 2.0, 1.0), seed=3)
_lrs = [0.1, 0.05, 0.2, 0.01, 0.1, 0.3]


def _sparse(values, t):  # the last parameter gets a gradient only at odd steps
    g = _grads_h(values, t)
    return g[:2] + [g[2] if t % 2 else None]


def _groups(cls):
    return lambda ps: cls([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.02, "momentum": 0.5,
                                                 "weight_decay": 0.1}], lr=0.1, momentum=0.9)


_hidden = [
    ("dampening=0.3", lambda cls: lambda ps: cls(ps, lr=0.1, momentum=0.9, dampening=0.3), _grads_h, None,
     ("with dampening the first buffer is still the gradient itself (no (1 - dampening) on step 1)",
      "with dampening the buffer is b = momentum * b + (1 - dampening) * g from step 2 on")),
    ("a changing lr", lambda cls: lambda ps: cls(ps, lr=0.1, momentum=0.9, nesterov=True), _grads_h, _lrs,
     "read group['lr'] at every step, and keep the buffer free of the learning rate (b = momentum * b + g), "
     "as PyTorch does: Keras's velocity v = momentum * v - lr * g differs once the lr changes"),
    ("two param groups", _groups, _grads_h, None,
     "read every hyper-parameter from its group, not from self.defaults"),
    ("a parameter without a gradient at even steps", lambda cls: lambda ps: cls(ps, lr=0.1, momentum=0.9),
     _sparse, None, "skip a parameter whose grad is None, and leave its buffer as it was"),
]
_want_h = [trajectory(make(mt.optim.SGD), _start_h, fn, 6, lrs) for _, make, fn, lrs, _ in _hidden]
with testing.part("SGD", hidden=True):
    for (_what, _make, _fn, _lrs_i, _hint), _w in zip(_hidden, _want_h):
        _first, _later = _hint if isinstance(_hint, tuple) else (_hint, _hint)
        check_steps(trajectory(_make(SGD), _start_h, _fn, 6, _lrs_i), _w, f"SGD with {_what}", _first, _later)
    check_grads_left_alone(lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1), "SGD(lr=0.1, momentum=0.9, "
                           "weight_decay=0.1)")
    check_grads_left_alone(lambda ps: SGD(ps, lr=0.1, momentum=0.9), "SGD(lr=0.1, momentum=0.9)")
### END HIDDEN TESTS

# %% [markdown]
# ### Momentum on an ill-conditioned bowl
#
# The loss $f(x, y) = \tfrac12 (x^2 + 25\, y^2)$ is a bowl 25 times steeper across ($y$) than along ($x$).
# Gradient descent is stable only for $\text{lr} < 2/25$; at that size it bounces across and crawls along.
# Momentum averages the bounces away. The paths below run **your** `SGD` (or the package's, said below, if
# yours is not written yet) on `minitorch_edu` tensors, with the gradient from `loss.backward()`. In
# JupyterLab, the sliders change the learning rate and the momentum.

# %%
def probe_optimizer(cls):
    p = mt.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    p.grad = mt.tensor([0.5, -0.5], dtype="float64")
    cls([p], lr=0.1).step()
    if np.allclose(p.numpy(), [1.0, 2.0]):
        raise ValueError("step() did not change the parameter")


MySGD = chapter.fallback("SGD", SGD, probe_optimizer)


def bowl(p):
    return 0.5 * (p[0] * p[0] + 25.0 * p[1] * p[1])


def rosenbrock(p):
    return (1.0 - p[0]) ** 2 + 100.0 * (p[1] - p[0] * p[0]) ** 2


def descend(loss_fn, make_optimizer, start, steps):
    """The path of an optimizer on a 2-D loss: an array (steps + 1, 2)."""
    p = mt.tensor(np.array(start, dtype=np.float64), dtype="float64", requires_grad=True)
    opt = make_optimizer([p])
    path = [p.numpy().copy()]
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(p).backward()
        opt.step()
        path.append(p.numpy().copy())
    return np.array(path)


def contours(ax, loss_fn, xlim, ylim, levels):
    xs, ys = np.meshgrid(np.linspace(*xlim, 200), np.linspace(*ylim, 200))
    ax.contour(xs, ys, loss_fn(np.stack([xs, ys])), levels=levels, colors="0.75", linewidths=0.7)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)


def show_bowl(lr=0.075, momentum=0.6):
    """SGD and SGD with momentum on the bowl, 40 steps from (-4, 1)."""
    fig, ax = plt.subplots(figsize=(7, 3))
    contours(ax, bowl, (-4.5, 1), (-1.3, 1.3), np.geomspace(0.01, 40, 12))
    for label, kw, colour in (("SGD", {}, "tab:blue"), (f"momentum {momentum:g}", {"momentum": momentum},
                                                        "tab:orange")):
        path = descend(bowl, lambda ps, kw=kw: MySGD(ps, lr=lr, **kw), (-4.0, 1.0), 40)
        final = float(bowl(path[-1]))
        ax.plot(path[:, 0], path[:, 1], "o-", ms=2.5, lw=1, color=colour, label=f"{label}: loss {final:.2g}")
    ax.plot([0], [0], "k*", ms=10)
    ax.set_title(f"40 steps on the bowl, lr = {lr:g}")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    plt.show()


interact(show_bowl, lr=("float", 0.075, 0.005, 0.09, 0.005), momentum=("float", 0.6, 0.0, 0.95, 0.05))

# %% [markdown]
# ## 2 · Adam: a step size for every parameter
#
# Momentum fixes the direction; it does not fix the scale. A parameter whose gradients are tiny (a
# rarely-seen word's embedding) barely moves, one whose gradients are huge overshoots, with the same
# learning rate. **Adam** (Kingma & Ba, 2014) keeps two running averages per parameter, of the gradient
# and of its square, and divides one by the root of the other:
#
# $$m_t = \beta_1 m_{t-1} + (1-\beta_1)\, g, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g^2 \qquad (m_0 = v_0 = 0)$$
# $$\hat m = \frac{m_t}{1-\beta_1^t}, \qquad \hat v = \frac{v_t}{1-\beta_2^t}, \qquad
# p \leftarrow p - \text{lr}\cdot \frac{\hat m}{\sqrt{\hat v} + \varepsilon}$$
#
# $t$ counts this parameter's steps from 1. The **bias correction** undoes the start at zero: after one step
# $m_1 = (1-\beta_1) g$ is ten times too small, and $\hat m = g$ puts it right; likewise $\hat v = g^2$, so
# **the first Adam step moves every coordinate by lr** (times the sign of its gradient), whatever the
# gradient's size. $\varepsilon$ (1e-8) is added *outside* the square root, only to avoid dividing by zero.
# `torch.optim.Adam`'s `weight_decay` adds $\lambda p$ to the gradient first, as SGD's does (L2
# regularisation); part 3 shows why that is not what you want with Adam.
#
# ### Part 2 · `Adam` (5 points)
#
# Keep `state["step"]`, `state["exp_avg"]` ($m$) and `state["exp_avg_sq"]` ($v$) per parameter, as PyTorch
# names them; `mt.zeros_like(p)` starts a buffer and `t.sqrt()` takes a tensor's square root.

# %% [solution] id=Adam
class Adam(mt.optim.Optimizer):
    """Adam with bias correction and L2 weight decay (torch.optim.Adam)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    @mt.no_grad()
    def step(self):
        """One Adam update of every parameter that has a gradient."""
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.setdefault(p, {})
                ### BEGIN SOLUTION
                g = p.grad
                if group["weight_decay"]:
                    g = g + group["weight_decay"] * p
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = mt.zeros_like(p)
                    state["exp_avg_sq"] = mt.zeros_like(p)
                state["step"] += 1
                t = state["step"]
                state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * g
                state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
                m_hat = state["exp_avg"] / (1 - beta1**t)
                v_hat = state["exp_avg_sq"] / (1 - beta2**t)
                p -= group["lr"] * m_hat / (v_hat.sqrt() + group["eps"])
                ### END SOLUTION

# %% [tests] id=Adam_tests points=5
_start = [np.array([1.0, -2.0, 0.5]), np.array([[0.3, -0.7], [1.5, 2.0]])]
_grads = noisy_quadratic((1.0, 3.0), seed=1)


def _huge_and_tiny(values, t):
    return [np.array([1000.0, -1e-5, 5.0]), np.array([[1e-4, -30.0], [2.0, -2.0]])]


_first = trajectory(lambda ps: mt.optim.Adam(ps, lr=0.1), _start, _huge_and_tiny, 1)
_cases = [
    (dict(lr=0.01), 5),
    (dict(lr=0.05, betas=(0.8, 0.95), eps=0.1, weight_decay=0.05), 4),
]
_want = [trajectory(lambda ps, kw=kw: mt.optim.Adam(ps, **kw), _start, _grads, n) for kw, n in _cases]
_no_correction = 0.1 * (1 - 0.9) / np.sqrt(1 - 0.999)  # the first step without bias correction
with testing.part("Adam"):
    check_own_class(Adam, "Adam")
    _got = trajectory(lambda ps: Adam(ps, lr=0.1), _start, _huge_and_tiny, 1)
    for _i in range(2):
        testing.assert_close(
            _start[_i] - _got[0][_i], _start[_i] - _first[0][_i],
            call=f"how far the first step of Adam(params, lr=0.1), with gradients from 1e-5 to 1000, "
                 f"moved parameter {_i}",
            rtol=1e-6, hints=[(lambda got, exp: np.allclose(np.abs(got), _no_correction, rtol=1e-3),
                               "every coordinate moved by lr * 0.1 / sqrt(0.001) = 3.16 lr: the bias correction "
                               "is missing (divide m by 1 - beta1**t and v by 1 - beta2**t, t starting at 1)"),
                              (lambda got, exp: not np.all(np.isfinite(got)),
                               "inf or nan: is t 0 on the first step? 1 - beta**0 = 0 (count steps from 1)"),
                              (lambda got, exp: np.any(np.abs(got) < 0.5 * np.abs(exp)),
                               "a coordinate with a tiny gradient moved much less than lr: eps goes outside the square "
                               "root and after the bias correction, sqrt(v_hat) + eps"),
                              "the first Adam step moves every coordinate by lr, whatever the gradient's size"])
    for (_kw, _n), _w in zip(_cases, _want):
        check_steps(trajectory(lambda ps, kw=_kw: Adam(ps, **kw), _start, _grads, _n), _w,
                    f"Adam(params, {', '.join(f'{k}={v}' for k, v in _kw.items())}).step()",
                    "check m, v, the bias correction with t = 1, eps outside the sqrt: lr * m_hat / "
                    "(sqrt(v_hat) + eps), and weight decay added to the gradient (g + weight_decay * p)",
                    "the moments are running averages kept in state from step to step, and t counts the steps")
### BEGIN HIDDEN TESTS
_start_h = [np.array([0.5, -1.5]), np.array([2.0]), np.array([[1.0, -1.0, 0.25]])]
_grads_h = noisy_quadratic((0.5, 2.0, 1.0), seed=4)


def _tiny(values, t):  # gradients near 1e-6: eps is not negligible next to sqrt(v)
    return [g * 1e-6 for g in _grads_h(values, t)]


def _sparse(values, t):  # the last parameter gets a gradient only from step 3 on: its own t starts later
    g = _grads_h(values, t)
    return g[:2] + [g[2] if t >= 2 else None]


_hidden = [
    ("gradients near 1e-6", lambda cls: lambda ps: cls(ps, lr=0.01), _tiny, None, 5,
     "eps goes outside the square root, after the bias correction: sqrt(v_hat) + eps"),
    ("a changing lr", lambda cls: lambda ps: cls(ps, lr=0.1), _grads_h, [0.1, 0.01, 0.3, 0.05, 0.2], 5,
     "read group['lr'] at every step"),
    ("two param groups", lambda cls: lambda ps: cls([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.3,
                                                     "betas": (0.5, 0.9), "eps": 1e-3}], lr=0.02), _grads_h, None, 5,
     "read lr, betas and eps from each group, not from self.defaults"),
    ("a parameter that first gets a gradient at step 3", lambda cls: lambda ps: cls(ps, lr=0.05), _sparse, None, 6,
     "t is per parameter (state['step']), counted from that parameter's first update, not one counter for all"),
    ("40 steps", lambda cls: lambda ps: cls(ps, lr=0.02, betas=(0.9, 0.99)), _grads_h, None, 40,
     "check the running averages over many steps"),
]
_want_h = [trajectory(make(mt.optim.Adam), _start_h, fn, n, lrs) for _, make, fn, lrs, n, _ in _hidden]
with testing.part("Adam", hidden=True):
    for (_what, _make, _fn, _lrs_i, _n, _hint), _w in zip(_hidden, _want_h):
        check_steps(trajectory(_make(Adam), _start_h, _fn, _n, _lrs_i), _w, f"Adam with {_what}", _hint, _hint)
    check_grads_left_alone(lambda ps: Adam(ps, lr=0.1, weight_decay=0.1), "Adam(lr=0.1, weight_decay=0.1)")
### END HIDDEN TESTS

# %% [markdown]
# ### The paths of every optimizer, on the bowl and on Rosenbrock's valley
#
# The Rosenbrock function $f(x, y) = (1 - x)^2 + 100\,(y - x^2)^2$ has its minimum at $(1, 1)$ at the end of
# a curved, flat-bottomed valley: easy to fall into, slow to follow. Below, your SGD, momentum, Nesterov and
# Adam run from the same start on both surfaces (each with a learning rate that suits it; the legend gives
# the loss reached). On the bowl Adam's per-coordinate scaling undoes the ill-conditioning: both
# coordinates move at the same speed, so it does not bounce across the valley (near the end it overshoots
# a little, as momentum does). On Rosenbrock, plain SGD must take tiny steps to stay stable
# in the steep walls and barely moves along the valley; momentum and Adam follow it.

# %%
MyAdam = chapter.fallback("Adam", Adam, probe_optimizer)
racers = {  # name: (optimizer on the bowl, optimizer on Rosenbrock)
    "SGD": (lambda ps: MySGD(ps, lr=0.075), lambda ps: MySGD(ps, lr=1.5e-3)),
    "momentum 0.9": (lambda ps: MySGD(ps, lr=0.02, momentum=0.9), lambda ps: MySGD(ps, lr=5e-4, momentum=0.9)),
    "Nesterov 0.9": (lambda ps: MySGD(ps, lr=0.02, momentum=0.9, nesterov=True),
                     lambda ps: MySGD(ps, lr=5e-4, momentum=0.9, nesterov=True)),
    "Adam": (lambda ps: MyAdam(ps, lr=0.15), lambda ps: MyAdam(ps, lr=0.1)),
}
surfaces = [("bowl ½(x² + 25y²)", bowl, (-4.0, 1.0), 60, (-4.5, 1.0), (-1.3, 1.3), np.geomspace(0.01, 40, 12)),
            ("Rosenbrock", rosenbrock, (-1.2, 1.0), 500, (-1.6, 1.4), (-0.4, 1.8), np.geomspace(0.02, 300, 14))]
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
for ax, (title, loss_fn, start, steps, xlim, ylim, levels), column in zip(axes, surfaces, (0, 1)):
    contours(ax, loss_fn, xlim, ylim, levels)
    for (name, makers), colour in zip(racers.items(), ("tab:blue", "tab:orange", "tab:green", "tab:red")):
        path = descend(loss_fn, makers[column], start, steps)
        ax.plot(path[:, 0], path[:, 1], "-", lw=1.3, color=colour, label=f"{name}: {float(loss_fn(path[-1])):.2g}")
    ax.plot(*([0], [0]) if column == 0 else ([1], [1]), "k*", ms=12)
    ax.set_title(f"{title}, {steps} steps")
    ax.legend(fontsize=8, loc="lower right", title="loss reached", title_fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ### Yours next to the real `torch.optim.Adam`, step for step
#
# Same start, same loss (Rosenbrock), float64 in both, each framework computing its own gradients with its
# own autograd, 100 steps. If your Adam is PyTorch's Adam, the two paths agree to rounding: the cell prints
# the largest difference seen at any step. (PyTorch is not needed for anything graded; if it is missing the
# cell says how to install it and the chapter goes on.)

# %%
def optional(name, install):
    """Import a framework for a comparison, or say how to install it and return None."""
    try:
        return importlib.import_module(name)
    except Exception as err:  # ImportError, or a framework that fails to start: the chapter goes on either way
        print(f"{name} cannot be imported ({type(err).__name__}: {err}), so this comparison is skipped. "
              f"Install it with: {install}")
        return None


torch = optional("torch", "pip install torch (the CPU build is enough)")
if torch is not None:
    torch.manual_seed(0)
    tp = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
    topt = torch.optim.Adam([tp], lr=0.05)
    torch_path = [tp.detach().numpy().copy()]
    for _ in range(100):
        topt.zero_grad()
        rosenbrock(tp).backward()
        topt.step()
        torch_path.append(tp.detach().numpy().copy())
    torch_path = np.array(torch_path)
    your_path = descend(rosenbrock, lambda ps: MyAdam(ps, lr=0.05), (-1.5, 2.0), 100)
    gap = np.abs(your_path - torch_path).max()
    print(f"torch {torch.__version__}: after 100 steps torch.optim.Adam is at {torch_path[-1]}, "
          f"{'yours' if MyAdam is Adam else 'the package reference'} at {your_path[-1]}")
    print(f"largest difference at any step: {gap:.2e}",
          "(equal to float64 rounding: within 1e-9)" if gap < 1e-9 else "(not equal: check your Adam)")

# %% [markdown]
# ### Keras 3's Adam: the same name, a different ε
#
# Keras writes Adam's step as $p \leftarrow p - \text{lr}\,\frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}\cdot
# \frac{m}{\sqrt{v} + \varepsilon}$. Multiply it out and it is PyTorch's formula with
# $\varepsilon_t = \varepsilon / \sqrt{1-\beta_2^t}$: Keras adds ε before the bias correction (as the Adam
# paper's own pseudo-code does), PyTorch after. Keras's default ε is also 1e-7, not 1e-8. With tiny
# gradients or a large ε the two frameworks' "Adam" take different steps. Because your `step` reads
# `group["eps"]` at every step, you can make yours compute Keras's Adam exactly by setting
# `group["eps"] = ε / sqrt(1 - β2^t)` before step t. The cell runs Keras 3 (on its PyTorch backend), same
# gradients for both, float64 weights, ε = 1e-3 to make the difference visible. (The learning rate is
# 2⁻⁴ because Keras keeps it in a float32 variable: 0.05 would become 0.0500000007 there.)

# %%
os.environ.setdefault("KERAS_BACKEND", "torch" if torch is not None else "jax")  # read when keras is first imported
keras = optional("keras", "pip install keras (Keras 3, with torch or jax as its backend)")


def rosenbrock_grad(v):
    x, y = v
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


if keras is not None:
    eps, steps = 1e-3, 50
    kv = keras.Variable(np.array([-1.5, 2.0]), dtype="float64")
    kopt = keras.optimizers.Adam(learning_rate=0.0625, epsilon=eps)  # 2**-4: exact in Keras's float32 lr
    keras_path = []
    for _ in range(steps):
        g = rosenbrock_grad(keras.ops.convert_to_numpy(kv))
        kopt.apply_gradients([(keras.ops.convert_to_tensor(g, dtype="float64"), kv)])
        keras_path.append(keras.ops.convert_to_numpy(kv).copy())
    keras_path = np.array(keras_path)
    for label, rescale in (("eps as given", False), ("eps / sqrt(1 - beta2**t)", True)):
        yp = mt.tensor([-1.5, 2.0], dtype="float64", requires_grad=True)
        yopt = MyAdam([yp], lr=0.0625, eps=eps)
        ours = []
        for t in range(1, steps + 1):
            yopt.param_groups[0]["eps"] = eps / math.sqrt(1 - 0.999**t) if rescale else eps
            yp.grad = mt.tensor(rosenbrock_grad(yp.numpy()), dtype="float64")
            yopt.step()
            ours.append(yp.numpy().copy())
        print(f"keras {keras.__version__} Adam vs yours with {label:<25}: largest difference "
              f"{np.abs(np.array(ours) - keras_path).max():.2e}")

# %% [markdown]
# ## 3 · AdamW: weight decay that is really decay
#
# Weight decay shrinks every weight a little at each step, pulling unused weights to zero. With SGD,
# "add $\lambda p$ to the gradient" (L2 regularisation) and "multiply $p$ by $1 - \text{lr}\,\lambda$" are the
# same thing. With Adam they are not: the $\lambda p$ added to the gradient is then *divided by*
# $\sqrt{\hat v}$, so a weight with large gradients is hardly decayed at all, and one with tiny gradients is
# decayed enormously. Loshchilov & Hutter (2017) took the decay out of the gradient: **decoupled weight
# decay**, `torch.optim.AdamW`, the default optimizer of most transformer training today:
#
# $$p \leftarrow p\,(1 - \text{lr}\cdot\lambda) \quad\text{first, then the Adam step on the plain gradient}
# \quad p \leftarrow p - \text{lr}\cdot\frac{\hat m}{\sqrt{\hat v} + \varepsilon}$$
#
# (`keras.optimizers.AdamW` does the same; its default λ is 0.004, PyTorch's 0.01.)
#
# ### Part 3 · `AdamW` (4 points)
#
# Write the whole `step` (you may copy from your `Adam`).

# %% [solution] id=AdamW
class AdamW(mt.optim.Optimizer):
    """Adam with decoupled weight decay (torch.optim.AdamW)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    @mt.no_grad()
    def step(self):
        """One AdamW update of every parameter that has a gradient."""
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.setdefault(p, {})
                ### BEGIN SOLUTION
                p *= 1 - group["lr"] * group["weight_decay"]
                g = p.grad
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = mt.zeros_like(p)
                    state["exp_avg_sq"] = mt.zeros_like(p)
                state["step"] += 1
                t = state["step"]
                state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * g
                state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
                m_hat = state["exp_avg"] / (1 - beta1**t)
                v_hat = state["exp_avg_sq"] / (1 - beta2**t)
                p -= group["lr"] * m_hat / (v_hat.sqrt() + group["eps"])
                ### END SOLUTION

# %% [tests] id=AdamW_tests points=4
_start = [np.array([1.0, -2.0, 0.5]), np.array([[0.3, -0.7], [1.5, 2.0]])]
_grads = noisy_quadratic((1.0, 3.0), seed=2)


def _zero(values, t):
    return [np.zeros_like(v) for v in values]


_decay_only = trajectory(lambda ps: mt.optim.AdamW(ps, lr=0.1, weight_decay=0.5), _start, _zero, 2)
_cases = [(dict(lr=0.01, weight_decay=0.1), 5), (dict(lr=0.05, betas=(0.8, 0.95), eps=1e-3, weight_decay=0.3), 4)]
_want = [trajectory(lambda ps, kw=kw: mt.optim.AdamW(ps, **kw), _start, _grads, n) for kw, n in _cases]
with testing.part("AdamW"):
    check_own_class(AdamW, "AdamW")
    _got = trajectory(lambda ps: AdamW(ps, lr=0.1, weight_decay=0.5), _start, _zero, 2)
    check_steps(_got, _decay_only, "AdamW(params, lr=0.1, weight_decay=0.5).step() with zero gradients",
                "with a zero gradient only the decay moves p: p * (1 - lr * weight_decay) = 0.95 p. Moving by "
                "about lr means the decay went into the gradient (that is Adam's L2); a huge move means it was "
                "divided by sqrt(v_hat) + eps; 0.5 p means lr is missing from the decay",
                "the decay multiplies p by (1 - lr * weight_decay) at every step")
    for (_kw, _n), _w in zip(_cases, _want):
        check_steps(trajectory(lambda ps, kw=_kw: AdamW(ps, **kw), _start, _grads, _n), _w,
                    f"AdamW(params, {', '.join(f'{k}={v}' for k, v in _kw.items())}).step()",
                    "decay p first (p *= 1 - lr * weight_decay), then Adam's step on the plain gradient",
                    "the decay comes before the Adam update of the same step, and the gradient gets no L2 term")
### BEGIN HIDDEN TESTS
_start_h = [np.array([0.5, -1.5]), np.array([2.0]), np.array([[1.0, -1.0, 0.25]])]
_grads_h = noisy_quadratic((0.5, 2.0, 1.0), seed=5)


def _sparse(values, t):
    g = _grads_h(values, t)
    return g[:2] + [g[2] if t % 3 == 0 else None]


_hidden = [
    ("no decay for one group (as for biases)",
     lambda cls: lambda ps: cls([{"params": ps[:2]}, {"params": ps[2:], "weight_decay": 0.0, "lr": 0.2}],
                                lr=0.05, weight_decay=0.2), _grads_h, None, 5,
     "read weight_decay and lr from each group: a group with weight_decay 0 is not decayed"),
    ("a changing lr", lambda cls: lambda ps: cls(ps, lr=0.1, weight_decay=0.3), _grads_h, [0.1, 0.3, 0.01, 0.2, 0.05],
     5, "the decay uses the current group['lr'] at every step"),
    ("a parameter with a gradient every third step", lambda cls: lambda ps: cls(ps, lr=0.05, weight_decay=0.5),
     _sparse, None, 6, "a parameter without a gradient is skipped entirely: no decay either, as in PyTorch"),
    ("large lr and weight decay", lambda cls: lambda ps: cls(ps, lr=0.3, weight_decay=0.8), _grads_h, None, 5,
     "decay first, then the Adam step: p = p * (1 - lr * wd) - lr * m_hat / (sqrt(v_hat) + eps)"),
]
_want_h = [trajectory(make(mt.optim.AdamW), _start_h, fn, n, lrs) for _, make, fn, lrs, n, _ in _hidden]
with testing.part("AdamW", hidden=True):
    for (_what, _make, _fn, _lrs_i, _n, _hint), _w in zip(_hidden, _want_h):
        check_steps(trajectory(_make(AdamW), _start_h, _fn, _n, _lrs_i), _w, f"AdamW with {_what}", _hint, _hint)
### END HIDDEN TESTS

# %% [markdown]
# ### Why the decay must be decoupled, in one picture
#
# Three sets of 50 weights see zero-mean noisy gradients of very different sizes (standard deviation 0.01,
# 1 and 100; the same noise, scaled) and nothing else pulls on them: the only force that moves them on
# average is the weight decay, λ = 0.1. With AdamW (your part 3) all three shrink at the same rate,
# $(1 - \text{lr}\,\lambda)$ per step, as decay should: their three curves lie on top of each other. With
# Adam's L2 (your part 2, `weight_decay=0.1`) the pull $\lambda p$ is divided by $\sqrt{\hat v}$, the size of
# the weight's own gradients: the weights with small gradients are pulled to zero within 200 steps, and
# those with large gradients are not decayed at all. The regularisation then depends on the
# scale of each weight's gradients, which is not what anyone meant by "weight decay".

# %%
MyAdamW = chapter.fallback("AdamW", AdamW, probe_optimizer)
noise = np.random.default_rng(0).standard_normal((400, 1, 50))  # 50 weights, the same noise at every scale
scales = np.array([0.01, 1.0, 100.0])[:, None]
decay_paths = {}
for label, make in (("Adam + L2 (weight_decay=0.1)", lambda ps: MyAdam(ps, lr=0.01, weight_decay=0.1)),
                    ("AdamW (weight_decay=0.1)", lambda ps: MyAdamW(ps, lr=0.01, weight_decay=0.1))):
    steps_taken = trajectory(make, [np.ones((3, 50))], lambda v, t: [noise[t] * scales], 400)
    decay_paths[label] = np.array([w[0].mean(axis=1) for w in steps_taken])  # the mean of the 50 weights
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
for ax, (label, path) in zip(axes, decay_paths.items()):
    for k, colour in zip(range(3), ("tab:blue", "tab:orange", "tab:red")):
        ax.plot(path[:, k], color=colour, label=f"gradient noise std {scales[k, 0]:g}")
    ax.plot(np.ones(1) * (1 - 0.01 * 0.1) ** np.arange(400), "k--", lw=1, label="(1 - lr λ)^t")
    ax.set_title(label)
    ax.set_xlabel("step")
axes[0].set_ylabel("mean of 50 weights (start: 1)")
axes[0].legend(fontsize=7)
fig.tight_layout()
plt.show()
for label, path in decay_paths.items():
    print(f"{label:<30} mean weight after 400 steps, gradient std 0.01 / 1 / 100: {np.round(path[-1], 3)}")

# %% [markdown]
# ## 4 · Clipping the gradient by its global norm
#
# One bad batch can produce a gradient a thousand times larger than usual, and one step along it can undo
# hours of training (recurrent nets and transformers are prone to it). **Clipping by norm** caps the step:
# put every parameter's gradient end to end into one long vector, take its norm
# $N = \big(\sum_i \lVert g_i \rVert_q^q\big)^{1/q}$ ($q$ = `norm_type`, 2 by default; for $q = \infty$ the
# largest $|g|$ anywhere), and if $N$ exceeds `max_norm`, multiply *every* gradient by the same factor
# `max_norm / (N + 1e-6)` (PyTorch adds the 1e-6 to avoid dividing by zero). One factor for all keeps the
# direction of the step; only its length changes. The function returns $N$ as it was before clipping,
# which is worth logging: a spike in it is the first sign of trouble.
#
# ### Part 4 · `clip_grad_norm_` (3 points)
#
# `parameters` is any iterable of tensors (`model.parameters()` is a generator: it can be walked only
# once); skip those whose `.grad` is `None`; scale the gradients in place (`g *= factor` under
# `mt.no_grad()`). Return the total norm as a float (or a 0-d tensor).

# %% [solution] id=clip_grad_norm_
def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    """Scale all gradients in place so that their global norm is at most max_norm; return the norm before."""
    ### BEGIN SOLUTION
    grads = [p.grad for p in parameters if p.grad is not None]
    if norm_type == math.inf:
        total = max((g.abs().max().item() for g in grads), default=0.0)
    else:
        total = sum((g.abs() ** norm_type).sum().item() for g in grads) ** (1.0 / norm_type)
    factor = max_norm / (total + 1e-6)
    if factor < 1.0:
        with mt.no_grad():
            for g in grads:
                g *= factor
    return total
    ### END SOLUTION

# %% [tests] id=clip_grad_norm__tests points=3
def _with_grads(pairs):
    """Parameters (float64) whose .grad is set: pairs of (value, gradient or None)."""
    out = []
    for value, grad in pairs:
        p = mt.tensor(np.array(value, dtype=np.float64), dtype="float64", requires_grad=True)
        p.grad = None if grad is None else mt.tensor(np.array(grad, dtype=np.float64), dtype="float64")
        out.append(p)
    return out


def _check_clip(pairs, max_norm, norm_type=2.0, as_generator=False, what=""):
    """Yours against the package's reference on the same gradients: the returned norm and every gradient."""
    __tracebackhide__ = True
    ref = _with_grads(pairs)
    want_total = as_float(mt.nn.utils.clip_grad_norm_(ref, max_norm, norm_type))
    want = [None if p.grad is None else p.grad.numpy() for p in ref]
    mine = _with_grads(pairs)
    call = f"clip_grad_norm_({what}, max_norm={max_norm}, norm_type={norm_type})"
    with testing.part("clip_grad_norm_", hidden=True):
        total = call_yours(call, clip_grad_norm_, (p for p in mine) if as_generator else mine, max_norm, norm_type)
        testing.assert_close(as_float(total), want_total, call=call + " returned", rtol=1e-6, hints=[
            (lambda got, exp: got < exp and np.isclose(got, max_norm, rtol=1e-4),
             "return the norm before clipping (it is what you log)"),
            "the total norm is (sum over all parameters of sum |g|^q)^(1/q): one number for all parameters"])
        mistake = _clip_mistake(pairs, mine, want, max_norm, norm_type, want_total, as_generator)
        for i, (p, w) in enumerate(zip(mine, want)):
            if w is None:
                testing.assert_true(p.grad is None, call=call + f": parameter {i}'s grad", got=p.grad,
                                    expected="None (a parameter without a gradient is left alone)")
                continue
            testing.assert_close(p.grad.numpy(), w, call=call + f": parameter {i}'s gradient after", rtol=1e-6,
                                 atol=1e-12, hints=[mistake])


def _clip_mistake(pairs, mine, want, max_norm, norm_type, total, as_generator):
    """The likely mistake, read off all the gradients together."""
    both = [(p.grad.numpy(), np.array(g, dtype=np.float64)) for p, (_, g), w in zip(mine, pairs, want)
            if w is not None and p.grad is not None]
    if both and total > max_norm and all(np.allclose(got, orig) for got, orig in both):
        return ("nothing was scaled although the total norm is above max_norm"
                + (": parameters is a generator here (as model.parameters() is) and can be walked only once, "
                   "so make a list first" if as_generator else ""))
    clamped = both and all(np.allclose(got, np.clip(orig, -max_norm, max_norm)) for got, orig in both)
    own = [min(np.linalg.norm(orig.ravel(), norm_type), max_norm) for _, orig in both]
    alone = both and all(np.isclose(np.linalg.norm(got.ravel(), norm_type), n, rtol=1e-4)
                         for (got, _), n in zip(both, own))
    if clamped or alone:
        what = {(True, True): "each parameter's gradient (or each element) was clipped on its own",
                (True, False): "you clamped each element to [-max_norm, max_norm] (that is clip_grad_value_)",
                (False, True): "you clipped each parameter's gradient by its own norm"}[(bool(clamped), bool(alone))]
        return what + ": scale all gradients by one factor from their global norm, which keeps the step's direction"
    return ("every gradient is multiplied by the same factor max_norm / (total + 1e-6), and only when that factor "
            "is below 1 (never scale a gradient up)")


_pairs = [([1.0, 2.0], [3.0, 4.0]), ([0.5], [12.0])]  # gradient norms 5 and 12: the global norm is 13
_check_clip(_pairs, 6.5, what="gradients [3, 4] and [12] (global norm 13)")
_check_clip(_pairs, 20.0, what="gradients [3, 4] and [12] (global norm 13, below max_norm)")
_check_clip([([1.0, 1.0, 1.0], [0.1, -0.2, 0.3]), ([[1.0, 2.0], [3.0, 4.0]], [[5.0, -1.0], [2.0, 0.0]])], 1.0,
            what="a vector and a matrix gradient")
print("✓ clip_grad_norm_: all visible checks pass")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(7)
_pairs_h = [(_rng.standard_normal((3, 4)), _rng.standard_normal((3, 4)) * 2), (_rng.standard_normal(4), None),
            (_rng.standard_normal(2), _rng.standard_normal(2) * 10)]
_check_clip(_pairs_h, 1.0, what="three parameters, the second without a gradient")
_check_clip(_pairs_h, 1.0, as_generator=True, what="a generator of parameters, as model.parameters() gives")
_check_clip(_pairs_h, 2.0, norm_type=math.inf, what="norm_type=inf: the largest |g| anywhere")
_check_clip(_pairs_h, 5.0, norm_type=1.0, what="norm_type=1: the sum of all |g|")
_check_clip([([1.0], [0.0])], 1.0, what="a zero gradient")
### END HIDDEN TESTS

# %% [markdown]
# ### Keras clips each weight on its own, unless you ask for the global norm
#
# Keras optimizers take `clipnorm=` and `global_clipnorm=`. The first clips **each weight's gradient
# separately** to that norm, which changes the direction of the step; the second is what you just wrote.
# The cell applies one `keras.optimizers.SGD(learning_rate=1.0)` step, so the weights move by exactly the
# (clipped) gradient, to the gradients [3, 4] and [12] with a limit of 6.5.

# %%
MyClip = chapter.fallback("clip_grad_norm_", clip_grad_norm_,
                          lambda f: f(iter([mt.tensor([1.0], requires_grad=True)]), 1.0))
grads_34_12 = [np.array([3.0, 4.0]), np.array([12.0])]
ps = [mt.tensor(np.zeros(g.shape), requires_grad=True) for g in grads_34_12]
for p, g in zip(ps, grads_34_12):
    p.grad = mt.tensor(g)
MyClip(ps, 6.5)
print(f"{'yours' if MyClip is clip_grad_norm_ else 'reference'} (global norm):",
      [np.round(p.grad.numpy(), 4) for p in ps])
if keras is not None:
    for option in ("clipnorm", "global_clipnorm"):
        kvars = [keras.Variable(np.zeros(g.shape)) for g in grads_34_12]
        keras.optimizers.SGD(learning_rate=1.0, **{option: 6.5}).apply_gradients(
            [(keras.ops.convert_to_tensor(g), v) for g, v in zip(grads_34_12, kvars)])
        print(f"keras {option + ':':<17}", [np.round(-keras.ops.convert_to_numpy(v), 4) for v in kvars])

# %% [markdown]
# ## 5 · Warm-up, then a cosine decay of the learning rate
#
# Two observations shape the learning rate of almost every large training run:
#
# - **At the start** Adam's $\hat v$ is estimated from a handful of gradients and the weights are random:
#   large steps then are risky. A **linear warm-up** raises the rate from 0 to its peak over the first
#   `warmup_steps` steps.
# - **At the end** small steps settle into a minimum instead of bouncing around it. A **cosine decay**
#   lowers the rate from the peak to `eta_min` along half a cosine, slowly at first, fast in the middle,
#   slowly at the end:
#
# $$\text{lr}(s) = \begin{cases} \text{base} \cdot s / W & s < W \\
# \eta_{min} + (\text{base} - \eta_{min})\,\tfrac12\big(1 + \cos(\pi\, \tfrac{s - W}{T - W})\big) & W \le s \le T \\
# \eta_{min} & s > T \end{cases}$$
#
# with $s$ the step counted from 0, $W$ = `warmup_steps` and $T$ = `total_steps`. So step 0 trains at lr 0,
# step $W$ at the peak, step $T$ at `eta_min`. In PyTorch it is `SequentialLR` of `LinearLR` and
# `CosineAnnealingLR` (or Hugging Face's `get_cosine_schedule_with_warmup`); in Keras it is
# `keras.optimizers.schedules.CosineDecay(0.0, T - W, alpha=eta_min / base, warmup_target=base,
# warmup_steps=W)`.
#
# ### Part 5 · `warmup_cosine` (4 points)
#
# Return the learning rate (a float) at `step`.

# %% [solution] id=warmup_cosine
def warmup_cosine(step, base_lr, warmup_steps, total_steps, eta_min=0.0):
    """The learning rate at `step` (from 0): linear warm-up from 0 to base_lr, then cosine to eta_min."""
    ### BEGIN SOLUTION
    if step < warmup_steps:
        return base_lr * step / warmup_steps
    progress = min(step - warmup_steps, total_steps - warmup_steps) / (total_steps - warmup_steps)
    return eta_min + (base_lr - eta_min) * 0.5 * (1.0 + math.cos(math.pi * progress))
    ### END SOLUTION

# %% [tests] id=warmup_cosine_tests points=4
_settings = [(1.0, 4, 12, 0.0), (0.3, 2, 7, 0.0)]
_want = {s: [mt.optim.lr_scheduler.warmup_cosine(k, *s) for k in range(s[2] + 1)] for s in _settings}
with testing.part("warmup_cosine"):
    for (_base, _w, _t, _min), _expected in _want.items():
        _got = [as_float(call_yours(f"warmup_cosine({k}, {_base}, {_w}, {_t})", warmup_cosine, k, _base, _w, _t))
                for k in range(_t + 1)]
        testing.assert_close(_got, _expected, call=f"[warmup_cosine(s, base_lr={_base}, warmup_steps={_w}, "
                                                    f"total_steps={_t}) for s in 0..{_t}]", rtol=1e-9, atol=1e-12,
                             hints=[(lambda got, exp: got[0] != 0, "step 0 trains at lr 0: the warm-up is "
                                     "base_lr * step / warmup_steps (not (step + 1) / warmup_steps)"),
                                    (lambda got, exp, w=_w, b=_base: not np.isclose(got[w], b),
                                     f"at step warmup_steps = {_w} the lr is the peak, base_lr = {_base}: the cosine "
                                     "starts at progress 0 there (off by one step?)"),
                                    (lambda got, exp: not np.isclose(got[-1], exp[-1]),
                                     "at total_steps the lr reaches eta_min: progress (s - W) / (T - W) runs 0..1"),
                                    "the decay is half a cosine over the T - W steps after the warm-up"])
### BEGIN HIDDEN TESTS
_settings_h = [(0.5, 3, 10, 0.05), (2.0, 0, 6, 0.1), (1e-3, 10, 100, 1e-5), (1.0, 1, 2, 0.0)]
_want_h = {s: [mt.optim.lr_scheduler.warmup_cosine(k, *s) for k in range(s[2] + 5)] for s in _settings_h}
with testing.part("warmup_cosine", hidden=True):
    for (_base, _w, _t, _min), _expected in _want_h.items():
        _got = [as_float(call_yours(f"warmup_cosine({k}, {_base}, {_w}, {_t}, eta_min={_min})", warmup_cosine, k, _base,
                                    _w, _t, eta_min=_min)) for k in range(_t + 5)]
        testing.assert_close(_got, _expected, call=f"[warmup_cosine(s, {_base}, {_w}, {_t}, eta_min={_min}) "
                                                    f"for s in 0..{_t + 4}]", rtol=1e-9, atol=1e-12,
                             hints=["the cosine goes from base_lr down to eta_min (not to 0); without warm-up "
                                    "(warmup_steps=0) step 0 is at base_lr; after total_steps the lr stays at eta_min"])
### END HIDDEN TESTS

# %% [markdown]
# The schedule drawn, next to Keras 3's `CosineDecay` with the same warm-up (dots), where Keras is installed:

# %%
MySchedule = chapter.fallback("warmup_cosine", warmup_cosine, lambda f: f(1, 1.0, 2, 10))
W, T, base, eta_min = 20, 100, 1e-3, 1e-4
yours = [MySchedule(s, base, W, T, eta_min) for s in range(T + 10)]
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(yours, lw=2, label=f"warmup_cosine ({'yours' if MySchedule is warmup_cosine else 'the reference'})")
if keras is not None:
    k_schedule = keras.optimizers.schedules.CosineDecay(0.0, T - W, alpha=eta_min / base, warmup_target=base,
                                                        warmup_steps=W)
    k_values = [float(k_schedule(s)) for s in range(0, T + 10, 5)]
    ax.plot(range(0, T + 10, 5), k_values, "o", ms=4, label="keras CosineDecay(warmup_target=...)")
    print("largest difference from Keras (float32):", max(abs(a - b) for a, b in zip(yours[::5], k_values)))
ax.axvline(W, color="0.6", ls=":")
ax.set_xlabel("step")
ax.set_ylabel("learning rate")
ax.set_title(f"warm-up over {W} steps, cosine to {eta_min:g} at step {T}")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# And the momentum detail from part 1, in numbers: Keras's SGD folds the learning rate into its velocity,
# PyTorch's (and yours) keeps it out of the buffer. With a constant rate they agree; under a schedule they
# do not. Same gradients for both, 5 steps:

# %%
if keras is not None:
    for label, lrs in (("constant lr 0.1", [0.1] * 5), ("lr 0.1, 0.05, 0.2, 0.01, 0.1", [0.1, 0.05, 0.2, 0.01, 0.1])):
        kv = keras.Variable(np.array([1.0, -2.0]), dtype="float64")
        kopt = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)
        for t in range(5):
            kopt.learning_rate = lrs[t]
            kopt.apply_gradients([(keras.ops.convert_to_tensor(np.array([0.5, -0.3]) * (t + 1), dtype="float64"),
                                   kv)])
        yours_sgd = trajectory(lambda ps: MySGD(ps, lr=0.1, momentum=0.9), [np.array([1.0, -2.0])],
                               lambda v, t: [np.array([0.5, -0.3]) * (t + 1)], 5, lrs)[-1][0]
        print(f"{label:<30} keras: {np.round(keras.ops.convert_to_numpy(kv), 6)}  yours: {np.round(yours_sgd, 6)}")

# %% [markdown]
# ## Closing: your optimizer trains a real network
#
# Everything together, inside the package: an `mt.nn` network (64 → 64 → 10) on scikit-learn's 8×8
# handwritten digits (1438 training images, 359 held back), mini-batches of 64, the loss from
# `mt.nn.functional.cross_entropy` and its gradient from `loss.backward()`. The training step is the one
# every PyTorch loop has: `zero_grad`, `backward`, **your `clip_grad_norm_`**, **your optimizer's `step`**,
# and between steps **your `warmup_cosine`** writes `group["lr"]`. Two runs: your `SGD` with Nesterov
# momentum and your `AdamW`, same initial weights, same batches. A part you have not written yet falls back
# to the package's reference, and the cell says so.

# %%
(x_train, y_train), (x_val, y_val) = mt.data.load_digits(flatten=True)
epochs, batch = 10, 64
steps_per_epoch = len(x_train) // batch
total = epochs * steps_per_epoch
max_norm = 0.5  # the early, steep steps are clipped


def train_digits(make_optimizer, base_lr, seed=0):
    """Train the MLP with your optimizer, clipping and schedule; return (losses, grad norms, val accuracy)."""
    mt.manual_seed(seed)
    model = mt.nn.Sequential(mt.nn.Linear(64, 64), mt.nn.ReLU(), mt.nn.Linear(64, 10))
    opt = make_optimizer(list(model.parameters()))
    order = np.random.default_rng(seed)
    losses, norms, step = [], [], 0
    for _ in range(epochs):
        perm = order.permutation(len(x_train))
        for b in range(steps_per_epoch):
            idx = perm[b * batch:(b + 1) * batch]
            for group in opt.param_groups:
                group["lr"] = MySchedule(step, base_lr, steps_per_epoch, total, base_lr / 100)
            loss = mt.nn.functional.cross_entropy(model(mt.tensor(x_train[idx])), mt.tensor(y_train[idx]))
            opt.zero_grad()
            loss.backward()
            norms.append(as_float(MyClip(model.parameters(), max_norm)))
            opt.step()
            losses.append(loss.item())
            step += 1
    with mt.no_grad():
        accuracy = float(np.mean(model(mt.tensor(x_val)).numpy().argmax(1) == y_val))
    return losses, norms, accuracy


def whose(chosen, yours):
    return "your" if chosen is yours else "the package's"


runs = {
    f"{whose(MySGD, SGD)} SGD (Nesterov 0.9)": train_digits(
        lambda ps: MySGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4), 0.1),
    f"{whose(MyAdamW, AdamW)} AdamW": train_digits(lambda ps: MyAdamW(ps, lr=1e-2, weight_decay=0.01), 1e-2),
}
for name, (losses, norms, accuracy) in runs.items():
    print(f"{name:<24} loss {np.mean(losses[:10]):.3f} -> {np.mean(losses[-10:]):.3f}, "
          f"held-back accuracy {accuracy:.1%}, largest gradient norm {max(norms):.2f}")

# %%
fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(12, 3.3))
smooth = np.ones(10) / 10
for name, (losses, norms, accuracy) in runs.items():
    ax1.plot(np.convolve(losses, smooth, mode="valid"), label=f"{name}: {accuracy:.1%} held back")
    ax2.plot(norms, lw=0.8, label=name)
ax1.set_yscale("log")
ax1.set_xlabel("step")
ax1.set_title("training loss (10-step mean)")
ax1.legend(fontsize=7)
ax2.axhline(max_norm, color="k", ls=":", lw=1, label="max_norm (clipped above)")
ax2.set_xlabel("step")
ax2.set_title("global gradient norm before clipping")
ax2.legend(fontsize=7)
ax3.plot([MySchedule(s, 1.0, steps_per_epoch, total, 0.01) for s in range(total)])
ax3.set_xlabel("step")
ax3.set_title("learning rate / base_lr")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## What you built, and where it lives in the frameworks
#
# | you wrote | PyTorch | Keras 3 |
# | --- | --- | --- |
# | `SGD` with momentum, Nesterov, weight decay | `torch.optim.SGD` | `keras.optimizers.SGD` (velocity form) |
# | `Adam` | `torch.optim.Adam` | `keras.optimizers.Adam` (ε before the bias correction) |
# | `AdamW` | `torch.optim.AdamW` | `keras.optimizers.AdamW` |
# | `clip_grad_norm_` | `torch.nn.utils.clip_grad_norm_` | `global_clipnorm=` (`clipnorm=` clips per weight) |
# | `warmup_cosine` | `SequentialLR(LinearLR, CosineAnnealingLR)` | `schedules.CosineDecay(warmup_target=...)` |
#
# The package's versions are in `minitorch_edu/optim/` and `minitorch_edu/nn/utils.py`; they compute the
# same formulas in one fused pass of the backend's kernel per parameter (`Backend.adam_step`), which is
# what PyTorch's `fused=True` and `foreach=True` options do too. In chapter 08 you write the rest of the
# training loop around them: a `DataLoader`, the loop itself, and Keras's `fit`.
