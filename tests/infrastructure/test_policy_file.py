"""``policy.pt``: the final actor's weights, loadable into a fresh actor on any machine."""

import numpy as np
import pytest
import torch

from cs224r.agents.awac_agent import AWACAgent
from cs224r.envs import get_spec
from cs224r.infrastructure import pytorch_util as ptu
from cs224r.infrastructure.config import AWACConfig
from cs224r.infrastructure.rl_trainer import RL_Trainer
from tests.helpers import trainer_config

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU"))]


@pytest.mark.parametrize("device", DEVICES)
def test_policy_file_holds_the_final_actor_as_cpu_tensors(tmp_path, device):
    """Saved from a GPU run too, it loads with a plain torch.load (no map_location) on the CPU."""
    try:
        cfg = trainer_config(AWACConfig, tmp_path, device=device, total_steps=20)
        trainer = RL_Trainer(cfg, AWACAgent)
        trainer.run()
        state = torch.load(tmp_path / "t" / "seed3" / "policy.pt", map_location=None, weights_only=True)
        assert state and all(t.device.type == "cpu" for t in state.values())
        ptu.init_device("cpu")
        spec = get_spec(cfg.env_name)
        fresh = AWACAgent(spec.obs_dim, spec.act_dim, spec.discrete, trainer_config(AWACConfig, tmp_path))
        fresh.actor.load_state_dict(state)
        obs = np.random.default_rng(0).normal(size=(5, spec.obs_dim)).astype(np.float32)
        trained = trainer.agent.actor.to("cpu")
        np.testing.assert_allclose(fresh.actor.get_action(obs, deterministic=True),
                                   trained.get_action(obs, deterministic=True), rtol=1e-6, atol=1e-6)
        with pytest.raises(AssertionError):  # the comparison sees a difference between actors
            untrained = AWACAgent(spec.obs_dim, spec.act_dim, spec.discrete, trainer_config(AWACConfig, tmp_path))
            np.testing.assert_allclose(untrained.actor.get_action(obs, deterministic=True),
                                       trained.get_action(obs, deterministic=True), rtol=1e-6, atol=1e-6)
    finally:
        ptu.init_device("cpu")
