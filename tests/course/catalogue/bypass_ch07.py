"""Shortcuts through the package for chapter 07: a package optimizer, clipping or schedule saved under
another name before the checks run. Each must score 0 on its part, refused by the seal (issue 22)."""

SLUG = "07_optimizers"

BYPASS = {
    "SGD": {
        "saved_class_called_in_step": """
_Ref = mt.optim.SGD

class SGD(mt.optim.Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))
        self._inner = _Ref(self.param_groups[0]["params"], lr=lr, momentum=momentum, dampening=dampening,
                           weight_decay=weight_decay, nesterov=nesterov)

    def step(self):
        self._inner.param_groups[0]["lr"] = self.param_groups[0]["lr"]
        self._inner.step()
""",
    },
    "Adam": {
        "saved_step_function": """
from minitorch_edu.optim import Adam as _A

class Adam(_A):
    pass
""",
    },
    "clip_grad_norm_": {
        "saved_name": """
from minitorch_edu.nn.utils import clip_grad_norm_ as _clip

def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    return _clip(parameters, max_norm, norm_type)
""",
    },
    "warmup_cosine": {
        "hidden_name_through_getattr": """
import minitorch_edu.optim.lr_scheduler as _s
_w = getattr(_s, "warmup" + "_cosine")

def warmup_cosine(step, base_lr, warmup_steps, total_steps, eta_min=0.0):
    return _w(step, base_lr, warmup_steps, total_steps, eta_min)
""",
    },
}
