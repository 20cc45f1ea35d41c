"""Wrong solutions of chapter 07 (optimizers): each must lose its part's points.

Names ending in `_hidden_only` pass the visible self-check and fail only the hidden tests; names
starting with `bypass_` hand the work to the package (sealed while the part is graded, or caught by
the check that the class borrows no package optimizer).
"""

SLUG = "07_optimizers"

_SGD = '''
class SGD(mt.optim.Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(params, defaults)

    @mt.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.setdefault(p, {{}})
{body}
'''

_ADAM = '''
class {name}(mt.optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay={wd}):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    @mt.no_grad()
    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.setdefault(p, {{}})
{body}
'''

_MOMENTS = """
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
"""


def _indent(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line if line.strip() else line for line in text.strip("\n").splitlines())


def _sgd(body: str) -> str:
    return _SGD.format(body=_indent(body, 16))


def _adam(body: str, name: str = "Adam") -> str:
    return _ADAM.format(name=name, wd="0.0" if name == "Adam" else "1e-2", body=_indent(body, 16))


def _adamw(body: str) -> str:
    return _adam(body, "AdamW")


_ADAM_STEP = 'p -= group["lr"] * m_hat / (v_hat.sqrt() + group["eps"])'

_CLIP = '''
def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
{body}
'''


def _clip(body: str) -> str:
    return _CLIP.format(body=_indent(body, 4))


_SCHEDULE = '''
def warmup_cosine(step, base_lr, warmup_steps, total_steps, eta_min=0.0):
{body}
'''


def _schedule(body: str) -> str:
    return _SCHEDULE.format(body=_indent(body, 4))


WRONG = {
    "SGD": {
        # weight decay added into p.grad itself: the update is right, but the caller's gradient has changed
        "weight_decay_into_the_grad_hidden_only": _sgd("""
g = p.grad
if group["weight_decay"]:
    p.grad += group["weight_decay"] * p
momentum = group["momentum"]
if momentum:
    buf = state.get("momentum_buffer")
    buf = g.clone() if buf is None else momentum * buf + (1 - group["dampening"]) * g
    state["momentum_buffer"] = buf
    g = g + momentum * buf if group["nesterov"] else buf
p -= group["lr"] * g
"""),
        # the first buffer is the gradient tensor itself: a backward that adds into that tensor changes the momentum
        "buffer_aliases_the_grad_hidden_only": _sgd("""
g = p.grad
if group["weight_decay"]:
    g = g + group["weight_decay"] * p
momentum = group["momentum"]
if momentum:
    buf = state.get("momentum_buffer")
    buf = g if buf is None else momentum * buf + (1 - group["dampening"]) * g
    state["momentum_buffer"] = buf
    g = g + momentum * buf if group["nesterov"] else buf
p -= group["lr"] * g
"""),
        # the buffer starts at zero and always takes (1 - dampening) * g: the same as PyTorch without dampening
        "buffer_starts_at_zero_hidden_only": _sgd("""
g = p.grad
if group["weight_decay"]:
    g = g + group["weight_decay"] * p
if group["momentum"]:
    buf = state.get("momentum_buffer", mt.zeros_like(p))
    buf = group["momentum"] * buf + (1 - group["dampening"]) * g
    state["momentum_buffer"] = buf
    g = g + group["momentum"] * buf if group["nesterov"] else buf
p -= group["lr"] * g
"""),
        # Keras's velocity form: equal to PyTorch's at a constant lr, not under a schedule
        "velocity_folds_in_lr_hidden_only": _sgd("""
g = p.grad
if group["weight_decay"]:
    g = g + group["weight_decay"] * p
if group["momentum"]:
    v = state.get("velocity")
    v = -group["lr"] * g if v is None else group["momentum"] * v - group["lr"] * g
    state["velocity"] = v
    if group["nesterov"]:
        p += group["momentum"] * v - group["lr"] * g
    else:
        p += v
else:
    p -= group["lr"] * g
"""),
        # hyper-parameters copied from the defaults: param groups (and schedules writing group["lr"]) ignored
        "reads_defaults_not_group_hidden_only": _sgd("""
hp = self.defaults
g = p.grad
if hp["weight_decay"]:
    g = g + hp["weight_decay"] * p
if hp["momentum"]:
    buf = state.get("momentum_buffer")
    buf = g.clone() if buf is None else hp["momentum"] * buf + (1 - hp["dampening"]) * g
    state["momentum_buffer"] = buf
    g = g + hp["momentum"] * buf if hp["nesterov"] else buf
p -= group["lr"] * g
"""),
        # weight decay added to the step after the momentum, not to the gradient before it
        "weight_decay_after_momentum": _sgd("""
g = p.grad
if group["momentum"]:
    buf = state.get("momentum_buffer")
    buf = g.clone() if buf is None else group["momentum"] * buf + (1 - group["dampening"]) * g
    state["momentum_buffer"] = buf
    g = g + group["momentum"] * buf if group["nesterov"] else buf
p -= group["lr"] * (g + group["weight_decay"] * p)
"""),
        # Nesterov with the buffer of the previous step
        "nesterov_uses_old_buffer": _sgd("""
g = p.grad
if group["weight_decay"]:
    g = g + group["weight_decay"] * p
if group["momentum"]:
    old = state.get("momentum_buffer")
    buf = g.clone() if old is None else group["momentum"] * old + (1 - group["dampening"]) * g
    state["momentum_buffer"] = buf
    if group["nesterov"]:
        g = g + group["momentum"] * (old if old is not None else mt.zeros_like(p))
    else:
        g = buf
p -= group["lr"] * g
"""),
        # nesterov=True ignored
        "nesterov_ignored": _sgd("""
g = p.grad
if group["weight_decay"]:
    g = g + group["weight_decay"] * p
if group["momentum"]:
    buf = state.get("momentum_buffer")
    buf = g.clone() if buf is None else group["momentum"] * buf + (1 - group["dampening"]) * g
    state["momentum_buffer"] = buf
    g = buf
p -= group["lr"] * g
"""),
        # the buffer is never stored: momentum of one step only
        "buffer_not_kept": _sgd("""
g = p.grad
if group["weight_decay"]:
    g = g + group["weight_decay"] * p
if group["momentum"]:
    buf = g.clone()
    g = g + group["momentum"] * buf if group["nesterov"] else buf
p -= group["lr"] * g
"""),
        "bypass_package_sgd": _sgd("""
inner = state.get("inner")
if inner is None:
    inner = state["inner"] = mt.optim.SGD([p], **{k: v for k, v in group.items() if k != "params"})
inner.param_groups[0].update({k: v for k, v in group.items() if k != "params"})
inner.step()
"""),
        "bypass_subclass_package_sgd": """
class SGD(mt.optim.SGD):
    pass
""",
        # RMSprop with alpha=1 keeps square_avg at 0: with lr * eps it is SGD with momentum
        "bypass_rmsprop_in_disguise": _sgd("""
inner = state.get("inner")
if inner is None:
    inner = state["inner"] = mt.optim.RMSprop([p], lr=group["lr"] * 1e-8, alpha=1.0, eps=1e-8,
                                              momentum=group["momentum"], weight_decay=group["weight_decay"])
inner.step()
"""),
    },
    "Adam": {
        # L2 decay added into p.grad itself: the caller's gradient changes under it
        "weight_decay_into_the_grad_hidden_only": _adam("""
g = p.grad
if group["weight_decay"]:
    p.grad += group["weight_decay"] * p
""" + _MOMENTS + _ADAM_STEP),
        "no_bias_correction": _adam("""
g = p.grad
if group["weight_decay"]:
    g = g + group["weight_decay"] * p
if not state:
    state["exp_avg"] = mt.zeros_like(p)
    state["exp_avg_sq"] = mt.zeros_like(p)
state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * g
state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
p -= group["lr"] * state["exp_avg"] / (state["exp_avg_sq"].sqrt() + group["eps"])
"""),
        # the bias correction at t = 0 on the first step: 1 - beta**0 = 0
        "bias_correction_counts_from_zero": _adam("""
g = p.grad
if group["weight_decay"]:
    g = g + group["weight_decay"] * p
if not state:
    state["step"] = 0
    state["exp_avg"] = mt.zeros_like(p)
    state["exp_avg_sq"] = mt.zeros_like(p)
t = state["step"]
state["step"] += 1
state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * g
state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
m_hat = state["exp_avg"] / (1 - beta1**t)
v_hat = state["exp_avg_sq"] / (1 - beta2**t)
""" + _ADAM_STEP),
        # one step counter for the whole optimizer: wrong for a parameter that joins later
        "global_step_counter_hidden_only": _adam("""
g = p.grad
if group["weight_decay"]:
    g = g + group["weight_decay"] * p
if not state:
    state["exp_avg"] = mt.zeros_like(p)
    state["exp_avg_sq"] = mt.zeros_like(p)
if p is next(q for grp in self.param_groups for q in grp["params"] if q.grad is not None):
    self.t = getattr(self, "t", 0) + 1
t = self.t
state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * g
state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
m_hat = state["exp_avg"] / (1 - beta1**t)
v_hat = state["exp_avg_sq"] / (1 - beta2**t)
""" + _ADAM_STEP),
        "eps_inside_sqrt": _adam("""
g = p.grad
if group["weight_decay"]:
    g = g + group["weight_decay"] * p
""" + _MOMENTS + 'p -= group["lr"] * m_hat / (v_hat + group["eps"]).sqrt()'),
        # Keras's placement: eps added before the bias correction of v
        "eps_before_bias_correction": _adam("""
g = p.grad
if group["weight_decay"]:
    g = g + group["weight_decay"] * p
""" + _MOMENTS + 'p -= group["lr"] * m_hat / ((state["exp_avg_sq"].sqrt() + group["eps"]) / math.sqrt(1 - beta2**t))'),
        # decoupled decay in Adam: that is AdamW
        "weight_decay_decoupled": _adam("""
p *= 1 - group["lr"] * group["weight_decay"]
g = p.grad
""" + _MOMENTS + _ADAM_STEP),
        # the learning rate read once, in the first step: schedules ignored
        "lr_frozen_at_first_step_hidden_only": _adam("""
g = p.grad
if group["weight_decay"]:
    g = g + group["weight_decay"] * p
""" + _MOMENTS + """
lr = state.setdefault("lr", group["lr"])
p -= lr * m_hat / (v_hat.sqrt() + group["eps"])
"""),
        "bypass_package_adam": _adam("""
inner = state.get("inner")
if inner is None:
    inner = state["inner"] = mt.optim.Adam([p], **{k: v for k, v in group.items() if k != "params"})
inner.param_groups[0].update({k: v for k, v in group.items() if k != "params"})
inner.step()
"""),
        "bypass_adamw_without_decay": _adam("""
g = p.grad
if group["weight_decay"]:
    g = g + group["weight_decay"] * p
    p.grad = g
inner = state.get("inner")
if inner is None:
    inner = state["inner"] = mt.optim.AdamW([p], lr=group["lr"], betas=group["betas"], eps=group["eps"],
                                            weight_decay=0.0)
inner.param_groups[0]["lr"] = group["lr"]
inner.step()
"""),
        "bypass_fused_adam_step": _adam("""
g = p.grad
if group["weight_decay"]:
    g = g + group["weight_decay"] * p
if not state:
    state["step"] = 0
    state["exp_avg"] = mt.zeros_like(p)
    state["exp_avg_sq"] = mt.zeros_like(p)
state["step"] += 1
from minitorch_edu.optim.optimizer import adam_step
adam_step(p, g, state["exp_avg"], state["exp_avg_sq"], None, group["lr"], beta1, beta2, group["eps"], state["step"])
"""),
        "bypass_subclass_package_adam": """
class Adam(mt.optim.Adam):
    pass
""",
    },
    "AdamW": {
        # Adam's L2 under AdamW's name
        "l2_instead_of_decoupled": _adamw("""
g = p.grad + group["weight_decay"] * p
""" + _MOMENTS + _ADAM_STEP),
        # the decay goes through Adam's scaling
        "decay_divided_by_denominator": _adamw("""
g = p.grad
""" + _MOMENTS + 'p -= group["lr"] * (m_hat + group["weight_decay"] * p) / (v_hat.sqrt() + group["eps"])'),
        "decay_without_lr": _adamw("""
p *= 1 - group["weight_decay"]
g = p.grad
""" + _MOMENTS + _ADAM_STEP),
        # decay after the Adam update: p (1 - lr wd) - lr u  becomes  (p - lr u)(1 - lr wd)
        "decay_after_update": _adamw("""
g = p.grad
""" + _MOMENTS + _ADAM_STEP + """
p *= 1 - group["lr"] * group["weight_decay"]
"""),
        # the decay reads the default weight decay: a group with weight_decay 0 (biases) is decayed anyway
        "group_weight_decay_ignored_hidden_only": _adamw("""
p *= 1 - group["lr"] * self.defaults["weight_decay"]
g = p.grad
""" + _MOMENTS + _ADAM_STEP),
        # the decay reaches every parameter, also those without a gradient this step (PyTorch skips them)
        "decays_params_without_grad_hidden_only": """
class AdamW(mt.optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    @mt.no_grad()
    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                p *= 1 - group["lr"] * group["weight_decay"]
                if p.grad is None:
                    continue
                state = self.state.setdefault(p, {})
                g = p.grad
""" + _indent(_MOMENTS + _ADAM_STEP, 16) + """
""",
        # the decay uses the constructor's lr: schedules and groups change only the Adam step
        "decay_uses_default_lr_hidden_only": _adamw("""
p *= 1 - self.defaults["lr"] * group["weight_decay"]
g = p.grad
""" + _MOMENTS + _ADAM_STEP),
        "bypass_package_adamw": _adamw("""
inner = state.get("inner")
if inner is None:
    inner = state["inner"] = mt.optim.AdamW([p], **{k: v for k, v in group.items() if k != "params"})
inner.param_groups[0].update({k: v for k, v in group.items() if k != "params"})
inner.step()
"""),
        "bypass_package_adam_plus_decay": _adamw("""
p *= 1 - group["lr"] * group["weight_decay"]
inner = state.get("inner")
if inner is None:
    inner = state["inner"] = mt.optim.Adam([p], lr=group["lr"], betas=group["betas"], eps=group["eps"])
inner.param_groups[0]["lr"] = group["lr"]
inner.step()
"""),
        "bypass_subclass_package_adamw": """
class AdamW(mt.optim.AdamW):
    pass
""",
    },
    "clip_grad_norm_": {
        # each parameter clipped by its own norm (Keras's clipnorm)
        "per_parameter_norm": _clip("""
total = 0.0
for p in parameters:
    if p.grad is None:
        continue
    norm = (p.grad * p.grad).sum().item() ** 0.5
    total += norm * norm
    if norm > max_norm:
        with mt.no_grad():
            p.grad *= max_norm / (norm + 1e-6)
return total ** 0.5
"""),
        # scales up small gradients too
        "always_rescales": _clip("""
grads = [p.grad for p in parameters if p.grad is not None]
total = sum((g.abs() ** norm_type).sum().item() for g in grads) ** (1.0 / norm_type)
with mt.no_grad():
    for g in grads:
        g *= max_norm / (total + 1e-6)
return total
"""),
        "returns_norm_after_clipping": _clip("""
grads = [p.grad for p in parameters if p.grad is not None]
total = sum((g.abs() ** norm_type).sum().item() for g in grads) ** (1.0 / norm_type)
factor = min(1.0, max_norm / (total + 1e-6))
with mt.no_grad():
    for g in grads:
        g *= factor
return total * factor
"""),
        # the norms of the parameters added, not combined
        "sum_of_norms": _clip("""
grads = [p.grad for p in parameters if p.grad is not None]
total = sum(((g * g).sum().item()) ** 0.5 for g in grads)
factor = max_norm / (total + 1e-6)
if factor < 1:
    with mt.no_grad():
        for g in grads:
            g *= factor
return total
"""),
        # clamps each element (clip_grad_value_) instead of scaling
        "clips_values": _clip("""
grads = [p.grad for p in parameters if p.grad is not None]
total = sum((g * g).sum().item() for g in grads) ** 0.5
for p in parameters:
    if p.grad is not None:
        p.grad = p.grad.clamp(-max_norm, max_norm)
return total
"""),
        # walks the parameters twice: a generator (model.parameters()) is empty the second time
        "iterates_twice_hidden_only": _clip("""
total = sum((p.grad.abs() ** norm_type).sum().item() for p in parameters if p.grad is not None) ** (1 / norm_type)
factor = max_norm / (total + 1e-6)
if factor < 1:
    with mt.no_grad():
        for p in parameters:
            if p.grad is not None:
                p.grad *= factor
return total
"""),
        # always the 2-norm
        "ignores_norm_type_hidden_only": _clip("""
grads = [p.grad for p in parameters if p.grad is not None]
total = sum((g * g).sum().item() for g in grads) ** 0.5
factor = max_norm / (total + 1e-6)
if factor < 1:
    with mt.no_grad():
        for g in grads:
            g *= factor
return total
"""),
        # a parameter without a gradient crashes it
        "assumes_every_grad_hidden_only": _clip("""
params = list(parameters)
total = sum((p.grad.abs() ** norm_type).sum().item() for p in params) ** (1.0 / norm_type)
factor = max_norm / (total + 1e-6)
if factor < 1:
    with mt.no_grad():
        for p in params:
            p.grad *= factor
return total
"""),
        "bypass_package_clip": _clip("""
return mt.nn.utils.clip_grad_norm_(parameters, max_norm, norm_type)
"""),
    },
    "warmup_cosine": {
        # the warm-up starts one step late: step 0 already trains at base_lr / warmup_steps
        "warmup_starts_above_zero": _schedule("""
if step < warmup_steps:
    return base_lr * (step + 1) / warmup_steps
progress = min(step - warmup_steps, total_steps - warmup_steps) / (total_steps - warmup_steps)
return eta_min + (base_lr - eta_min) * 0.5 * (1 + math.cos(math.pi * progress))
"""),
        # the cosine one step ahead: the peak is never reached
        "cosine_off_by_one": _schedule("""
if step < warmup_steps:
    return base_lr * step / warmup_steps
progress = min(step - warmup_steps + 1, total_steps - warmup_steps) / (total_steps - warmup_steps)
return eta_min + (base_lr - eta_min) * 0.5 * (1 + math.cos(math.pi * progress))
"""),
        # the cosine's progress counted over all steps, from step 0
        "cosine_over_total_steps": _schedule("""
if step < warmup_steps:
    return base_lr * step / warmup_steps
progress = min(step, total_steps) / total_steps
return eta_min + (base_lr - eta_min) * 0.5 * (1 + math.cos(math.pi * progress))
"""),
        "linear_decay": _schedule("""
if step < warmup_steps:
    return base_lr * step / warmup_steps
progress = min(step - warmup_steps, total_steps - warmup_steps) / (total_steps - warmup_steps)
return eta_min + (base_lr - eta_min) * (1 - progress)
"""),
        # decays to 0 whatever eta_min says (the visible checks use eta_min = 0)
        "eta_min_ignored_hidden_only": _schedule("""
if step < warmup_steps:
    return base_lr * step / warmup_steps
progress = min(step - warmup_steps, total_steps - warmup_steps) / (total_steps - warmup_steps)
return base_lr * 0.5 * (1 + math.cos(math.pi * progress))
"""),
        # after total_steps the cosine climbs back up
        "no_clamp_after_total_hidden_only": _schedule("""
if step < warmup_steps:
    return base_lr * step / warmup_steps
progress = (step - warmup_steps) / (total_steps - warmup_steps)
return eta_min + (base_lr - eta_min) * 0.5 * (1 + math.cos(math.pi * progress))
"""),
        # `<=` divides by zero without warm-up (warmup_steps = 0)
        "warmup_inclusive_hidden_only": _schedule("""
if step <= warmup_steps:
    return base_lr * step / warmup_steps
progress = min(step - warmup_steps, total_steps - warmup_steps) / (total_steps - warmup_steps)
return eta_min + (base_lr - eta_min) * 0.5 * (1 + math.cos(math.pi * progress))
"""),
        "bypass_package_function": _schedule("""
return mt.optim.lr_scheduler.warmup_cosine(step, base_lr, warmup_steps, total_steps, eta_min)
"""),
        "bypass_package_schedulers": _schedule("""
opt = mt.optim.SGD([mt.tensor([0.0], requires_grad=True)], lr=base_lr)
after = mt.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps - warmup_steps, eta_min=eta_min)
sched = mt.optim.lr_scheduler.LinearWarmup(opt, max(warmup_steps, 1), after=after)
for _ in range(min(step, total_steps)):
    sched.step()
return opt.param_groups[0]["lr"]
"""),
    },
}

# another framework's optimizer or clipping run on copies of the tensors: not the learner's code either
WRONG["SGD"]["bypass_torch_optimizer"] = """
import torch

class SGD(mt.optim.Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov))
        self._t = {}
        groups = []
        for g in self.param_groups:
            ts = []
            for p in g["params"]:
                self._t[id(p)] = (p, torch.from_numpy(np.array(p.numpy())))
                ts.append(self._t[id(p)][1])
            groups.append({**{k: v for k, v in g.items() if k != "params"}, "params": ts})
        self._opt = torch.optim.SGD(groups)

    def step(self):
        for p, t in self._t.values():
            t.grad = None if p.grad is None else torch.from_numpy(np.array(p.grad.numpy()))
            with torch.no_grad():
                t.copy_(torch.from_numpy(np.array(p.numpy())))
        for mine, theirs in zip(self.param_groups, self._opt.param_groups):
            theirs.update({k: v for k, v in mine.items() if k != "params"})
        self._opt.step()
        with mt.no_grad():
            for p, t in self._t.values():
                p.copy_(mt.tensor(t.numpy(), dtype=p.dtype))
"""
WRONG["clip_grad_norm_"]["bypass_torch_clipping"] = """
import torch

def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    ps = [p for p in parameters if p.grad is not None]
    ts = [torch.from_numpy(np.array(p.numpy())).requires_grad_() for p in ps]
    for t, p in zip(ts, ps):
        t.grad = torch.from_numpy(np.array(p.grad.numpy()))
    total = torch.nn.utils.clip_grad_norm_(ts, max_norm, norm_type)
    with mt.no_grad():
        for t, p in zip(ts, ps):
            p.grad.copy_(mt.tensor(t.grad.numpy(), dtype=p.grad.dtype))
    return float(total)
"""
# the same, with torch two levels down: the class's methods name only the learner's helpers, which use torch.optim
# (the check follows the names of the learner's own functions, not only the methods the tests call)
WRONG["SGD"]["bypass_torch_in_a_helper"] = """
import torch


def _torch_twin(opt):
    opt._t = {}
    groups = []
    for g in opt.param_groups:
        ts = []
        for p in g["params"]:
            opt._t[id(p)] = (p, torch.from_numpy(np.array(p.numpy())))
            ts.append(opt._t[id(p)][1])
        groups.append({**{k: v for k, v in g.items() if k != "params"}, "params": ts})
    return torch.optim.SGD(groups)


def _torch_step(opt):
    for p, t in opt._t.values():
        t.grad = None if p.grad is None else torch.from_numpy(np.array(p.grad.numpy()))
        with torch.no_grad():
            t.copy_(torch.from_numpy(np.array(p.numpy())))
    for mine, theirs in zip(opt.param_groups, opt._twin.param_groups):
        theirs.update({k: v for k, v in mine.items() if k != "params"})
    opt._twin.step()
    with mt.no_grad():
        for p, t in opt._t.values():
            p.copy_(mt.tensor(t.numpy(), dtype=p.dtype))


class SGD(mt.optim.Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov))
        self._twin = _torch_twin(self)

    def step(self):
        _torch_step(self)
"""
