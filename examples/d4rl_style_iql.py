"""A single-file IQL written the way D4RL-era scripts are (one config dataclass, its own networks and loop), run on
the package's AntMaze through gymnasium and ``cs224r.d4rl`` instead of ``d4rl``: the only package-specific lines
are the two imports and ``gymnasium.make("cs224r/...")``.

    python examples/d4rl_style_iql.py --env cs224r/antmaze-umaze-v0 --steps 20000 [--dataset FILE] [--normalize]

IQL as in Kostrikov, Nair & Levine (2021): expectile 0.9, temperature 10, 2 x 256 networks, Adam 3e-4, cosine
actor schedule, discount 0.99, Polyak 0.005, AntMaze rewards minus 1. Prints the D4RL normalized score
(100 x success over the evaluation episodes; tasks without D4RL reference returns: 100 x success).
"""

from __future__ import annotations

import argparse
import copy
import time
from dataclasses import dataclass

import gymnasium
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import cs224r.d4rl as d4rl  # a D4RL script would `import d4rl` here


@dataclass
class Config:
    env: str = "cs224r/antmaze-umaze-v0"
    dataset: str | None = None  # a D4RL-layout file; default: the env's own data
    steps: int = 20_000
    batch_size: int = 256
    expectile: float = 0.9
    temperature: float = 10.0
    discount: float = 0.99
    tau: float = 0.005
    lr: float = 3e-4
    hidden: int = 256
    eval_episodes: int = 50
    normalize: bool = False  # observations by the dataset's mean and std (CORL's default for AntMaze)
    seed: int = 0


def mlp(inp: int, out: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inp, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, out))


class TwinQ(nn.Module):
    def __init__(self, obs_dim: int, act_dim: int, hidden: int) -> None:
        super().__init__()
        self.q1, self.q2 = mlp(obs_dim + act_dim, 1, hidden), mlp(obs_dim + act_dim, 1, hidden)

    def forward(self, obs: torch.Tensor, act: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([obs, act], dim=-1)
        return self.q1(x).squeeze(-1), self.q2(x).squeeze(-1)


class Actor(nn.Module):
    """Gaussian with a tanh mean and a state-independent log std."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int) -> None:
        super().__init__()
        self.net, self.log_std = mlp(obs_dim, act_dim, hidden), nn.Parameter(torch.zeros(act_dim))

    def dist(self, obs: torch.Tensor) -> torch.distributions.Normal:
        return torch.distributions.Normal(torch.tanh(self.net(obs)), self.log_std.clamp(-5.0, 2.0).exp())


def train(cfg: Config) -> float:
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    env = gymnasium.make(cfg.env, sparse_reward=True)  # D4RL's 0 / 1 reward, so returns are D4RL's
    data = d4rl.qlearning_dataset(env, h5path=cfg.dataset)
    obs, next_obs = data["observations"], data["next_observations"]
    mean, std = (obs.mean(0), obs.std(0) + 1e-3) if cfg.normalize else (np.zeros(obs.shape[1]), np.ones(obs.shape[1]))
    t = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in {
        "obs": (obs - mean) / std, "next_obs": (next_obs - mean) / std,
        "act": np.clip(data["actions"], -1 + 1e-5, 1 - 1e-5),
        "rew": data["rewards"] - (1.0 if "antmaze" in cfg.env else 0.0),  # AntMaze: 0 / 1 -> -1 / 0, as IQL does
        "done": data["terminals"].astype(np.float32)}.items()}
    obs_dim, act_dim = obs.shape[1], data["actions"].shape[1]
    q, v, actor = TwinQ(obs_dim, act_dim, cfg.hidden), mlp(obs_dim, 1, cfg.hidden), Actor(obs_dim, act_dim, cfg.hidden)
    q_target = copy.deepcopy(q).requires_grad_(False)
    q_opt, v_opt = torch.optim.Adam(q.parameters(), cfg.lr), torch.optim.Adam(v.parameters(), cfg.lr)
    a_opt = torch.optim.Adam(actor.parameters(), cfg.lr)
    a_sched = torch.optim.lr_scheduler.CosineAnnealingLR(a_opt, cfg.steps)
    n, start = len(t["rew"]), time.time()
    for step in range(1, cfg.steps + 1):
        i = torch.randint(n, (cfg.batch_size,))
        o, a, r, o2, d = t["obs"][i], t["act"][i], t["rew"][i], t["next_obs"][i], t["done"][i]
        with torch.no_grad():
            target_q = torch.min(*q_target(o, a))
            next_v = v(o2).squeeze(-1)
        diff = target_q - v(o).squeeze(-1)  # expectile regression of V toward min Q
        v_loss = (torch.abs(cfg.expectile - (diff < 0).float()) * diff ** 2).mean()
        v_opt.zero_grad()
        v_loss.backward()
        v_opt.step()
        q1, q2 = q(o, a)
        backup = r + cfg.discount * (1.0 - d) * next_v
        q_loss = F.mse_loss(q1, backup) + F.mse_loss(q2, backup)
        q_opt.zero_grad()
        q_loss.backward()
        q_opt.step()
        with torch.no_grad():
            for p, tp in zip(q.parameters(), q_target.parameters()):
                tp.mul_(1 - cfg.tau).add_(p, alpha=cfg.tau)
            weight = torch.exp(cfg.temperature * diff.detach()).clamp(max=100.0)
        a_loss = -(weight * actor.dist(o).log_prob(a).sum(-1)).mean()
        a_opt.zero_grad()
        a_loss.backward()
        a_opt.step()
        a_sched.step()
        if step % 5000 == 0 or step == cfg.steps:
            print(f"step {step}: q {q_loss.item():.3f} v {v_loss.item():.3f} actor {a_loss.item():.3f} "
                  f"({time.time() - start:.0f} s)", flush=True)
    returns, successes = [], []
    for ep in range(cfg.eval_episodes):
        o, _ = env.reset(seed=cfg.seed * 1000 + ep)
        total, end, info = 0.0, False, {}
        while not end:
            with torch.no_grad():
                mu = actor.dist(torch.as_tensor((o - mean) / std, dtype=torch.float32)[None]).mean[0].numpy()
            o, r, term, trunc, info = env.step(mu)
            total, end = total + r, term or trunc
        returns.append(total)
        successes.append(info["success"])
    name = d4rl.env_name_of(env)
    try:  # D4RL's normalized score (AntMaze: 100 x success, as the papers report it)
        score = 100 * d4rl.get_normalized_score(name, float(np.mean(returns)))
    except KeyError:  # a task without D4RL reference returns: 100 x success
        score = 100 * float(np.mean(successes))
    print(f"{cfg.env}: normalized score {score:.1f} (success {np.mean(successes):.2f}) over {cfg.eval_episodes} "
          f"episodes after {cfg.steps} steps ({time.time() - start:.0f} s)")
    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name, default in vars(Config()).items():
        flag = "--" + name.replace("_", "-")
        if isinstance(default, bool):
            parser.add_argument(flag, action="store_true")
        else:
            parser.add_argument(flag, type=type(default) if default is not None else str, default=default)
    train(Config(**vars(parser.parse_args())))


if __name__ == "__main__":
    main()
