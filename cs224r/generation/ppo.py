"""PPO (plain PyTorch) for the heading-following ant controller on open ground.

Task: the D4RL ant (same MJCF and physics as the AntMaze envs, no walls) gets a commanded heading and
is rewarded for its velocity along it (capped), with a small lateral-velocity penalty, an alive bonus
and a control cost. Episodes start at a random yaw, the heading is re-drawn at random times, and an
episode ends when the torso flips (its up-vector's z below ``flip_z``) or after ``episode_steps``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cs224r.envs.antmaze.model import DT, load_model
from cs224r.envs.antmaze.sim import BatchedSim, reset_states
from cs224r.generation.controller import CONTROLLER_OBS_DIM, ControllerNet, controller_obs, quat_to_mat


@dataclass
class PPOConfig:
    seed: int = 0
    num_envs: int = 64
    horizon: int = 64  # steps per env per update (4096 samples)
    total_steps: int = 6_000_000
    time_limit_min: float = 28.0  # stop when training has run this long (the bar is 30 minutes)
    episode_steps: int = 500
    heading_change_prob: float = 0.01  # per step: a new heading about every 10 s
    speed_cap: float = 2.0  # m/s; uncapped speed gives a fast but clumsy gait
    lateral_cost: float = 0.25
    alive_bonus: float = 0.5
    ctrl_cost: float = 0.05
    flip_z: float = 0.1
    reward_scale: float = 0.1
    gamma: float = 0.99
    lam: float = 0.95
    lr: float = 3e-4
    epochs: int = 10
    minibatch: int = 256
    clip: float = 0.2
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    hidden: int = 128
    layers: int = 2
    init_log_std: float = -0.5
    eval_every: int = 40  # updates between goal-reaching checks
    eval_trials: int = 64
    eval_action_noise: float = 0.2  # the noise the datasets are made with
    nthread: int = 2


class HeadingTask:
    """Batched open-ground heading-following task with auto-reset."""

    def __init__(self, cfg: PPOConfig, rng: np.random.Generator) -> None:
        self.cfg, self.rng = cfg, rng
        self.model = load_model(None)
        self.sim = BatchedSim(self.model, cfg.num_envs, nthread=cfg.nthread)
        n = cfg.num_envs
        self.heading = np.zeros(n)
        self.t = np.zeros(n, dtype=np.int64)
        self.reset_idx(np.arange(n))

    def reset_idx(self, idx: np.ndarray) -> None:
        if len(idx) == 0:
            return
        yaw = self.rng.uniform(-np.pi, np.pi, len(idx))
        qpos, qvel = reset_states(self.model, self.rng, len(idx), yaw=yaw)
        self.sim.set_state(idx, qpos, qvel)
        self.heading[idx] = self.rng.uniform(-np.pi, np.pi, len(idx))
        self.t[idx] = 0

    def obs(self) -> np.ndarray:
        return controller_obs(self.sim.qpos, self.sim.qvel, self.heading)

    def step(self, actions: np.ndarray):
        cfg = self.cfg
        xy0 = self.sim.qpos[:, :2].copy()
        self.sim.step(actions)
        vel = (self.sim.qpos[:, :2] - xy0) / DT
        c, s = np.cos(self.heading), np.sin(self.heading)
        v_fwd = vel[:, 0] * c + vel[:, 1] * s
        v_lat = -vel[:, 0] * s + vel[:, 1] * c
        up_z = quat_to_mat(self.sim.qpos[:, 3:7])[:, 2, 2]
        ctrl = np.square(np.clip(actions, -1, 1)).sum(1)
        reward = (np.minimum(v_fwd, cfg.speed_cap) - cfg.lateral_cost * np.abs(v_lat) + cfg.alive_bonus
                  - cfg.ctrl_cost * ctrl)
        self.t += 1
        flipped = (up_z < cfg.flip_z) | ~np.isfinite(self.sim.qpos).all(1)
        truncated = (self.t >= cfg.episode_steps) & ~flipped
        final_obs = self.obs()
        done = flipped | truncated
        self.reset_idx(np.flatnonzero(done))
        change = (self.rng.random(cfg.num_envs) < cfg.heading_change_prob) & ~done
        self.heading[change] += self.rng.uniform(-np.pi, np.pi, change.sum())
        return self.obs(), reward, flipped, truncated, final_obs, v_fwd


class RunningNorm:
    def __init__(self, dim: int) -> None:
        self.mean, self.var, self.count = np.zeros(dim), np.ones(dim), 1e-4

    def update(self, x: np.ndarray) -> None:
        bm, bv, bc = x.mean(0), x.var(0), len(x)
        delta, tot = bm - self.mean, self.count + bc
        self.mean = self.mean + delta * bc / tot
        self.var = (self.var * self.count + bv * bc + delta**2 * self.count * bc / tot) / tot
        self.count = tot


def goal_reaching_trials(act_fn, n: int, seed: int, action_noise: float = 0.2, dist_range=(5.0, 10.0),
                         radius: float = 0.5, max_steps: int = 300, nthread: int = 2) -> dict:
    """Open ground: start at a random yaw, a goal ``dist_range`` away in a random direction; the heading
    is the direction to the goal each step. ``act_fn(qpos, qvel, heading)`` -> actions. Returns success
    fraction and mean steps of the successful trials."""
    rng = np.random.default_rng(seed)
    model = load_model(None)
    sim = BatchedSim(model, n, nthread=nthread)
    qpos, qvel = reset_states(model, rng, n, yaw=rng.uniform(-np.pi, np.pi, n))
    sim.set_state(slice(None), qpos, qvel)
    ang, dist = rng.uniform(-np.pi, np.pi, n), rng.uniform(*dist_range, n)
    goal = sim.qpos[:, :2] + np.stack([np.cos(ang), np.sin(ang)], 1) * dist[:, None]
    reached = np.zeros(n, dtype=bool)
    steps = np.full(n, max_steps)
    for t in range(max_steps):
        d = goal - sim.qpos[:, :2]
        heading = np.arctan2(d[:, 1], d[:, 0])
        a = act_fn(sim.qpos, sim.qvel, heading)
        a = np.clip(a + action_noise * rng.standard_normal(a.shape), -1, 1)
        sim.step(a)
        hit = (np.linalg.norm(goal - sim.qpos[:, :2], axis=1) <= radius) & ~reached
        steps[hit] = t + 1
        reached |= hit
        if reached.all():
            break
    sim.close()
    return {"success": float(reached.mean()), "mean_steps": float(steps[reached].mean()) if reached.any() else 0.0,
            "trials": n}


def train(cfg: PPOConfig, out_dir: Path, progress: bool = True) -> dict:
    """Train, writing ``controller_latest.pt``, ``controller_best.pt``, ``curve.csv``, ``config.json``."""
    from tqdm import tqdm

    from cs224r.generation.controller import save_controller

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(1)
    rng = np.random.default_rng(cfg.seed)
    task = HeadingTask(cfg, rng)
    actor = ControllerNet(CONTROLLER_OBS_DIM, 8, cfg.hidden, cfg.layers, cfg.init_log_std)
    critic = nn.Sequential(nn.Linear(CONTROLLER_OBS_DIM, cfg.hidden), nn.Tanh(), nn.Linear(cfg.hidden, cfg.hidden),
                           nn.Tanh(), nn.Linear(cfg.hidden, 1))
    params = list(actor.parameters()) + list(critic.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr)
    norm = RunningNorm(CONTROLLER_OBS_DIM)
    n, T = cfg.num_envs, cfg.horizon
    steps_per_update = n * T
    num_updates = cfg.total_steps // steps_per_update
    start = time.time()
    obs = task.obs()
    ep_ret, ep_len = np.zeros(n), np.zeros(n)
    finished_ret: list[float] = []
    finished_len: list[float] = []
    curve = []
    best = -1.0
    bar = tqdm(total=num_updates * steps_per_update, unit="step", disable=not progress, desc="ppo")

    def value(o: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return critic(actor.normalize(torch.from_numpy(o))).squeeze(-1).numpy()

    for update in range(num_updates):
        frac = max(0.05, min(1.0 - update / num_updates, 1.0 - (time.time() - start) / (cfg.time_limit_min * 60)))
        for g in opt.param_groups:
            g["lr"] = cfg.lr * frac
        buf_o = np.zeros((T, n, CONTROLLER_OBS_DIM), np.float32)
        buf_a = np.zeros((T, n, 8), np.float32)
        buf_lp, buf_r, buf_v, buf_d = (np.zeros((T, n), np.float32) for _ in range(4))
        vfwd = []
        for t in range(T):
            norm.update(obs)
            actor.obs_mean.copy_(torch.from_numpy(norm.mean).float())
            actor.obs_std.copy_(torch.from_numpy(np.sqrt(norm.var) + 1e-6).float())
            with torch.no_grad():
                ot = torch.from_numpy(obs)
                mean = actor(ot)
                std = actor.log_std.exp()
                a = mean + std * torch.randn_like(mean)
                lp = torch.distributions.Normal(mean, std).log_prob(a).sum(-1)
                v = critic(actor.normalize(ot)).squeeze(-1)
            a_np = a.numpy().astype(np.float64)
            nobs, r, term, trunc, final_obs, vf = task.step(a_np)
            vfwd.append(vf.mean())
            r_learn = r * cfg.reward_scale
            if trunc.any():  # bootstrap through time-limit cuts
                r_learn = r_learn + cfg.gamma * trunc * value(final_obs)
            buf_o[t], buf_a[t], buf_lp[t], buf_r[t], buf_v[t] = obs, a.numpy(), lp.numpy(), r_learn, v.numpy()
            buf_d[t] = term | trunc
            ep_ret += r
            ep_len += 1
            for i in np.flatnonzero(term | trunc):
                finished_ret.append(ep_ret[i])
                finished_len.append(ep_len[i])
                ep_ret[i], ep_len[i] = 0.0, 0.0
            obs = nobs
        # GAE
        last_v = value(obs)
        adv = np.zeros((T, n), np.float32)
        gae = np.zeros(n, np.float32)
        for t in reversed(range(T)):
            nv = last_v if t == T - 1 else buf_v[t + 1]
            nonterm = 1.0 - buf_d[t]
            delta = buf_r[t] + cfg.gamma * nv * nonterm - buf_v[t]
            gae = delta + cfg.gamma * cfg.lam * nonterm * gae
            adv[t] = gae
        ret = adv + buf_v
        b_o = torch.from_numpy(buf_o.reshape(-1, CONTROLLER_OBS_DIM))
        b_a = torch.from_numpy(buf_a.reshape(-1, 8))
        b_lp = torch.from_numpy(buf_lp.reshape(-1))
        b_adv = torch.from_numpy(adv.reshape(-1))
        b_ret = torch.from_numpy(ret.reshape(-1))
        for _ in range(cfg.epochs):
            perm = torch.randperm(len(b_o))
            for k in range(0, len(b_o), cfg.minibatch):
                mb = perm[k:k + cfg.minibatch]
                mean = actor(b_o[mb])
                dist = torch.distributions.Normal(mean, actor.log_std.exp())
                lp = dist.log_prob(b_a[mb]).sum(-1)
                ratio = (lp - b_lp[mb]).exp()
                a_mb = b_adv[mb]
                a_mb = (a_mb - a_mb.mean()) / (a_mb.std() + 1e-8)
                pg = -torch.min(ratio * a_mb, ratio.clamp(1 - cfg.clip, 1 + cfg.clip) * a_mb).mean()
                vl = (critic(actor.normalize(b_o[mb])).squeeze(-1) - b_ret[mb]).pow(2).mean()
                loss = pg + cfg.vf_coef * vl
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                opt.step()
        bar.update(steps_per_update)
        elapsed = time.time() - start
        row = {"update": update + 1, "env_steps": (update + 1) * steps_per_update, "minutes": elapsed / 60,
               "ep_return": float(np.mean(finished_ret[-50:])) if finished_ret else 0.0,
               "ep_len": float(np.mean(finished_len[-50:])) if finished_len else 0.0,
               "v_forward": float(np.mean(vfwd)), "std": float(actor.log_std.detach().exp().mean()),
               "goal_success": float("nan"), "goal_steps": float("nan")}
        last = update == num_updates - 1 or elapsed > cfg.time_limit_min * 60
        if (update + 1) % cfg.eval_every == 0 or last:
            ctrl_net = actor

            def act_fn(qp, qv, hd, net=ctrl_net):
                with torch.no_grad():
                    return np.clip(net(torch.from_numpy(controller_obs(qp, qv, hd))).numpy().astype(np.float64),
                                   -1, 1)

            res = goal_reaching_trials(act_fn, cfg.eval_trials, seed=10_000 + update,
                                       action_noise=cfg.eval_action_noise, nthread=cfg.nthread)
            row["goal_success"], row["goal_steps"] = res["success"], res["mean_steps"]
            extra = {"env_steps": row["env_steps"], "goal_success": res["success"], "seed": cfg.seed}
            save_controller(actor, out_dir / "controller_latest.pt", extra)
            score = res["success"] - 1e-4 * res["mean_steps"]
            if score >= best:
                best = score
                save_controller(actor, out_dir / "controller_best.pt", extra)
            bar.set_postfix(ret=f"{row['ep_return']:.0f}", v=f"{row['v_forward']:.2f}",
                            goal=f"{res['success']:.2f}", gsteps=f"{res['mean_steps']:.0f}")
        curve.append(row)
        _write_curve(curve, out_dir)
        if last:
            break
    bar.close()
    task.sim.close()
    return curve[-1]


def _write_curve(curve: list[dict], out_dir: Path) -> None:
    keys = list(curve[0])
    lines = [",".join(keys)] + [",".join(f"{r[k]:.6g}" for k in keys) for r in curve]
    (out_dir / "curve.csv").write_text("\n".join(lines) + "\n")


def plot_curve(out_dir: Path, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    df = pd.read_csv(out_dir / "curve.csv")
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
    axes[0].plot(df["minutes"], df["ep_return"])
    axes[0].set(xlabel="minutes", ylabel="episode return (training)")
    axes[1].plot(df["minutes"], df["v_forward"])
    axes[1].set(xlabel="minutes", ylabel="mean velocity along heading (m/s)")
    ev = df.dropna(subset=["goal_success"])
    axes[2].plot(ev["minutes"], ev["goal_success"], marker="o")
    axes[2].set(xlabel="minutes", ylabel="open-ground goal success (noise 0.2)", ylim=(0, 1.02))
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=100)
    plt.close(fig)
