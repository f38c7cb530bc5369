"""Evaluation episodes per second on AntMaze: the vectorized evaluator (N copies, one batched policy
forward per step) against a one-env-at-a-time reference, measured in the same run.

    python benchmarks/bench_eval.py --env-name antmaze-umaze-v2 --episodes 32 --max-steps 200
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from cs224r.envs import evaluate, get_spec  # noqa: E402
from cs224r.envs.antmaze.env import AntMazeBatch  # noqa: E402
from cs224r.policies.MLP_policy import MLPPolicy  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-name", default="antmaze-umaze-v2")
    parser.add_argument("--episodes", type=int, default=32, help="episodes for the vectorized evaluator")
    parser.add_argument("--reference-episodes", type=int, default=4, help="episodes for the one-at-a-time loop")
    parser.add_argument("--max-steps", type=int, default=200, help="episode limit for the benchmark")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    spec = get_spec(args.env_name)
    env_kw = {"maze": spec.make_batch.keywords["maze"], "max_episode_steps": args.max_steps,
              "goal_per_episode": spec.make_batch.keywords["goal_per_episode"]}
    policy = MLPPolicy(spec.obs_dim, spec.act_dim, 2, 256)  # the AWAC actor's size; random weights

    def act(obs):
        return policy.get_action(obs, deterministic=True)

    batch = AntMazeBatch(args.episodes, **env_kw)
    evaluate(act, batch, seed=0)  # warm up
    t = time.perf_counter()
    res = evaluate(act, batch, seed=1)
    vec = args.episodes / (time.perf_counter() - t)

    single = AntMazeBatch(1, nthread=1, **env_kw)
    t = time.perf_counter()
    steps = 0
    for ep in range(args.reference_episodes):
        obs = single.reset(seed=100 + ep)
        done = False
        while not done:
            obs, _, term, trunc, _ = single.step(act(obs[0:1]))
            steps += 1
            done = bool(term[0] or trunc[0])
    ref = args.reference_episodes / (time.perf_counter() - t)
    print(f"{args.env_name}, {args.max_steps}-step episodes, random 2x256 policy: vectorized "
          f"{args.episodes} episodes: {vec:.2f} episodes/s ({vec * args.max_steps:.0f} env steps/s); "
          f"one at a time: {ref:.2f} episodes/s ({steps / args.reference_episodes * ref:.0f} env steps/s); "
          f"speed-up x{vec / ref:.1f} (mean length {np.mean(res['lengths']):.0f})")


if __name__ == "__main__":
    main()
