"""Gaussian (continuous) and categorical (discrete) MLP policies, and AWAC's and IQL's actor updates."""

from __future__ import annotations

import numpy as np
import torch
from torch import distributions, nn

from cs224r.infrastructure import pytorch_util as ptu
from cs224r.infrastructure.schedules import SCHEDULES, cosine_lr  # the one cosine schedule, shared with AWAC and BC

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


class MLPPolicy(nn.Module):
    """pi(a|s). Continuous: N(tanh(mean_net(s)), diag(exp(clamp(logstd)) * temperature)^2) with a
    learned state-independent ``logstd``. Discrete: Categorical(logits_net(s))."""

    def __init__(self, ob_dim: int, ac_dim: int, n_layers: int, size: int, discrete: bool = False,
                 learning_rate: float = 3e-4, grad_clip: float | None = 10.0) -> None:
        super().__init__()
        self.ob_dim, self.ac_dim, self.discrete = ob_dim, ac_dim, discrete
        self.grad_clip = grad_clip
        if discrete:
            self.logits_net = ptu.build_mlp(ob_dim, ac_dim, n_layers, size)
        else:
            self.mean_net = ptu.build_mlp(ob_dim, ac_dim, n_layers, size)
            self.logstd = nn.Parameter(torch.zeros(ac_dim))
        self.to(ptu.device)
        self.optimizer = torch.optim.Adam(self.parameters(), lr=learning_rate)

    def forward(self, observation: torch.Tensor, temperature: float = 1.0) -> distributions.Distribution:
        if self.discrete:
            return distributions.Categorical(logits=self.logits_net(observation), validate_args=False)
        mean = torch.tanh(self.mean_net(observation))
        std = torch.exp(self.logstd.clamp(LOG_STD_MIN, LOG_STD_MAX)) * temperature
        return distributions.MultivariateNormal(mean, scale_tril=torch.diag(std), validate_args=False)

    @torch.no_grad()
    def get_action(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Actions for a batch [B, ob_dim] (or one observation): a sample, or the mean / argmax."""
        single = np.asarray(obs).ndim == 1
        ob = ptu.from_numpy(np.atleast_2d(obs).astype(np.float32))
        if deterministic:
            action = self.logits_net(ob).argmax(-1) if self.discrete else torch.tanh(self.mean_net(ob))
        else:
            action = self(ob).sample()
        action = ptu.to_numpy(action)
        return action[0] if single else action

    def _step(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad()
        loss.backward()
        if self.grad_clip:
            nn.utils.clip_grad_norm_(self.parameters(), self.grad_clip)
        self.optimizer.step()


class MLPPolicyAWAC(MLPPolicy):
    """AWAC actor: maximise the advantage-weighted log-likelihood of dataset actions."""

    def __init__(self, *args, lambda_awac: float = 0.3, max_weight: float = 50.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lambda_awac = lambda_awac
        self.max_weight = max_weight

    def awac_weights(self, adv: torch.Tensor) -> torch.Tensor:
        """exp(A / lambda), clamped at ``max_weight``; no gradient flows into A."""
        # BEGIN SOLUTION awac_weights
        weights = torch.exp(adv.detach() / self.lambda_awac).clamp(max=self.max_weight)
        # END SOLUTION
        return weights

    def update(self, observations: torch.Tensor, actions: torch.Tensor, adv: torch.Tensor) -> torch.Tensor:
        """One gradient step on -(log pi(a|s) * exp(A/lambda)).mean(); returns the detached loss."""
        log_prob = self(observations).log_prob(actions)
        weights = self.awac_weights(adv)
        if log_prob.shape != weights.shape:
            raise ValueError(f"log_prob {tuple(log_prob.shape)} and weights {tuple(weights.shape)} must both be [B]")
        actor_loss = -(log_prob * weights).mean()
        self._step(actor_loss)
        return actor_loss.detach()


class MLPPolicyIQL(MLPPolicy):
    """IQL actor: advantage-weighted regression with weights exp(beta * (Q_target(s, a) - V(s))),
    clamped at ``max_weight``, and a cosine-decayed learning rate over ``total_steps`` updates."""

    def __init__(self, *args, beta: float = 10.0, max_weight: float = 100.0, total_steps: int = 1_000_000,
                 lr_schedule: str = "cosine", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if lr_schedule not in SCHEDULES:
            raise ValueError(f"unknown actor lr schedule '{lr_schedule}'; use cosine or constant")
        if beta < 0:
            raise ValueError(f"the temperature beta must be >= 0 (0 is behaviour cloning), got {beta}")
        self.beta, self.max_weight = beta, max_weight
        self.total_steps, self.lr_schedule = total_steps, lr_schedule
        self.base_lr = self.optimizer.param_groups[0]["lr"]
        self.num_updates = 0  # saved by the agent's state_dict so a resumed run continues the schedule

    def current_lr(self) -> float:
        if self.lr_schedule == "constant":
            return self.base_lr
        return cosine_lr(self.base_lr, self.num_updates, self.total_steps)

    def iql_weights(self, q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """exp(beta * (Q_target(s, a) - V(s))), clamped at ``max_weight``; no gradient flows into Q or V."""
        # BEGIN SOLUTION iql_weights
        weights = torch.exp(self.beta * (q.detach() - v.detach())).clamp(max=self.max_weight)
        # END SOLUTION
        return weights

    def update(self, observations: torch.Tensor, actions: torch.Tensor, q: torch.Tensor,
               v: torch.Tensor) -> dict[str, torch.Tensor]:
        """One step on -(log pi(a|s) * weights).mean() at the scheduled lr; returns detached loss and lr."""
        lr = self.current_lr()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        log_prob = self(observations).log_prob(actions)
        weights = self.iql_weights(q, v)
        if log_prob.shape != weights.shape:
            raise ValueError(f"log_prob {tuple(log_prob.shape)} and weights {tuple(weights.shape)} must both be [B]")
        actor_loss = -(log_prob * weights).mean()
        self._step(actor_loss)
        self.num_updates += 1
        return {"Actor Loss": actor_loss.detach(), "Actor LR": torch.tensor(lr), "Weight Mean": weights.mean()}
