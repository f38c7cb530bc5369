"""Behaviour cloning, and filtered BC (clone only the best trajectories of the dataset)."""

from __future__ import annotations

import torch

from cs224r.data.dataset import Dataset
from cs224r.data.filtering import filter_top_percent
from cs224r.infrastructure import pytorch_util as ptu
from cs224r.infrastructure.config import BCConfig
from cs224r.infrastructure.schedules import LRSchedule
from cs224r.policies.MLP_policy import MLPPolicy


class BCAgent:
    """Maximise log pi(a|s) over the dataset's (s, a) pairs; rewards are ignored."""

    def __init__(self, ob_dim: int, ac_dim: int, discrete: bool, config: BCConfig) -> None:
        self.config = config
        self.discrete = discrete
        self.actor = MLPPolicy(ob_dim, ac_dim, config.actor_n_layers, config.actor_size, discrete,
                               learning_rate=config.actor_lr, max_grad_norm=config.grad_clip)
        self.actor_lr = LRSchedule(self.actor.optimizer, config.actor_lr_schedule, config.total_steps)

    @classmethod
    def prepare_dataset(cls, dataset: Dataset, config: BCConfig) -> Dataset:
        """Filtered BC: keep the top ``filter_top_percent``% of trajectories by return (ceil)."""
        kept = filter_top_percent(dataset, config.filter_top_percent)
        if kept is not dataset:
            print(f"filtered BC: {kept.metadata['filter']} ({len(kept)} of {len(dataset)} transitions)")
        return kept

    def bc_loss(self, ob_no: torch.Tensor, ac_na: torch.Tensor) -> torch.Tensor:
        """Negative mean log-likelihood of the dataset actions under the actor; a scalar with gradient."""
        # BEGIN SOLUTION bc_loss
        log_prob_n = self.actor(ob_no).log_prob(ac_na)
        loss = -log_prob_n.mean()
        # END SOLUTION
        return loss

    def train(self, ob_no, ac_na, re_n=None, next_ob_no=None, terminal_n=None) -> dict[str, torch.Tensor]:
        """One gradient step on a minibatch; only ``ob_no`` and ``ac_na`` are used."""
        ob_no, ac_na = ptu.from_numpy(ob_no), ptu.from_numpy(ac_na, torch.long if self.discrete else None)
        lr = self.actor_lr.step()
        loss = self.bc_loss(ob_no, ac_na)
        self.actor._step(loss)
        log = {"Actor Loss": loss.detach()}
        if self.actor_lr.schedule != "constant":
            log["Actor LR"] = lr
        return log

    def state_dict(self) -> dict:
        return {"actor": self.actor.state_dict(), "actor_opt": self.actor.optimizer.state_dict(),
                "actor_lr": self.actor_lr.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.actor.load_state_dict(state["actor"])
        self.actor.optimizer.load_state_dict(state["actor_opt"])
        if "actor_lr" in state:
            self.actor_lr.load_state_dict(state["actor_lr"])
