"""Gaussian (continuous) and categorical (discrete) MLP policies, and AWAC's and IQL's actor updates."""

from __future__ import annotations

import numpy as np
import torch
from torch import distributions, nn

from cs224r.infrastructure import pytorch_util as ptu
from cs224r.infrastructure.schedules import SCHEDULES, LRSchedule, cosine_lr  # noqa: F401 (cosine_lr: for the tests)

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


class MLPPolicy(nn.Module):
    """pi(a|s). Continuous: N(tanh(mean_net(s)), diag(exp(clamp(logstd)) * temperature)^2) with a
    learned state-independent ``logstd``. Discrete: Categorical(logits_net(s))."""

    def __init__(self, ob_dim: int, ac_dim: int, n_layers: int, size: int, discrete: bool = False,
                 learning_rate: float = 3e-4, max_grad_norm: float | None = 10.0) -> None:
        super().__init__()
        self.ob_dim, self.ac_dim, self.discrete = ob_dim, ac_dim, discrete
        self.max_grad_norm = max_grad_norm  # 0 or None: no clipping
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
        """zero_grad, backward, clip the gradient norm at ``max_grad_norm``, Adam step."""
        self.optimizer.zero_grad()
        loss.backward()
        if self.max_grad_norm:
            nn.utils.clip_grad_norm_(self.parameters(), self.max_grad_norm)
        self.optimizer.step()


class MLPPolicyAWAC(MLPPolicy):
    """AWAC actor: maximise the advantage-weighted log-likelihood of dataset actions."""

    def __init__(self, *args, lambda_awac: float = 0.3, max_weight: float = 50.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lambda_awac = lambda_awac
        self.max_weight = max_weight

    def update(self, observations: torch.Tensor, actions: torch.Tensor,
               adv_n: torch.Tensor | None = None) -> torch.Tensor:
        """One step on -(log pi(a|s) * min(exp(A / lambda), max_weight)).mean(); returns the detached loss."""
        observations, actions = ptu.from_numpy(observations), ptu.from_numpy(actions, _action_dtype(self))
        if adv_n is None:
            raise ValueError("MLPPolicyAWAC.update needs the advantages: update(ob_no, ac_na, adv_n=adv_n)")
        adv_n = ptu.from_numpy(adv_n)
        dist = self(observations)
        log_prob_n = dist.log_prob(actions)

        # BEGIN SOLUTION exp_weights
        exp_weights = torch.exp(adv_n / self.lambda_awac)
        # END SOLUTION
        exp_weights = exp_weights.clamp(max=self.max_weight)
        if exp_weights.shape != log_prob_n.shape:
            raise ValueError(f"exp_weights {tuple(exp_weights.shape)} and log_prob_n {tuple(log_prob_n.shape)} "
                             "must both be [B]")
        actor_loss = -(log_prob_n * exp_weights).mean()

        self.optimizer.zero_grad()
        actor_loss.backward()
        if self.max_grad_norm:
            nn.utils.clip_grad_norm_(self.parameters(), self.max_grad_norm)
        self.optimizer.step()
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
        self.schedule = LRSchedule(self.optimizer, lr_schedule, total_steps)

    @property
    def num_updates(self) -> int:
        """Actor updates so far; saved by the agent's state_dict so a resumed run continues the schedule."""
        return self.schedule.num_updates

    @num_updates.setter
    def num_updates(self, value: int) -> None:
        self.schedule.num_updates = value

    def current_lr(self) -> float:
        return self.schedule.current_lr()

    def update(self, observations: torch.Tensor, actions: torch.Tensor,
               adv_n: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """One step on -(log pi(a|s) * min(exp(beta * A), max_weight)).mean() at the scheduled lr;
        returns the detached loss, the lr and the mean weight."""
        observations, actions = ptu.from_numpy(observations), ptu.from_numpy(actions, _action_dtype(self))
        if adv_n is None:
            raise ValueError("MLPPolicyIQL.update needs the advantages: update(ob_no, ac_na, adv_n=adv_n)")
        adv_n = ptu.from_numpy(adv_n)
        lr = self.schedule.step()  # sets the optimizer's rate for this update
        log_prob_n = self(observations).log_prob(actions)

        # BEGIN SOLUTION iql_exp_weights
        exp_weights = torch.exp(self.beta * adv_n)
        # END SOLUTION
        exp_weights = exp_weights.clamp(max=self.max_weight)
        if exp_weights.shape != log_prob_n.shape:
            raise ValueError(f"exp_weights {tuple(exp_weights.shape)} and log_prob_n {tuple(log_prob_n.shape)} "
                             "must both be [B]")
        actor_loss = -(log_prob_n * exp_weights).mean()
        self._step(actor_loss)
        return {"Actor Loss": actor_loss.detach(), "Actor LR": torch.as_tensor(lr), "Weight Mean": exp_weights.mean()}


def _action_dtype(policy: MLPPolicy) -> torch.dtype | None:
    """Discrete actions are indices (long); continuous ones float32."""
    return torch.long if policy.discrete else None
