"""What the PyTorch sides of the benches share to build tfgen's networks and
take Keras' optimizer steps in plain PyTorch (no TensorFlow).

- `keras_init`: Glorot-uniform kernels and zero biases, Keras' `Dense` and
  `Conv2D` defaults (torch's `xavier_uniform_` takes a conv's fans as Keras
  does, kh kw c_in and kh kw c_out).
- `mlp`, `conv`: Linear layers with an activation between, and 3x3 convs
  padded as Keras' "same" (on even sizes a stride-2 conv pads one zero row
  and column at the bottom and right).
- `keras_adam_step_settings`: the learning rate of Keras' `CosineDecay` at
  a step and torch's Adam eps that gives Keras' update there: Keras adds
  eps to sqrt(v) before the bias correction (lr sqrt(1 - b2^t) / (1 - b1^t)
  m / (sqrt(v) + eps)), torch after, to sqrt(v / (1 - b2^t)); the same
  step needs eps / sqrt(1 - b2^t).
"""

import math

from torch import nn

__all__ = ["KERAS_EPS", "conv", "keras_adam_step_settings", "keras_init", "mlp"]

KERAS_EPS = 1e-7  # Keras' Adam epsilon


def keras_init(layer):
    """`layer` (a `Linear` or `Conv2d`) initialized as Keras' Dense and Conv2D."""
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def mlp(sizes, activation=nn.ReLU):
    """Linear layers of `sizes` with `activation()` between, initialized as
    Keras' Dense."""
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [keras_init(nn.Linear(fan_in, fan_out)), activation()]
    return nn.Sequential(*layers[:-1])


def conv(in_channels, out_channels, stride=1):
    """A 3x3 conv with Keras' "same" padding on even sizes."""
    if stride == 1:
        return keras_init(nn.Conv2d(in_channels, out_channels, 3, padding="same"))
    return nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)),
                         keras_init(nn.Conv2d(in_channels, out_channels, 3, stride=stride)))


def keras_adam_step_settings(optimizer, lr, step, total, beta_2, eps=KERAS_EPS):
    """Sets `optimizer`'s (a torch Adam's) learning rate to Keras'
    `CosineDecay(lr, total)` at `step` (0-based: the updates made so far)
    and its eps to the one that makes its next update Keras'."""
    for group in optimizer.param_groups:
        group["lr"] = lr * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))
        group["eps"] = eps / math.sqrt(1.0 - beta_2 ** (step + 1))
