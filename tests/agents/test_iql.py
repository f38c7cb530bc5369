"""IQL: hand-computed checks of the student edits (blanks expectile_loss, iql_value_loss, iql_q_loss,
iql_exp_weights, iql_advantage), gradient isolation, the actor's cosine lr
schedule, and a tiny offline problem that IQL solves and behaviour cloning does not."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn

from cs224r.agents.iql_agent import IQLAgent
from cs224r.critics import iql_critic
from cs224r.critics.iql_critic import IQLCritic
from cs224r.infrastructure.config import IQLConfig
from cs224r.policies.MLP_policy import MLPPolicyIQL, cosine_lr
from tests.blank_checks import (
    adam_step,
    assert_same_params,
    blank,
    no_grad_reached,
    perturb,
    policy_log_prob,
    q_value,
    twin,
)

REQUIRED_KEYS = ("Critic Loss", "Critic Loss2", "Actor Loss", "Value Loss", "Actor LR")


@pytest.fixture(autouse=True)
def _one_thread():
    # the machine is shared: two intra-op threads on two busy cores are ~50x slower than one
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(old)


def _set_linear(net: nn.Sequential, weight: list[float], bias: float) -> None:
    """Give a 0-hidden-layer MLP (one Linear, output 1) fixed weights."""
    (layer,) = net
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([weight]))
        layer.bias.fill_(bias)


def _tiny_critic(gamma: float = 0.5, expectile: float = 0.9) -> IQLCritic:
    """ob_dim = ac_dim = 1, linear nets:
    target Q1 = s + 2a, target Q2 = 2s + a, online Q1 = online Q2 = 10s + 10a, V = 3s + 1."""
    critic = IQLCritic(1, 1, n_layers=0, size=1, gamma=gamma, tau=0.5, expectile=expectile)
    _set_linear(critic.q_net_target, [1.0, 2.0], 0.0)
    _set_linear(critic.q_net2_target, [2.0, 1.0], 0.0)
    _set_linear(critic.q_net, [10.0, 10.0], 0.0)
    _set_linear(critic.q_net2, [10.0, 10.0], 0.0)
    _set_linear(critic.v_net, [3.0], 1.0)
    return critic


def _t(values, device=None) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32, device=device)


def _col(values: list[float], device=None) -> torch.Tensor:
    return _t(values, device).view(-1, 1)


# ------------------------------------------------------------------ the student edits
def test_expectile_loss_by_hand(device):
    diff = _t([2.0, -1.0, 0.5, -3.0], device)
    with blank("expectile_loss"):
        loss = iql_critic.expectile_loss(diff, 0.9)
    assert loss.dim() == 0, f"expectile_loss: expected a scalar (take the mean), got shape {tuple(loss.shape)}"
    # weights 0.9, 0.1, 0.9, 0.1 on squares 4, 1, 0.25, 9 -> (3.6 + 0.1 + 0.225 + 0.9) / 4
    assert float(loss) != pytest.approx((0.1 * 4 + 0.9 * 1 + 0.1 * 0.25 + 0.9 * 9) / 4), (
        "expectile_loss: the weights are swapped - use expectile where diff > 0 and 1 - expectile elsewhere")
    assert float(loss) != pytest.approx(4.825), "expectile_loss: take the mean over the batch, not the sum"
    assert float(loss) == pytest.approx(1.20625), (
        "expectile_loss: expected mean(|expectile - 1(diff < 0)| * diff**2)")
    assert float(iql_critic.expectile_loss(diff, 0.5)) == pytest.approx(14.25 / 8), (
        "expectile_loss: with expectile 0.5 it must be half the mean squared error")
    assert float(iql_critic.expectile_loss(torch.zeros(3, device=device), 0.9)) == 0.0


def test_value_loss_on_linear_nets_by_hand(device):
    critic = _tiny_critic(expectile=0.9)
    s, a = _col([1.0, 0.0, 1.0, -1.0], device), _col([0.0, 1.0, 1.0, 2.0], device)
    # target Q1 = s + 2a = [1, 2, 3, 3]; target Q2 = 2s + a = [2, 1, 3, 0] -> min [1, 1, 3, 0]
    # (the online nets would give 10s + 10a); V = 3s + 1 = [4, 1, 4, -2]; target - V = [-3, 0, -1, 2]
    with blank("iql_value_loss"):
        log = critic.update_v(s, a)
    got = float(log["Value Loss"])
    assert got == pytest.approx((0.1 * 9 + 0 + 0.1 * 1 + 0.9 * 4) / 4), (
        f"iql_value_loss: value loss {got:.6g}, expected 1.15 = expectile_loss(target_q - v, self.expectile) with "
        "target_q = self.get_target_q(ob_no, ac_na) (TARGET nets, DATASET action) and v = self.get_v(ob_no)")


def _random_critic(device, b=7):
    torch.manual_seed(2)
    critic = IQLCritic(3, 2, n_layers=1, size=8, gamma=0.8, expectile=0.7, learning_rate=0.05,
                       value_learning_rate=0.05)
    perturb(critic.q_net_target, critic.q_net2_target)
    ob, next_ob = torch.randn(b, 3, device=device), torch.randn(b, 3, device=device)
    ac = torch.rand(b, 2, device=device) * 2 - 1
    reward = torch.randn(b, device=device)
    done = torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0][:b], device=device)
    return critic, ob, ac, next_ob, reward, done


def test_value_step_matches_hand_step(device):
    critic, ob, ac, *_ = _random_critic(device)
    ref = twin(critic)
    for net in (critic.q_net_target, critic.q_net2_target):
        net.requires_grad_(True)  # so that a target built with gradient shows up in their .grad
    with blank("iql_value_loss"):
        log = critic.update_v(ob, ac)
    with torch.no_grad():
        target = torch.minimum(q_value(ref.q_net_target, ob, ac), q_value(ref.q_net2_target, ob, ac))
    diff = target - ref.v_net(ob)[:, 0]
    loss = (torch.where(diff > 0, 0.7, 0.3) * diff ** 2).mean()
    adam_step(list(ref.v_net.parameters()), ref.v_optimizer, loss, ref.max_grad_norm)
    assert float(log["Value Loss"]) == pytest.approx(loss.item(), rel=1e-5), (
        f"iql_value_loss: value loss {float(log['Value Loss']):.6g}, expected {loss.item():.6g} = "
        "expectile_loss(target_q - v, self.expectile) (target minus prediction, in that order)")
    assert no_grad_reached(critic.q_net_target, critic.q_net2_target, critic.q_net, critic.q_net2), (
        "iql_value_loss: gradient reached a Q-net - compute target_q under torch.no_grad()")
    for name in ("v_net", "q_net", "q_net2", "q_net_target", "q_net2_target"):
        assert_same_params(getattr(critic, name), getattr(ref, name),
                           f"iql_value_loss: after one V step {name} differs from the hand-computed step")


def test_q_loss_on_linear_nets_by_hand(device):
    critic = _tiny_critic(gamma=0.5)
    s, a = _col([0.0, 1.0, 0.5], device), _col([1.0, 0.0, 0.0], device)
    next_s = _col([0.0, 1.0, 2.0], device)  # V = 3s + 1 = [1, 4, 7]
    reward, done = _t([1.0, -1.0, 0.5], device), _t([0.0, 0.0, 1.0], device)
    # target = [1 + 0.5 * 1, -1 + 0.5 * 4, 0.5 + 0 (terminal)] = [1.5, 1, 0.5]; Q1 = Q2 = 10s + 10a = [10, 10, 5]
    with blank("iql_q_loss"):
        log = critic.update_q(s, a, next_s, reward, done)
    got, want = float(log["Critic Loss"]), (8.5 ** 2 + 9 ** 2 + 4.5 ** 2) / 3
    assert got != pytest.approx((8.5 ** 2 + 9 ** 2 + 1 ** 2) / 3), (
        "iql_q_loss: a terminal transition bootstrapped - multiply V(next_ob_no) by (1 - terminal_n)")
    assert got == pytest.approx(want), (
        f"iql_q_loss: loss {got:.6g}, expected {want:.6g} = self.mse_loss(q1, target) with target = reward_n + "
        "gamma * (1 - terminal_n) * self.get_v(next_ob_no) (V of the NEXT state, no Q-net, no action)")
    assert float(log["Critic Loss2"]) == pytest.approx(want), (
        "iql_q_loss: loss2 must be self.mse_loss(q2, target) with q2 from self.q_net2")


def test_q_step_matches_hand_step(device):
    critic, ob, ac, next_ob, reward, done = _random_critic(device)
    ref = twin(critic)
    with blank("iql_q_loss"):
        log = critic.update_q(ob, ac, next_ob, reward, done)
    with torch.no_grad():
        target = reward + 0.8 * (1.0 - done) * ref.v_net(next_ob)[:, 0]
    loss = ((q_value(ref.q_net, ob, ac) - target) ** 2).mean()
    loss2 = ((q_value(ref.q_net2, ob, ac) - target) ** 2).mean()
    adam_step([*ref.q_net.parameters(), *ref.q_net2.parameters()], ref.optimizer, loss + loss2, ref.max_grad_norm)
    assert float(log["Critic Loss"]) == pytest.approx(loss.item(), rel=1e-5), (
        f"iql_q_loss: loss {float(log['Critic Loss']):.6g}, expected {loss.item():.6g}")
    assert float(log["Critic Loss2"]) == pytest.approx(loss2.item(), rel=1e-5), (
        f"iql_q_loss: loss2 {float(log['Critic Loss2']):.6g}, expected {loss2.item():.6g} (q2 from self.q_net2)")
    assert no_grad_reached(critic.v_net), "iql_q_loss: gradient reached V - compute the target under torch.no_grad()"
    for name in ("q_net", "q_net2", "v_net"):
        assert_same_params(getattr(critic, name), getattr(ref, name),
                           f"iql_q_loss: after one Q step {name} differs from the hand-computed step")


def test_iql_exp_weights_actor_loss_and_step_by_hand(device):
    torch.manual_seed(3)
    actor = MLPPolicyIQL(2, 2, 1, 8, beta=2.0, max_weight=100.0, total_steps=10, learning_rate=0.05)
    ob, ac = torch.randn(5, 2, device=device), torch.rand(5, 2, device=device) * 1.8 - 0.9
    adv = _t([0.0, -0.5, 3.0, 0.4, -2.0], device)  # exp(2 * 3) = 403 -> clamped at 100
    ref = twin(actor)
    lp = policy_log_prob(ref, ob, ac)
    loss = -(lp * torch.exp(2.0 * adv).clamp(max=100.0)).mean()
    with torch.no_grad():
        flipped = float(-(lp * torch.exp(-2.0 * adv).clamp(max=100.0)).mean())
        divided = float(-(lp * torch.exp(adv / 2.0).clamp(max=100.0)).mean())
    with blank("iql_exp_weights"):
        log = actor.update(ob, ac, adv_n=adv)
    got = float(log["Actor Loss"])
    assert got != pytest.approx(flipped, rel=1e-5), "iql_exp_weights: the sign is flipped - exp(self.beta * adv_n)"
    assert got != pytest.approx(divided, rel=1e-5), (
        "iql_exp_weights: divided by beta - IQL multiplies: exp(self.beta * adv_n)")
    assert got == pytest.approx(loss.item(), rel=1e-5), (
        f"iql_exp_weights: actor loss {got:.6g}, expected {loss.item():.6g} from "
        "exp_weights = torch.exp(self.beta * adv_n)")
    adam_step(list(ref.parameters()), ref.optimizer, loss, ref.max_grad_norm)
    assert_same_params(actor, ref, "iql_exp_weights: the actor's step differs from the hand-computed step")


def test_actor_loss_by_hand_on_uniform_discrete_policy(device):
    actor = MLPPolicyIQL(2, 3, 0, 1, discrete=True, beta=1.0, total_steps=10)
    with torch.no_grad():
        for p in actor.parameters():
            p.zero_()  # logits 0 -> uniform over 3 actions, log pi = -ln 3
    ob, ac = torch.zeros(2, 2, device=device), torch.tensor([0, 2], device=device)
    with blank("iql_exp_weights"):
        log = actor.update(ob, ac, adv_n=_t([math.log(2.0), 0.0], device))  # weights [2, 1]
    assert float(log["Actor Loss"]) == pytest.approx(math.log(3.0) * 1.5, rel=1e-5), (
        "iql_exp_weights: the loss of a uniform policy with weights [2, 1] must be 1.5 ln 3")
    assert float(log["Actor LR"]) == pytest.approx(3e-4)


def test_iql_advantage_by_hand(device):
    critic = _tiny_critic()
    agent = _agent()
    agent.critic, agent.discrete = critic, False
    s, a = _col([1.0, 0.0, 1.0, -1.0], device), _col([0.0, 1.0, 1.0, 2.0], device)
    # min target Q = [1, 1, 3, 0] (online: 10s + 10a); V = 3s + 1 = [4, 1, 4, -2] -> A = [-3, 0, -1, 2]
    with blank("iql_advantage"):
        adv = agent.estimate_advantage(s, a)
    assert adv.shape == (4,), f"iql_advantage: shape {tuple(adv.shape)}, expected [B]"
    assert not adv.requires_grad, "iql_advantage: the advantage carries gradient - compute it under torch.no_grad()"
    assert float(adv[0]) != pytest.approx(6.0), "iql_advantage: used the online Q-nets - use self.critic.get_target_q"
    torch.testing.assert_close(adv, _t([-3.0, 0.0, -1.0, 2.0], device), msg=(
        "iql_advantage: expected self.critic.get_target_q(ob_no, ac_na) - self.critic.get_v(ob_no)"))


# ------------------------------------------------------------------ gradients
def _agent(total_steps: int = 100, **overrides) -> IQLAgent:
    cfg = IQLConfig(total_steps=total_steps, actor_size=16, critic_size=16, **overrides)
    return IQLAgent(3, 2, False, cfg)


def _batch(n: int = 32):
    g = torch.Generator().manual_seed(1)
    return (torch.randn(n, 3, generator=g), torch.rand(n, 2, generator=g) * 2 - 1, torch.randn(n, generator=g),
            torch.randn(n, 3, generator=g), (torch.rand(n, generator=g) < 0.2).float())


def _params(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def test_train_returns_detached_scalars():
    log = _agent().train(*_batch())
    for key in REQUIRED_KEYS:
        assert key in log, key
    for key, value in log.items():
        assert isinstance(value, torch.Tensor) and value.dim() == 0 and not value.requires_grad, key


def test_no_gradient_into_target_nets_and_polyak_update():
    agent = _agent()
    c = agent.critic
    old_t = _params(c.q_net_target) + _params(c.q_net2_target)
    agent.train(*_batch())
    for net in (c.q_net_target, c.q_net2_target):
        for p in net.parameters():
            assert p.grad is None and not p.requires_grad
    new_online = _params(c.q_net) + _params(c.q_net2)
    new_t = _params(c.q_net_target) + _params(c.q_net2_target)
    tau = agent.config.tau
    for old, online, new in zip(old_t, new_online, new_t):
        torch.testing.assert_close(new, old + tau * (online - old))


def test_value_step_does_not_move_q_and_q_step_does_not_move_v():
    agent = _agent()
    c = agent.critic
    ob, ac, re, next_ob, done = _batch()
    q_before = _params(c.q_net) + _params(c.q_net2) + _params(c.q_net_target) + _params(c.q_net2_target)
    v_before = _params(c.v_net)
    c.update_v(ob, ac)
    q_after = _params(c.q_net) + _params(c.q_net2) + _params(c.q_net_target) + _params(c.q_net2_target)
    assert all(torch.equal(a, b) for a, b in zip(q_before, q_after))
    assert all(p.grad is None for p in c.q_net.parameters())
    assert not all(torch.equal(a, b) for a, b in zip(v_before, _params(c.v_net)))  # V did move

    v_before = _params(c.v_net)
    c.v_net.zero_grad(set_to_none=True)
    c.update_q(ob, ac, next_ob, re, done)
    assert all(torch.equal(a, b) for a, b in zip(v_before, _params(c.v_net)))
    assert all(p.grad is None for p in c.v_net.parameters())


def test_actor_step_leaves_critic_alone():
    agent = _agent()
    c = agent.critic
    ob, ac, *_ = _batch(8)
    critic_before = _params(c)
    with blank("iql_advantage / iql_exp_weights"):
        agent.actor.update(ob, ac, adv_n=agent.estimate_advantage(ob, ac))
    assert all(torch.equal(a, b) for a, b in zip(critic_before, _params(c)))
    assert all(p.grad is None for p in c.v_net.parameters()), (
        "iql_advantage: the actor's loss reached V - compute the advantage under torch.no_grad()")


# ------------------------------------------------------------------ cosine schedule
def test_cosine_lr_values():
    assert cosine_lr(3e-4, 0, 100) == pytest.approx(3e-4)
    assert cosine_lr(3e-4, 25, 100) == pytest.approx(3e-4 * (1 + math.sqrt(0.5)) / 2)
    assert cosine_lr(3e-4, 50, 100) == pytest.approx(1.5e-4)
    assert cosine_lr(3e-4, 100, 100) == pytest.approx(0.0, abs=1e-12)
    assert cosine_lr(3e-4, 150, 100) == pytest.approx(0.0, abs=1e-12)


def test_actor_lr_follows_schedule_and_survives_resume():
    agent = _agent(total_steps=4)
    batch = _batch()
    lrs = [agent.train(*batch)["Actor LR"].item() for _ in range(3)]
    expected = [3e-4 * (1 + math.cos(math.pi * k / 4)) / 2 for k in range(5)]
    assert lrs == pytest.approx(expected[:3])
    assert agent.actor.optimizer.param_groups[0]["lr"] == pytest.approx(expected[2])

    resumed = _agent(total_steps=4)
    resumed.load_state_dict(agent.state_dict())
    assert resumed.train(*batch)["Actor LR"].item() == pytest.approx(expected[3])

    constant = _agent(total_steps=4, actor_lr_schedule="constant")
    assert [constant.train(*batch)["Actor LR"].item() for _ in range(3)] == pytest.approx([3e-4] * 3)


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="expectile"):
        _agent(expectile=1.0)
    with pytest.raises(ValueError, match="schedule"):
        _agent(actor_lr_schedule="linear")
    with pytest.raises(ValueError, match="temperature"):
        _agent(temperature=-1.0)


# ------------------------------------------------------------------ learning
CHAIN_N, GOAL_REWARD, P_GOOD = 5, 10.0, 0.2


def _chain_dataset(n: int, rng: np.random.Generator):
    """States 0..4 (one-hot), actions 0 = left (bad, 80% of the data) and 1 = right (good); stepping right
    into state 4 pays GOAL_REWARD and ends the episode, every other step pays 0."""
    s = rng.integers(0, CHAIN_N - 1, size=n)
    a = (rng.random(n) < P_GOOD).astype(np.int64)
    s2 = np.where(a == 1, s + 1, np.maximum(s - 1, 0))
    done = (s2 == CHAIN_N - 1).astype(np.float32)
    eye = np.eye(CHAIN_N, dtype=np.float32)
    return eye[s], a, done * GOAL_REWARD, eye[s2], done


def _greedy_reaches_goal(actor, max_steps: int = 10) -> bool:
    s = 0
    for _ in range(max_steps):
        a = int(actor.get_action(np.eye(CHAIN_N, dtype=np.float32)[s], deterministic=True))
        s = s + 1 if a == 1 else max(s - 1, 0)
        if s == CHAIN_N - 1:
            return True
    return False


def _fit(agent: IQLAgent, data, steps: int, batch_size: int, seed: int) -> IQLAgent:
    rng = np.random.default_rng(seed)
    tensors = [torch.as_tensor(x) for x in data]
    for _ in range(steps):
        idx = torch.as_tensor(rng.integers(0, len(tensors[0]), size=batch_size))
        agent.train(*(t[idx] for t in tensors))
    return agent


def _chain_config(temperature: float, steps: int) -> IQLConfig:
    return IQLConfig(total_steps=steps, actor_size=32, critic_size=32, actor_lr=3e-3, critic_lr=3e-3,
                     value_lr=3e-3, gamma=0.9, tau=0.05, expectile=0.9, temperature=temperature)


@pytest.mark.slow
def test_iql_solves_chain_that_behaviour_cloning_fails():
    """Multi-step credit assignment: only V(s') bootstrapping tells states 0-2 that 'right' is good."""
    steps = 250
    data = _chain_dataset(2000, np.random.default_rng(0))
    iql = _fit(IQLAgent(CHAIN_N, 2, True, _chain_config(10.0, steps)), data, steps, 128, seed=0)
    assert _greedy_reaches_goal(iql.actor)
    probs = torch.softmax(iql.actor.logits_net(torch.eye(CHAIN_N)[: CHAIN_N - 1]), -1)[:, 1]
    assert (probs > 0.5).all(), probs
    # the values are ordered along the chain, as bootstrapping from V(s') must make them
    v = iql.critic.get_v(torch.eye(CHAIN_N)[: CHAIN_N - 1]).detach()
    assert (v[1:] > v[:-1]).all(), v

    # behaviour cloning = the same update with beta = 0 (all weights 1): copies the majority 'left'
    bc = _fit(IQLAgent(CHAIN_N, 2, True, _chain_config(0.0, steps)), data, steps, 128, seed=0)
    assert not _greedy_reaches_goal(bc.actor)


@pytest.mark.slow
def test_iql_picks_rare_good_action_in_continuous_bandit():
    """One-step continuous problem: 90% of actions near -0.5 pay 0, 10% near +0.6 pay 1."""
    rng = np.random.default_rng(0)
    n = 2000
    good = rng.random(n) < 0.1
    ac = np.where(good, 0.6, -0.5) + rng.normal(0, 0.05, n)
    ob = rng.uniform(-1, 1, (n, 1)).astype(np.float32)
    data = (ob, ac.astype(np.float32)[:, None], good.astype(np.float32), ob, np.ones(n, np.float32))
    steps = 150

    def mean_action(temperature: float) -> float:
        cfg = dataclasses.replace(_chain_config(temperature, steps), gamma=0.99)
        agent = _fit(IQLAgent(1, 1, False, cfg), data, steps, 128, seed=1)
        return float(agent.actor.get_action(np.linspace(-1, 1, 9)[:, None], deterministic=True).mean())

    assert mean_action(10.0) > 0.4  # IQL: the rare good action
    assert mean_action(0.0) < 0.0  # behaviour cloning: near the data mean, about -0.39
