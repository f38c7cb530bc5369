import numpy as np
import pytest
import torch

from cs224r.agents.bc_agent import BCAgent
from cs224r.data.filtering import filter_top_percent
from cs224r.infrastructure import pytorch_util as ptu
from cs224r.infrastructure.config import BCConfig
from cs224r.infrastructure.rl_trainer import RL_Trainer
from cs224r.tasks import load_dataset
from scripts.run_bc import main as run_bc_main
from tests.blank_checks import adam_step, assert_same_params, blank, policy_log_prob, twin

torch.set_num_threads(1)  # tiny nets: extra threads only add contention on a shared CPU


def test_bc_loss_is_negative_log_likelihood():
    ptu.init_device("cpu")
    torch.manual_seed(0)
    agent = BCAgent(2, 5, True, BCConfig(actor_size=8))
    ob = torch.randn(6, 2)
    ac = torch.tensor([0, 1, 2, 3, 4, 1])
    logits = agent.actor.logits_net(ob)
    expected = -(logits - logits.logsumexp(dim=1, keepdim=True))[torch.arange(6), ac].mean()
    with blank("bc_loss"):
        loss = agent.bc_loss(ob, ac)
    assert loss.dim() == 0, f"bc_loss: expected a scalar (the mean), got shape {tuple(loss.shape)}"
    torch.testing.assert_close(loss, expected, msg=(
        "bc_loss: expected -self.actor(ob_no).log_prob(ac_na).mean() (minus the MEAN log-likelihood)"))


def test_continuous_bc_step_by_hand():
    ptu.init_device("cpu")
    torch.manual_seed(0)
    agent = BCAgent(3, 2, False, BCConfig(actor_size=8, actor_n_layers=1, actor_lr=0.05))
    ob, ac = torch.randn(6, 3), torch.rand(6, 2) * 1.8 - 0.9
    ref = twin(agent.actor)
    loss = -policy_log_prob(ref, ob, ac).mean()
    with blank("bc_loss"):
        got = agent.bc_loss(ob, ac)
    assert got.requires_grad, "bc_loss: the loss has no gradient - do not compute it under torch.no_grad()"
    assert got.item() == pytest.approx(loss.item(), rel=1e-5), (
        f"bc_loss: loss {got.item():.6g}, expected {loss.item():.6g} = -(mean log pi(ac_na | ob_no))")
    with blank("bc_loss"):
        agent.train(ob, ac)
    adam_step(list(ref.parameters()), ref.optimizer, loss, ref.max_grad_norm)
    assert_same_params(agent.actor, ref, "bc_loss: one BC step differs from the hand-computed step")


@pytest.mark.slow
def test_bc_fits_a_discrete_mapping():
    ptu.init_device("cpu")
    torch.manual_seed(0)
    agent = BCAgent(2, 5, True, BCConfig(actor_size=32, actor_lr=1e-2))
    ob = torch.rand(256, 2)
    ac = (ob[:, 0] > 0.5).long() + 2 * (ob[:, 1] > 0.5).long()  # actions 0..3 by quadrant
    for _ in range(300):
        info = agent.train(ob, ac)
    assert float(info["Actor Loss"]) < 0.3
    acc = (agent.actor.get_action(ob.numpy(), deterministic=True) == ac.numpy()).mean()
    assert acc > 0.9


@pytest.mark.slow
def test_continuous_bc_moves_mean_to_the_data():
    ptu.init_device("cpu")
    torch.manual_seed(0)
    agent = BCAgent(2, 2, False, BCConfig(actor_size=16, actor_lr=1e-2))
    ob = torch.rand(64, 2)
    ac = torch.full((64, 2), 0.5)
    for _ in range(200):
        agent.train(ob, ac)
    np.testing.assert_allclose(agent.actor.get_action(ob.numpy(), deterministic=True), 0.5, atol=0.05)


@pytest.mark.slow
def test_trainer_filters_before_building_the_buffer(tmp_path):
    cfg = BCConfig(env_name="pointmass-medium-v0", filter_top_percent=10, total_steps=2, eval_interval=2,
                   eval_episodes=2, log_dir=str(tmp_path), device="cpu", progress=False)
    trainer = RL_Trainer(cfg, BCAgent)
    expected = filter_top_percent(load_dataset("pointmass-medium-v0"), 10)
    assert len(trainer.buffer) == len(expected) < 200
    assert trainer.dataset.checksum() == expected.checksum()


@pytest.mark.slow
def test_run_bc_cli(tmp_path, capsys):
    rc = run_bc_main(["--env-name", "pointmass-medium-v0", "--filter-top-percent", "10", "--total-steps", "20",
                      "--eval-interval", "10", "--eval-episodes", "2", "--log-dir", str(tmp_path),
                      "--device", "cpu", "--no-progress"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "kept 40" in out and "final Eval_AverageReturn" in out
    assert (tmp_path / "bc" / "seed1" / "metrics.csv").exists()
    assert run_bc_main(["--env-name", "pointmass-medium-v0", "--filter-top-percent", "0", "--log-dir",
                        str(tmp_path / "x"), "--device", "cpu"]) == 2
