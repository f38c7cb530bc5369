"""Stacked ("ensemble") MLPs: E copies of one architecture evaluated with batched matrix multiplies.

A layer's weight is held as ``W [E, in, out]`` (the transpose of ``nn.Linear.weight`` for each member)
and its bias as ``b [E, 1, out]``, so a layer is ``b + x @ W`` (``torch.baddbmm``) on inputs ``x [E, N, in]``.
Each member computes exactly what its own ``nn.Sequential`` of Linear/ReLU layers computes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

LOG_2PI = math.log(2.0 * math.pi)


def linear_layers(mlp: nn.Sequential) -> list[nn.Linear]:
    """The ``nn.Linear`` layers of an MLP built by ``ptu.build_mlp`` (ReLU between them)."""
    layers = [m for m in mlp if isinstance(m, nn.Linear)]
    others = [m for m in mlp if not isinstance(m, (nn.Linear, nn.ReLU))]
    if others:
        raise ValueError(f"the fast path supports Linear/ReLU MLPs only, found {type(others[0]).__name__}")
    return layers


def stack_mlps(mlps: Sequence[nn.Sequential], device: torch.device | str) -> list[torch.Tensor]:
    """[W0, b0, W1, b1, ...] stacked over ``mlps`` (member e = mlps[e]), as new leaf tensors."""
    per_member = [linear_layers(m) for m in mlps]
    params: list[torch.Tensor] = []
    for layer_idx in range(len(per_member[0])):
        layers = [member[layer_idx] for member in per_member]
        params.append(torch.stack([lin.weight.detach().t() for lin in layers]).contiguous().to(device))
        params.append(torch.stack([lin.bias.detach()[None, :] for lin in layers]).contiguous().to(device))
    return params


def unstack_into(params: Sequence[torch.Tensor], member: int, mlp: nn.Sequential) -> None:
    """Copy member ``member`` of stacked ``params`` into the ``nn.Sequential`` ``mlp``."""
    with torch.no_grad():
        for lin, W, b in zip(linear_layers(mlp), params[0::2], params[1::2]):
            lin.weight.copy_(W[member].t())
            lin.bias.copy_(b[member, 0])


def mlp_forward(params: Sequence[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """All members at once: ``x [E, N, in] -> [E, N, out]``, ReLU between layers."""
    n_layers = len(params) // 2
    cpu = x.device.type == "cpu"
    for i in range(n_layers):
        W, b = params[2 * i], params[2 * i + 1]
        # a CPU adds the bias faster to the product it just wrote than baddbmm copies it in beforehand (3% of
        # a 3-seed step; the same numbers here); a GPU step keeps baddbmm
        x = torch.bmm(x, W).add_(b) if cpu else torch.baddbmm(b, x, W)
        if i < n_layers - 1:
            x = torch.relu_(x)  # in place: the multiply's backward does not need its output
    return x


def diag_gaussian_log_prob(action: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """log N(action; mean, diag(std)^2) summed over the last axis: the value (and gradient) of
    ``MultivariateNormal(mean, scale_tril=diag(std)).log_prob(action)`` without the triangular solve.

    ``std`` broadcasts against ``mean`` (e.g. [S, 1, A] against [S, B, A])."""
    z = (action - mean) / std
    k = action.shape[-1]
    return -0.5 * (k * LOG_2PI + z.pow(2).sum(-1)) - std.log().sum(-1)


class MemberGradClip:
    """``nn.utils.clip_grad_norm_`` for each member separately.

    ``shapes[i]`` is a stacked tensor's shape, viewed as ``member_dims[i] + (n_members, -1)``: the leading
    groups (e.g. the two Q-nets of a seed, stacked as [2, S, ...]) belong to the same member and count
    towards its norm. As in ``clip_grad_norm_``: coefficient max_norm / (norm + 1e-6) clamped at 1.
    Two layouts of the same arithmetic: per tensor (a norm and an in-place scale per tensor, no copies:
    the cheaper on a CPU), or ``flat`` (one copy of all gradients, each member's norm as one matrix-vector
    product with a 0/1 ownership matrix, one scale: a fixed handful of kernels however many tensors,
    which is what a GPU step pays for). The norms agree with ``clip_grad_norm_``'s up to rounding.
    """

    def __init__(self, shapes: Sequence[torch.Size], member_dims: Sequence[tuple[int, ...]], n_members: int,
                 max_norm: float, device: torch.device | str, flat: bool = False) -> None:
        self.shapes = [torch.Size(s) for s in shapes]
        self.member_dims, self.n_members, self.max_norm, self.flat = list(member_dims), n_members, max_norm, flat
        if flat:
            owners = []
            for shape, lead in zip(self.shapes, self.member_dims):
                groups = math.prod(lead)
                owners.append(torch.arange(n_members).repeat_interleave(shape.numel() // (groups * n_members))
                              .repeat(groups))
            owner = torch.cat(owners)
            self.owner = owner.to(device)  # [P]: the member each flat gradient entry belongs to
            self.ownership = torch.nn.functional.one_hot(owner, n_members).t().float().contiguous().to(device)

    def _coef(self, norms: torch.Tensor) -> torch.Tensor:
        return (self.max_norm / (norms + 1e-6)).clamp_(max=1.0)

    def __call__(self, grads: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The clipped gradients and the [n_members] norms. Flat: new tensors, ``grads`` left as they are;
        per tensor: ``grads`` scaled in place (contiguous ones; others are copied first) and returned."""
        M = self.n_members
        if self.flat:
            flat = torch.cat([g.reshape(-1) for g in grads])
            norms = torch.mv(self.ownership, flat * flat).sqrt_()
            flat.mul_(self._coef(norms).index_select(0, self.owner))
            out, start = [], 0
            for shape in self.shapes:
                out.append(flat[start:start + shape.numel()].view(shape))
                start += shape.numel()
            return out, norms
        out = [g.contiguous() for g in grads]
        views = [g.view(*lead, M, -1) for g, lead in zip(out, self.member_dims)]  # share out's storage
        per_tensor = [torch.linalg.vector_norm(v, 2, dim=-1).reshape(-1, M) for v in views]
        norms = torch.linalg.vector_norm(torch.cat(per_tensor, 0), 2, dim=0)  # [M]
        coef = self._coef(norms)
        for v, lead in zip(views, self.member_dims):  # in place: no new gradient tensors (3% of a CPU step)
            v.mul_(coef.view(*([1] * len(lead)), M, 1))
        return out, norms
