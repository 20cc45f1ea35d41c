"""The tensor core: shapes and strides, the Tensor class, autograd and the differentiable ops."""
