"""Elementwise math whose results are the same bits on every CPU.

A generated dataset is a long chaotic simulation: a last-bit difference in one action grows, through
the ant's contacts, into another trajectory. BLAS matrix products (torch's, numpy's) choose their kernels,
and with them the order of their sums, by CPU, and numpy's ``exp``, ``tanh`` and ``arctan2`` choose SIMD
code by CPU feature; either gives a file other bytes on another CPU. The functions here use only
IEEE-754 operations that are exactly rounded everywhere (``+ - * /``, ``sqrt``, ``rint``, ``ldexp``),
in a fixed order, so the generator's own arithmetic does not depend on the CPU.
"""

from __future__ import annotations

import math

import numpy as np

# exp(r) = sum r^k / k! for |r| <= ln(2) / 2: 14 terms leave a relative error below 1e-17
_EXP_COEFFS = [1.0 / math.factorial(k) for k in range(14)][::-1]
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10  # ln 2 = HI + LO, n * HI exact
# atan(z) = sum (-1)^k z^(2k+1) / (2k+1) for |z| <= tan(pi/8): 22 terms leave an error below 1e-17
_ATAN_COEFFS = [(-1.0) ** k / (2 * k + 1) for k in range(22)][::-1]
_TAN_PI_8 = math.sqrt(2.0) - 1.0


def portable_tanh(x: np.ndarray) -> np.ndarray:
    """tanh of a float64 array (absolute error below 1e-15)."""
    a = -2.0 * np.minimum(np.abs(x), 20.0)
    n = np.rint(a / _LN2_HI)
    r = (a - n * _LN2_HI) - n * _LN2_LO
    p = np.full_like(r, _EXP_COEFFS[0])
    for c in _EXP_COEFFS[1:]:
        p = p * r + c
    e = np.ldexp(p, n.astype(np.int32))  # exp(-2|x|)
    return np.copysign((1.0 - e) / (1.0 + e), x)


def portable_arctan2(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The angle of (x, y) in [-pi, pi] like ``np.arctan2`` (0 at the origin; error below 1e-15)."""
    y, x = np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64)
    ax, ay = np.abs(x), np.abs(y)
    steep = ay > ax
    big = np.where(steep, ay, ax)
    z = np.where(big > 0, np.where(steep, ax, ay) / np.where(big > 0, big, 1.0), 0.0)  # in [0, 1]
    far = z > _TAN_PI_8
    z = np.where(far, (z - 1.0) / (z + 1.0), z)  # atan(z) = pi/4 + atan((z - 1) / (z + 1))
    z2 = z * z
    p = np.full_like(z, _ATAN_COEFFS[0])
    for c in _ATAN_COEFFS[1:]:
        p = p * z2 + c
    angle = np.where(far, math.pi / 4, 0.0) + p * z
    angle = np.where(steep, math.pi / 2 - angle, angle)
    angle = np.where(x < 0, math.pi - angle, angle)
    return np.copysign(angle, y)


def portable_mlp(x: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """A tanh MLP in float64 with each dot product summed term by term in a fixed order; ``layers`` holds
    each layer's transposed weight [in, out] and bias [out]. About 10 ms for 200 rows of a 32-128-128-8
    network on one core, against 0.2 ms for torch: a minute per million generated transitions."""
    for i, (w_t, b) in enumerate(layers):
        acc = np.repeat(b[None], len(x), axis=0)
        term = np.empty_like(acc)
        for x_k, w_k in zip(np.ascontiguousarray(x.T), w_t):
            np.multiply(x_k[:, None], w_k, out=term)
            acc += term
        x = portable_tanh(acc) if i < len(layers) - 1 else acc
    return x
