"""Shared by the tests of the students' blanks: messages that name the blank, hand-written references
(a Gaussian log-likelihood, one Adam step on a copy of the networks) and small random networks."""

from __future__ import annotations

import contextlib
import copy
import math

import torch
from torch import nn


@contextlib.contextmanager
def blank(name: str):
    """Turn an error raised inside the block into a test failure that names the blank being checked."""
    try:
        yield
    except AssertionError:
        raise
    except Exception as err:  # noqa: BLE001 - any crash in a student's code is reported against its blank
        raise AssertionError(f"{name}: {type(err).__name__}: {err}") from err


def gaussian_log_prob(mean: torch.Tensor, std: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """log N(actions; mean, diag(std)^2), summed over the action dimensions: [B]."""
    z = (actions - mean) / std
    return (-0.5 * z.pow(2) - torch.log(std) - 0.5 * math.log(2 * math.pi)).sum(-1)


def policy_log_prob(policy, ob: torch.Tensor, ac: torch.Tensor) -> torch.Tensor:
    """log pi(a|s) of an MLPPolicy written out by hand (tanh mean, clamped state-independent log-std)."""
    if policy.discrete:
        logits = policy.logits_net(ob)
        return (logits - logits.logsumexp(-1, keepdim=True)).gather(1, ac.long().view(-1, 1)).squeeze(1)
    std = torch.exp(policy.logstd.clamp(-5.0, 2.0))
    return gaussian_log_prob(torch.tanh(policy.mean_net(ob)), std, ac)


def q_value(net: nn.Module, ob: torch.Tensor, ac: torch.Tensor) -> torch.Tensor:
    """Q(s, a) of one continuous-action Q-network, [B]."""
    return net(torch.cat([ob, ac], -1))[:, 0]


def adam_step(params: list[nn.Parameter], optimizer: torch.optim.Optimizer, loss: torch.Tensor,
              max_grad_norm: float | None) -> None:
    """What the starter code does after each blank: zero_grad, backward, clip, step."""
    optimizer.zero_grad()
    loss.backward()
    if max_grad_norm:
        nn.utils.clip_grad_norm_(params, max_grad_norm)
    optimizer.step()


def twin(module):
    """An independent copy (weights and optimizer state) to run the hand reference on."""
    return copy.deepcopy(module)


def perturb(*modules: nn.Module, scale: float = 0.3, seed: int = 5) -> None:
    """Add noise to the weights so that, e.g., target nets differ from the online nets."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in modules:
            for p in m.parameters():
                p.add_(scale * torch.randn(p.shape, generator=g).to(p.device))


def assert_same_params(got: nn.Module, want: nn.Module, message: str, atol: float = 1e-5) -> None:
    """Every parameter of ``got`` equals ``want``'s (up to float rounding), else fail with ``message``."""
    for (name, p), q in zip(got.named_parameters(), want.parameters()):
        diff = float((p.detach() - q.detach()).abs().max())
        assert diff <= atol + 1e-4 * float(q.detach().abs().max()), f"{message} (parameter {name} off by {diff:.3g})"


def no_grad_reached(*modules: nn.Module) -> bool:
    return all(p.grad is None or not bool(p.grad.abs().sum()) for m in modules for p in m.parameters())
