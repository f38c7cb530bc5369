"""Shared command-line driver: flags from a config dataclass, clear one-line errors."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import sys

from cs224r.data import DatasetError
from cs224r.envs import UnknownEnvError, env_names, get_spec
from cs224r.infrastructure.config import add_config_flags, config_from_args
from cs224r.infrastructure.rl_trainer import TrainingError, train


def run_cli(config_cls: type, agent_cls: type, argv: list[str] | None = None, description: str = "") -> int:
    parser = argparse.ArgumentParser(description=description)
    add_config_flags(parser, config_cls)
    parser.add_argument("--list-envs", action="store_true", help="print the known env names and exit")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="train these seeds (one after another, or together with --fast) instead of --seed")
    parser.add_argument("--fast", action="store_true",
                        help="train all seeds as one batched model in one process (cs224r/fast; AWAC or IQL, "
                             "continuous actions); same numbers per seed as the plain trainer")
    args = parser.parse_args(argv)
    if getattr(args, "list_envs", False):
        print("\n".join(env_names()))
        return 0
    if getattr(args, "save_video", False):
        os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering; must precede the first mujoco import
    try:
        env_name = getattr(args, "env_name", config_cls.env_name)
        config = config_from_args(config_cls, args, get_spec(env_name).train_defaults)
        if args.seeds is not None and "seed" in vars(args):
            raise ValueError("give either --seed or --seeds, not both")
        seeds = args.seeds or [config.seed]
        if args.fast:
            if importlib.util.find_spec("cs224r.fast") is None:  # the starter tree ships without it
                raise ValueError("--fast needs cs224r/fast, which this tree does not have; drop --fast")
            from cs224r.agents.awac_agent import AWACAgent
            from cs224r.agents.iql_agent import IQLAgent
            from cs224r.fast.multi_seed_trainer import train_seeds

            if agent_cls not in (AWACAgent, IQLAgent):
                raise ValueError(f"--fast is implemented for AWAC and IQL only, not {agent_cls.__name__}; drop --fast")
            if config.save_video:
                raise ValueError("--fast does not record --save-video; drop --fast (or --save-video)")

            all_rows = train_seeds(config, seeds)
        else:
            if config.fast_compile:
                raise ValueError("--fast-compile compiles the fast path's update; add --fast (AWAC, IQL) "
                                 "or drop --fast-compile")
            all_rows = []
            for s in seeds:
                cfg = dataclasses.replace(config, seed=s)
                all_rows.append(train(cfg, agent_cls, callbacks=_callbacks(cfg)))
    except (UnknownEnvError, DatasetError, TrainingError, OSError, RuntimeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:  # TrainingInterrupted says where its checkpoint is
        print(str(err) or "interrupted; continue later with the same command plus --resume", file=sys.stderr)
        return 130
    for seed, rows in zip(seeds, all_rows):
        last = rows[-1]
        print(f"final Eval_AverageReturn {last['Eval_AverageReturn']:.1f}  "
              f"success rate {last['Eval_SuccessRate']:.2f}  ({config.log_dir}/{config.exp_name}/seed{seed})")
    return 0


def _callbacks(config) -> list:
    """Pointmass pictures every ``--plot-interval`` steps and the AntMaze ``--save-video`` (imported only then)."""
    callbacks = []
    if getattr(config, "plot_interval", 0) > 0 and config.env_name.startswith("pointmass"):
        from cs224r.infrastructure.visualize import default_callbacks

        callbacks += default_callbacks(config)
    if getattr(config, "save_video", False):
        if not config.env_name.startswith("antmaze"):
            raise ValueError(f"--save-video renders the package's AntMaze envs (antmaze-*), not '{config.env_name}'")
        from cs224r.infrastructure.video import EvalVideo

        callbacks.append(EvalVideo())
    return callbacks
