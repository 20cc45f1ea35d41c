"""Wrong solutions for chapter 00 (why frameworks): the mistakes of a first hand-written backward pass."""

SLUG = "00_why_frameworks"

WRONG = {
    "forward": {
        "relu_on_logits": '''
def forward(X, params):
    z1 = X @ params["W1"] + params["b1"]
    h1 = np.maximum(z1, 0.0)
    logits = np.maximum(h1 @ params["W2"] + params["b2"], 0.0)
    return logits, {"X": X, "z1": z1, "h1": h1}
''',
        "bias_after_relu": '''
def forward(X, params):
    z1 = X @ params["W1"]
    h1 = np.maximum(z1, 0.0) + params["b1"]
    logits = h1 @ params["W2"] + params["b2"]
    return logits, {"X": X, "z1": z1, "h1": h1}
''',
        "pytorch_weight_layout": '''
def forward(X, params):
    z1 = X @ params["W1"].T + params["b1"]
    h1 = np.maximum(z1, 0.0)
    logits = h1 @ params["W2"].T + params["b2"]
    return logits, {"X": X, "z1": z1, "h1": h1}
''',
        "no_output_bias": '''
def forward(X, params):
    z1 = X @ params["W1"] + params["b1"]
    h1 = np.maximum(z1, 0.0)
    return h1 @ params["W2"], {"X": X, "z1": z1, "h1": h1}
''',
        "relu_in_place_overwrites_z1_hidden_only": '''
def forward(X, params):
    z1 = X @ params["W1"] + params["b1"]
    h1 = np.maximum(z1, 0.0, out=z1)  # saves memory, but the cache's z1 is now h1
    logits = h1 @ params["W2"] + params["b2"]
    return logits, {"X": X, "z1": z1, "h1": h1}
''',
        # the cache holds what the visible checks read, but not the input the backward pass needs
        "cache_without_X_hidden_only": '''
def forward(X, params):
    z1 = X @ params["W1"] + params["b1"]
    h1 = np.maximum(z1, 0.0)
    return h1 @ params["W2"] + params["b2"], {"z1": z1, "h1": h1}
''',
        "delegates_to_reference": '''
def forward(X, params):
    import minitorch_edu.nn.functional as F
    x = mt.tensor(X)
    z1 = F.linear(x, mt.tensor(params["W1"].T), mt.tensor(params["b1"]))
    h1 = z1.relu()
    logits = F.linear(h1, mt.tensor(params["W2"].T), mt.tensor(params["b2"]))
    return logits.numpy(), {"X": X, "z1": z1.numpy(), "h1": h1.numpy()}
''',
    },
    "cross_entropy_loss": {
        "unstable_no_shift": '''
def cross_entropy_loss(logits, y):
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return float(np.mean(-np.log(p[np.arange(len(y)), y])))
''',
        "sum_not_mean": '''
def cross_entropy_loss(logits, y):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1))
    return float(np.sum(log_sum - shifted[np.arange(len(y)), y]))
''',
        "clipped_log": '''
def cross_entropy_loss(logits, y):
    shifted = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    return float(np.mean(-np.log(p[np.arange(len(y)), y] + 1e-12)))
''',
        "wrong_fancy_index": '''
def cross_entropy_loss(logits, y):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1))
    return float(np.mean(log_sum - shifted[:, y]))
''',
        "global_max_shift_hidden_only": '''
def cross_entropy_loss(logits, y):
    shifted = logits - logits.max()  # one shift for the whole batch: rows far below it underflow
    log_sum = np.log(np.exp(shifted).sum(axis=1))
    return float(np.mean(log_sum - shifted[np.arange(len(y)), y]))
''',
        "delegates_to_reference": '''
def cross_entropy_loss(logits, y):
    import minitorch_edu.nn.functional as F
    return float(F.cross_entropy(mt.tensor(logits), mt.tensor(y)).item())
''',
    },
    "cross_entropy_grad": {
        "not_divided_by_batch": '''
def cross_entropy_grad(logits, y):
    shifted = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1.0
    return p
''',
        "onehot_minus_softmax": '''
def cross_entropy_grad(logits, y):
    shifted = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    return (np.eye(logits.shape[1])[y] - p) / len(y)
''',
        "softmax_only": '''
def cross_entropy_grad(logits, y):
    shifted = logits - logits.max(axis=1, keepdims=True)
    return np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True) / len(y)
''',
        "unstable_softmax": '''
def cross_entropy_grad(logits, y):
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1.0
    return p / len(y)
''',
        "divided_by_classes": '''
def cross_entropy_grad(logits, y):
    shifted = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1.0
    return p / logits.shape[1]
''',
        "shifts_logits_in_place_hidden_only": '''
def cross_entropy_grad(logits, y):
    logits -= logits.max(axis=1, keepdims=True)  # changes the caller's array
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1.0
    return p / len(y)
''',
        "delegates_to_reference": '''
def cross_entropy_grad(logits, y):
    import minitorch_edu.nn.functional as F
    s = mt.tensor(logits, requires_grad=True)
    F.cross_entropy(s, mt.tensor(y)).backward()
    return s.grad.numpy()
''',
    },
    "linear_backward": {
        "forgot_bias_gradient": '''
def linear_backward(dout, x, W):
    return dout @ W.T, x.T @ dout, np.zeros(dout.shape[1])
''',
        "bias_gradient_none": '''
def linear_backward(dout, x, W):
    return dout @ W.T, x.T @ dout, None
''',
        "bias_gradient_mean": '''
def linear_backward(dout, x, W):
    return dout @ W.T, x.T @ dout, dout.mean(axis=0)
''',
        # dout @ W: NumPy's matmul refuses the shapes (3, 4) @ (2, 4), the check says so with the call
        "dx_without_transpose": '''
def linear_backward(dout, x, W):
    return dout @ W, x.T @ dout, dout.sum(axis=0)
''',
        "transposed_weight_gradient": '''
def linear_backward(dout, x, W):
    return dout @ W.T, dout.T @ x, dout.sum(axis=0)
''',
        "weight_gradient_divided_by_batch": '''
def linear_backward(dout, x, W):
    return dout @ W.T, x.T @ dout / len(x), dout.sum(axis=0)
''',
        "bias_gradient_keepdims": '''
def linear_backward(dout, x, W):
    return dout @ W.T, x.T @ dout, dout.sum(axis=0, keepdims=True)
''',
        "delegates_to_reference": '''
def linear_backward(dout, x, W):
    import minitorch_edu.nn.functional as F
    xt, Wt = mt.tensor(x, requires_grad=True), mt.tensor(W.T.copy(), requires_grad=True)
    b = mt.tensor(np.zeros(W.shape[1]), requires_grad=True)
    (F.linear(xt, Wt, b) * mt.tensor(dout)).sum().backward()
    return xt.grad.numpy(), Wt.grad.numpy().T, b.grad.numpy()
''',
    },
    "relu_backward": {
        "masked_by_dout_sign": '''
def relu_backward(dout, z):
    return dout * (dout > 0)
''',
        "relu_of_dout": '''
def relu_backward(dout, z):
    return np.maximum(dout, 0)
''',
        "mask_without_dout": '''
def relu_backward(dout, z):
    return (z > 0).astype(float)
''',
        "times_input": '''
def relu_backward(dout, z):
    return dout * np.maximum(z, 0)
''',
        "slope_one_at_zero_hidden_only": '''
def relu_backward(dout, z):
    return dout * (z >= 0)
''',
        "delegates_to_reference": '''
def relu_backward(dout, z):
    zt = mt.tensor(z, requires_grad=True)
    (mt.relu(zt) * mt.tensor(dout)).sum().backward()
    return zt.grad.numpy()
''',
    },
    "backward": {
        "first_bias_forgotten": '''
def backward(logits, y, params, cache):
    dlogits = cross_entropy_grad(logits, y)
    dh1, dW2, db2 = linear_backward(dlogits, cache["h1"], params["W2"])
    dz1 = relu_backward(dh1, cache["z1"])
    _, dW1, _ = linear_backward(dz1, cache["X"], params["W1"])
    return {"W1": dW1, "b1": np.zeros_like(params["b1"]), "W2": dW2, "b2": db2}
''',
        "relu_skipped": '''
def backward(logits, y, params, cache):
    dlogits = cross_entropy_grad(logits, y)
    dh1, dW2, db2 = linear_backward(dlogits, cache["h1"], params["W2"])
    _, dW1, db1 = linear_backward(dh1, cache["X"], params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
''',
        "second_layer_input_before_relu": '''
def backward(logits, y, params, cache):
    dlogits = cross_entropy_grad(logits, y)
    dh1, dW2, db2 = linear_backward(dlogits, cache["z1"], params["W2"])
    dz1 = relu_backward(dh1, cache["z1"])
    _, dW1, db1 = linear_backward(dz1, cache["X"], params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
''',
        "divided_by_batch_twice": '''
def backward(logits, y, params, cache):
    dlogits = cross_entropy_grad(logits, y) / len(y)
    dh1, dW2, db2 = linear_backward(dlogits, cache["h1"], params["W2"])
    dz1 = relu_backward(dh1, cache["z1"])
    _, dW1, db1 = linear_backward(dz1, cache["X"], params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
''',
        "delegates_to_reference": '''
def backward(logits, y, params, cache):
    import minitorch_edu.nn.functional as F
    p = {k: mt.tensor(v if v.ndim == 1 else v.T.copy(), requires_grad=True) for k, v in params.items()}
    h1 = F.linear(mt.tensor(cache["X"]), p["W1"], p["b1"]).relu()
    F.cross_entropy(F.linear(h1, p["W2"], p["b2"]), mt.tensor(y)).backward()
    return {k: (t.grad.numpy() if params[k].ndim == 1 else t.grad.numpy().T) for k, t in p.items()}
''',
    },
    "numerical_gradient": {
        "one_sided_difference": '''
def numerical_gradient(f, x, eps=1e-5):
    grad = np.zeros(x.shape)
    f0 = f(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + eps
        grad[index] = (f(x) - f0) / eps
        x[index] = old
    return grad
''',
        "eps_too_large": '''
def numerical_gradient(f, x, eps=1e-5):
    h = 1e-2  # "a small step"
    grad = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + h
        f_plus = f(x)
        x[index] = old - h
        f_minus = f(x)
        x[index] = old
        grad[index] = (f_plus - f_minus) / (2 * h)
    return grad
''',
        "divided_by_eps_not_two_eps": '''
def numerical_gradient(f, x, eps=1e-5):
    grad = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + eps
        f_plus = f(x)
        x[index] = old - eps
        f_minus = f(x)
        x[index] = old
        grad[index] = (f_plus - f_minus) / eps
    return grad
''',
        "only_one_dimensional": '''
def numerical_gradient(f, x, eps=1e-5):
    grad = np.zeros(x.shape)
    for i in range(len(x)):
        old = x[i].copy()
        x[i] = old + eps
        f_plus = f(x)
        x[i] = old - eps
        f_minus = f(x)
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad
''',
        "flat_view_of_a_copy_hidden_only": '''
def numerical_gradient(f, x, eps=1e-5):
    flat = x.reshape(-1)  # a view for contiguous x, a silent copy otherwise
    grad = np.zeros(flat.shape)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        f_plus = f(x)
        flat[i] = old - eps
        f_minus = f(x)
        flat[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad.reshape(x.shape)
''',
        "x_not_restored_hidden_only": '''
def numerical_gradient(f, x, eps=1e-5):
    grad = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        x[index] += eps
        f_plus = f(x)
        x[index] -= 2 * eps
        f_minus = f(x)
        grad[index] = (f_plus - f_minus) / (2 * eps)
    return grad
''',
        "delegates_to_reference": '''
def numerical_gradient(f, x, eps=1e-5):
    from minitorch_edu.core import gradcheck
    fn = lambda t: mt.tensor(np.array(f(t.numpy().astype(np.float64))))
    return gradcheck.numerical_grad(fn, [mt.tensor(x)], 0, eps)
''',
    },
    "gradient_descent": {
        "gradient_ascent": '''
def gradient_descent(params, loss_and_grads, lr, steps):
    losses = []
    for _ in range(steps):
        loss, grads = loss_and_grads(params)
        for name in params:
            params[name] += lr * grads[name]
        losses.append(float(loss))
    return losses
''',
        "loss_recorded_after_update": '''
def gradient_descent(params, loss_and_grads, lr, steps):
    losses = []
    for _ in range(steps):
        _, grads = loss_and_grads(params)
        for name in params:
            params[name] -= lr * grads[name]
        losses.append(float(loss_and_grads(params)[0]))
    return losses
''',
        "update_does_not_stick": '''
def gradient_descent(params, loss_and_grads, lr, steps):
    losses = []
    for _ in range(steps):
        loss, grads = loss_and_grads(params)
        for name, value in params.items():
            value = value - lr * grads[name]
        losses.append(float(loss))
    return losses
''',
        "one_step_short": '''
def gradient_descent(params, loss_and_grads, lr, steps):
    losses = []
    for _ in range(steps - 1):
        loss, grads = loss_and_grads(params)
        for name in params:
            params[name] -= lr * grads[name]
        losses.append(float(loss))
    return losses
''',
        "only_first_parameter_hidden_only": '''
def gradient_descent(params, loss_and_grads, lr, steps):
    losses = []
    first = next(iter(params))
    for _ in range(steps):
        loss, grads = loss_and_grads(params)
        params[first] -= lr * grads[first]
        losses.append(float(loss))
    return losses
''',
        "delegates_to_reference": '''
def gradient_descent(params, loss_and_grads, lr, steps):
    tensors = {k: mt.tensor(v, requires_grad=True) for k, v in params.items()}
    opt = mt.optim.SGD(list(tensors.values()), lr=lr)
    losses = []
    for _ in range(steps):
        loss, grads = loss_and_grads({k: t.numpy() for k, t in tensors.items()})
        for k, t in tensors.items():
            t.grad = mt.tensor(grads[k])
        opt.step()
        losses.append(float(loss))
    for k, t in tensors.items():
        params[k][...] = t.numpy()
    return losses
''',
    },
}
