"""Wrong solutions of chapter 01 (scalar autodiff): each must fail its part's tests."""

SLUG = "01_scalar_autodiff"

_ADD = """
def add_backward(grad, out, a, b):
    return grad, grad
"""
_MUL = """
def mul_backward(grad, out, a, b):
    return grad * b, grad * a
"""
_POW = """
def pow_backward(grad, out, a, n):
    return grad * n * a ** (n - 1)
"""
_EXP = """
def exp_backward(grad, out, a):
    return grad * out
"""
_LOG = """
def log_backward(grad, out, a):
    return grad / a
"""
_TANH = """
def tanh_backward(grad, out, a):
    return grad * (1.0 - out ** 2)
"""
_SIGMOID = """
def sigmoid_backward(grad, out, a):
    return grad * out * (1.0 - out)
"""
_RELU = """
def relu_backward(grad, out, a):
    return grad if a > 0 else 0.0
"""

_DFS = """
def topological_order(root, parents=value_parents):
    order, seen = [], set()
    def visit(v):
        if id(v) in seen:
            return
        seen.add(id(v))
        for p in parents(v):
            visit(p)
        order.append(v)
    visit(root)
    {tail}
"""

_TENSOR_HEAD = """
def tensor_backprop(root, grad, order=None):
    if order is None:
        order = tensor_order(root)
"""

_TENSOR_BODY = """
    grads = {id(root): grad}
    for t in order:
        g = grads.pop(id(t), None)
        if g is None:
            continue
        if t.grad_fn is None:
            t.grad = g if t.grad is None else t.grad + g
            continue
        for parent, pg in zip(t.grad_fn.inputs, t.grad_fn.backward(g)):
            if pg is None or not parent.requires_grad:
                continue
            grads[id(parent)] = pg if id(parent) not in grads else grads[id(parent)] + pg
"""

WRONG = {
    "add_mul": {
        "add_returns_inputs": """
def add_backward(grad, out, a, b):
    return a, b
"""
        + _MUL,
        "mul_swapped": _ADD
        + """
def mul_backward(grad, out, a, b):
    return grad * a, grad * b
""",
        "no_chain_rule_hidden_only": """
def add_backward(grad, out, a, b):
    return grad, grad

def mul_backward(grad, out, a, b):
    return (b, a) if grad == 1.0 else (grad * b, grad * a) if grad == -2.0 else (b, a)
""",
        "mul_forgets_grad": _ADD
        + """
def mul_backward(grad, out, a, b):
    return b, a
""",
    },
    "pow_exp_log": {
        "pow_wrong_exponent": """
def pow_backward(grad, out, a, n):
    return grad * n * a ** n
"""
        + _EXP
        + _LOG,
        "log_divides_by_output": _POW
        + _EXP
        + """
def log_backward(grad, out, a):
    return grad / out
""",
        "exp_derivative_one": _POW
        + """
def exp_backward(grad, out, a):
    return grad
"""
        + _LOG,
        # the local derivative alone: right only when the upstream gradient is 1
        "exp_forgets_grad": _POW
        + """
def exp_backward(grad, out, a):
    return out
"""
        + _LOG,
        "log_forgets_grad": _POW
        + _EXP
        + """
def log_backward(grad, out, a):
    return 1.0 / a
""",
        "pow_integer_only_hidden_only": """
def pow_backward(grad, out, a, n):
    return grad * n * a ** int(n - 1)
"""
        + _EXP
        + _LOG,
    },
    "activations": {
        "tanh_uses_input": """
def tanh_backward(grad, out, a):
    return grad * (1.0 - a ** 2)
"""
        + _SIGMOID
        + _RELU,
        "sigmoid_uses_input": _TANH
        + """
def sigmoid_backward(grad, out, a):
    return grad * a * (1.0 - a)
"""
        + _RELU,
        "relu_wrong_side": _TANH
        + _SIGMOID
        + """
def relu_backward(grad, out, a):
    return grad if a < 0 else 0.0
""",
        # the local derivative alone: right only when the upstream gradient is 1
        "tanh_forgets_grad": """
def tanh_backward(grad, out, a):
    return 1.0 - out ** 2
"""
        + _SIGMOID
        + _RELU,
        "relu_passes_at_zero_hidden_only": _TANH
        + _SIGMOID
        + """
def relu_backward(grad, out, a):
    return grad if a >= 0 else 0.0
""",
    },
    "topological_order": {
        "order_reversed": _DFS.format(tail="return order"),
        "visits_nodes_twice": """
def topological_order(root, parents=value_parents):
    order = []
    def visit(v):
        for p in parents(v):
            visit(p)
        order.append(v)
    visit(root)
    return order[::-1]
""",
        "breadth_first_not_topological": """
def topological_order(root, parents=value_parents):
    order, seen, queue = [], {id(root)}, [root]
    while queue:
        v = queue.pop(0)
        order.append(v)
        for p in parents(v):
            if id(p) not in seen:
                seen.add(id(p))
                queue.append(p)
    return order
""",
        "recursive_too_deep_hidden_only": _DFS.format(tail="return order[::-1]"),
        "delegates_to_reference": """
def topological_order(root, parents=value_parents):
    from minitorch_edu.core.autograd import topological_order as reference
    if isinstance(root, mt.Tensor):
        return reference(root)
    order, seen = [], set()
    def visit(v):
        if id(v) in seen:
            return
        seen.add(id(v))
        for p in parents(v):
            visit(p)
        order.append(v)
    visit(root)
    return order[::-1]
""",
    },
    "backprop": {
        "assigns_instead_of_accumulating": """
def backprop(order, grad=1.0):
    order[0].grad = grad
    for node in order:
        for parent, g in zip(node.parents, node.input_grads(node.grad)):
            parent.grad = g
""",
        "root_grad_always_one": """
def backprop(order, grad=1.0):
    order[0].grad += 1.0
    for node in order:
        for parent, g in zip(node.parents, node.input_grads(node.grad)):
            parent.grad += g
""",
        "walks_leaves_first": """
def backprop(order, grad=1.0):
    order[0].grad += grad
    for node in reversed(order):
        for parent, g in zip(node.parents, node.input_grads(node.grad)):
            parent.grad += g
""",
        # zeroing every .grad first: right for one call, but a second backward must add (PyTorch does)
        "resets_grads": """
def backprop(order, grad=1.0):
    for node in order:
        node.grad = 0.0
    order[0].grad = grad
    for node in order:
        for parent, g in zip(node.parents, node.input_grads(node.grad)):
            parent.grad += g
""",
        # the old reference: passes on node.grad, so a second call on one graph re-sends what the first
        # left in the interior nodes (a ** 4 at 3: 432 where PyTorch's two calls give 216)
        "propagates_stale_interior_grads": """
def backprop(order, grad=1.0):
    order[0].grad += grad
    for node in order:
        for parent, g in zip(node.parents, node.input_grads(node.grad)):
            parent.grad += g
""",
        # right gradients reach the leaves, but interior nodes (and the root) never record theirs
        "interior_grads_not_stored_hidden_only": """
def backprop(order, grad=1.0):
    grads = {id(order[0]): grad}
    for node in order:
        g = grads.pop(id(node), 0.0)
        if not node.parents:
            node.grad += g
        for parent, pg in zip(node.parents, node.input_grads(g)):
            grads[id(parent)] = grads.get(id(parent), 0.0) + pg
""",
        "delegates_to_reference": """
def backprop(order, grad=1.0):
    from minitorch_edu.core import autograd
    autograd.backpropagate(order[0], grad)
""",
    },
    "tensor_backprop": {
        "leaf_grad_assigned_hidden_only": _TENSOR_HEAD
        + """
    grads = {id(root): grad}
    for t in order:
        g = grads.pop(id(t), None)
        if g is None:
            continue
        if t.grad_fn is None:
            t.grad = g
            continue
        for parent, pg in zip(t.grad_fn.inputs, t.grad_fn.backward(g)):
            if pg is None or not parent.requires_grad:
                continue
            grads[id(parent)] = pg if id(parent) not in grads else grads[id(parent)] + pg
""",
        "interior_grads_overwritten": _TENSOR_HEAD
        + """
    grads = {id(root): grad}
    for t in order:
        g = grads.pop(id(t), None)
        if g is None:
            continue
        if t.grad_fn is None:
            t.grad = g if t.grad is None else t.grad + g
            continue
        for parent, pg in zip(t.grad_fn.inputs, t.grad_fn.backward(g)):
            if pg is None or not parent.requires_grad:
                continue
            grads[id(parent)] = pg
""",
        "root_grad_ignored_hidden_only": _TENSOR_HEAD
        + _TENSOR_BODY.replace("{id(root): grad}", "{id(root): grad * 0 + 1}"),
        "pushes_the_root_grad_everywhere": _TENSOR_HEAD
        + _TENSOR_BODY.replace("t.grad_fn.backward(g)", "t.grad_fn.backward(grad)"),
        "delegates_to_reference": _TENSOR_HEAD
        + """
    mt.core.autograd.backpropagate(root, grad)
""",
    },
}

_TRACE = '''
def trace(root, parents=value_parents):
    nodes, edges, seen, todo = [], [], set(), [root]
    while todo:
        v = todo.pop()
        if {seen_key} in seen:
            continue
        seen.add({seen_key})
        nodes.append(v)
        for p in parents(v):
            edges.append({edge})
            todo.append(p)
    return {result}
'''


def _trace(seen_key: str = "id(v)", edge: str = "(p, v)", result: str = "nodes, edges") -> str:
    return _TRACE.format(seen_key=seen_key, edge=edge, result=result)


WRONG["trace"] = {
    # no memory of visited nodes: a node reached along two paths is listed (and expanded) twice
    "no_seen_set": """
def trace(root, parents=value_parents):
    nodes, edges, todo = [], [], [root]
    while todo:
        v = todo.pop()
        nodes.append(v)
        for p in parents(v):
            edges.append((p, v))
            todo.append(p)
    return nodes, edges
""",
    # the pairs point from child to parent, against the flow of the data
    "edges_reversed": _trace(edge="(v, p)"),
    # only root and its direct parents: the graph stops at depth 1
    "stops_at_depth_one": """
def trace(root, parents=value_parents):
    nodes, edges = [root], []
    for p in parents(root):
        if all(p is not n for n in nodes):
            nodes.append(p)
        edges.append((p, root))
    return nodes, edges
""",
    # the root itself is left out of the nodes
    "misses_the_root": _trace(result="nodes[1:], edges"),
    # edges kept as a set: x * x gets one edge from x instead of two
    "edges_deduplicated": _trace(result="nodes, list(dict.fromkeys(edges))"),
    # nodes told apart by their data, not their identity: two leaves that are both 2.0 merge
    "seen_by_data_hidden_only": _trace(seen_key="v.data"),
    # v.parents instead of the `parents` argument: right for Values, wrong for any other graph
    "ignores_parents_argument_hidden_only": """
def trace(root, parents=value_parents):
    nodes, edges, seen, todo = [], [], set(), [root]
    while todo:
        v = todo.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        nodes.append(v)
        for p in v.parents:
            edges.append((p, v))
            todo.append(p)
    return nodes, edges
""",
    # only the nodes: the edges are left for the drawing to find
    "returns_nodes_only": _trace(result="nodes"),
}
