"""The AWAC agent: the advantage (blank ``estimate_advantage``) and one training step (blanks
``next_actions`` and ``actor_update``), each against a hand-written reference."""

import numpy as np
import pytest
import torch

from cs224r.agents.awac_agent import AWACAgent
from cs224r.infrastructure.config import AWACConfig
from tests.blank_checks import assert_same_params, blank, perturb, q_value

TRAIN_BLANKS = "next_actions / actor_update"


def _agent(discrete=False, **kw):
    base = dict(actor_n_layers=1, actor_size=8, critic_n_layers=1, critic_size=8)
    cfg = AWACConfig(**{**base, **kw})
    return AWACAgent(ob_dim=3, ac_dim=2, discrete=discrete, config=cfg)


def _batch(b=16, discrete=False, seed=4):
    g = torch.Generator().manual_seed(seed)
    ac = torch.randint(0, 2, (b,), generator=g) if discrete else torch.rand(b, 2, generator=g) * 2 - 1
    return (torch.randn(b, 3, generator=g), ac, -torch.ones(b), torch.randn(b, 3, generator=g),
            (torch.rand(b, generator=g) < 0.3).float())


def _min_q(net1, net2, ob, ac):
    return torch.minimum(q_value(net1, ob, ac), q_value(net2, ob, ac))


def test_estimate_advantage_by_hand(device):
    agent = _agent()
    critic = agent.critic
    perturb(critic.q_net_target, critic.q_net2_target)  # make the target nets differ from the online nets
    ob, ac = torch.randn(5, 3, device=device), torch.rand(5, 2, device=device)
    torch.manual_seed(7)
    a_pi = agent.actor(ob).sample()
    with torch.no_grad():
        q_data, q_pi = _min_q(critic.q_net, critic.q_net2, ob, ac), _min_q(critic.q_net, critic.q_net2, ob, a_pi)
        q_mean = _min_q(critic.q_net, critic.q_net2, ob, agent.actor(ob).mean)
        t_data = _min_q(critic.q_net_target, critic.q_net2_target, ob, ac)
        t_pi = _min_q(critic.q_net_target, critic.q_net2_target, ob, a_pi)
    torch.manual_seed(7)
    with blank("estimate_advantage"):
        adv = agent.estimate_advantage(ob, ac)
    assert adv.shape == (5,), (
        f"estimate_advantage: shape {tuple(adv.shape)}, expected [B] (use self.critic.get_q, which squeezes)")
    assert not adv.requires_grad, (
        "estimate_advantage: the advantage carries gradient - compute it under torch.no_grad()")
    assert not torch.allclose(adv, q_pi - q_data, atol=1e-6), (
        "estimate_advantage: the sign is flipped - it is Q(s, a_data) - Q(s, a_pi)")
    assert not torch.allclose(adv, t_data - t_pi, atol=1e-6), (
        "estimate_advantage: used the target nets - the advantage uses the ONLINE nets (self.critic.get_q)")
    assert not torch.allclose(adv, q_data - q_mean, atol=1e-6), (
        "estimate_advantage: used the policy's mean - sample one action with self.actor(ob_no).sample()")
    assert torch.allclose(adv, q_data - q_pi, atol=1e-6), (
        "estimate_advantage: expected self.critic.get_q(ob_no, ac_na) - self.critic.get_q(ob_no, ac_pi) with one "
        "sample ac_pi = self.actor(ob_no).sample() (one sample, drawn once)")


class _Recorder:
    """Wraps the agent's calls in train() to see their order and arguments."""

    def __init__(self, agent):
        self.calls = []
        for owner, name in ((agent.critic, "update"), (agent, "estimate_advantage"), (agent.actor, "update")):
            self._wrap(owner, name, f"{type(owner).__name__}.{name}")

    def _wrap(self, owner, name, label):
        original = getattr(owner, name)

        def wrapped(*args, **kwargs):
            out = original(*args, **kwargs)
            self.calls.append((label, args, kwargs, out))
            return out

        setattr(owner, name, wrapped)

    def labels(self):
        return [c[0] for c in self.calls]


def test_next_actions_are_one_policy_sample_at_the_next_states():
    agent = _agent()
    ob, ac, re, next_ob, done = _batch()
    torch.manual_seed(11)
    expected = agent.actor(next_ob).sample()
    rec = _Recorder(agent)
    torch.manual_seed(11)
    with blank("next_actions"):
        agent.train(ob.numpy(), ac.numpy(), re.numpy(), next_ob.numpy(), done.numpy())
    crit = [c for c in rec.calls if c[0] == "AWACCritic.update"]
    assert len(crit) == 1, f"next_actions / actor_update: the critic must be updated once per step, got {len(crit)}"
    _, args, kwargs, _ = crit[0]
    next_actions = kwargs.get("next_actions", args[5] if len(args) > 5 else None)
    assert isinstance(next_actions, torch.Tensor), "next_actions: next_actions must be a tensor"
    assert not next_actions.requires_grad, (
        "next_actions: the sampled actions carry gradient into the actor - sample under torch.no_grad() with "
        ".sample()")
    assert next_actions.shape == (16, 2), f"next_actions: shape {tuple(next_actions.shape)}, expected [B, ac_dim]"
    assert torch.equal(next_actions, expected), (
        "next_actions: expected one sample of self.actor(ptu.from_numpy(next_ob_no)), drawn before the critic "
        "update (not the mean, not the dataset action, not at ob_no, and no other sample drawn first)")


def test_actor_update_comes_after_the_critic_with_a_fresh_advantage():
    agent = _agent()
    ob, ac, re, next_ob, done = _batch()
    rec = _Recorder(agent)
    with blank("actor_update"):
        log = agent.train(ob, ac, re, next_ob, done)
    assert rec.labels() == ["AWACCritic.update", "AWACAgent.estimate_advantage", "MLPPolicyAWAC.update"], (
        f"actor_update: train() called {rec.labels()}; the order is the critic update (starter code), then "
        "adv_n = self.estimate_advantage(ob_no, ac_na), then self.actor.update(ob_no, ac_na, adv_n=adv_n), once each")
    _, adv_args, adv_kwargs, adv_n = rec.calls[1]
    _, args, kwargs, actor_loss = rec.calls[2]
    given = [*args, *kwargs.values()]
    assert len(given) == 3 and given[2] is adv_n, (
        "actor_update: pass the advantage from self.estimate_advantage to self.actor.update as adv_n=adv_n")
    for got, want, what in ((adv_args[0], ob, "ob_no"), (adv_args[1], ac, "ac_na"), (given[0], ob, "ob_no"),
                            (given[1], ac, "ac_na")):
        assert torch.equal(torch.as_tensor(got).cpu().float(), want.float()), (
            f"actor_update: estimate_advantage and actor.update take the dataset's {what}")
    assert log["Actor Loss"] is actor_loss, "actor_update: actor_loss must be what self.actor.update returns"


def _big_lr_agent():
    return _agent(actor_lr=0.05, critic_lr=0.05, tau=0.5, actor_n_layers=2, critic_n_layers=2, actor_size=16,
                  critic_size=16)


def _reference_step(agent, ob, ac, re, next_ob, done, order):
    """One step written out; ``order`` "critic-first" is AWAC's, the others are the usual wrong orders."""
    with torch.no_grad():
        next_actions = agent.actor(next_ob).sample()
    if order == "critic-first":
        agent.critic.update(ob, ac, next_ob, re, done, next_actions)
        agent.actor.update(ob, ac, adv_n=agent.estimate_advantage(ob, ac))
    elif order == "advantage-before-critic":
        adv_n = agent.estimate_advantage(ob, ac)
        agent.critic.update(ob, ac, next_ob, re, done, next_actions)
        agent.actor.update(ob, ac, adv_n=adv_n)
    else:  # actor first
        agent.actor.update(ob, ac, adv_n=agent.estimate_advantage(ob, ac))
        agent.critic.update(ob, ac, next_ob, re, done, next_actions)
    agent.critic.update_target_network()


def test_train_step_matches_the_hand_order_and_the_wrong_orders_differ():
    """Large learning rates, three steps: a wrong order moves the weights far beyond float rounding."""
    batches = [_batch(seed=s) for s in (1, 2, 3)]
    agents = {}
    for order in ("critic-first", "advantage-before-critic", "actor-first"):
        torch.manual_seed(0)
        agents[order] = _big_lr_agent()
        for i, b in enumerate(batches):
            torch.manual_seed(100 + i)
            _reference_step(agents[order], *b, order)
    torch.manual_seed(0)
    agent = _big_lr_agent()
    with blank(TRAIN_BLANKS):
        for i, b in enumerate(batches):
            torch.manual_seed(100 + i)
            agent.train(*b)
    want = agents["critic-first"]
    for wrong in ("advantage-before-critic", "actor-first"):  # the test can tell the orders apart
        pairs = zip(want.actor.parameters(), agents[wrong].actor.parameters())
        gap = max(float((p - q).detach().abs().max()) for p, q in pairs)
        assert gap > 1e-3, f"test too weak: the {wrong} order moves the actor by only {gap:.2g}"
    for part in ("actor", "critic"):
        assert_same_params(getattr(agent, part), getattr(want, part),
                           f"{TRAIN_BLANKS}: after three steps the {part} differs from: sample next_actions at "
                           "next_ob_no, update the critic, estimate the advantage with the UPDATED critic, "
                           "update the actor (once each, in that order)")


@pytest.mark.parametrize("discrete", [False, True])
def test_train_returns_losses_and_updates_everything(discrete):
    agent = _agent(discrete=discrete, tau=0.5)
    nets = {"actor": agent.actor, "q": agent.critic.q_net, "q2": agent.critic.q_net2,
            "target": agent.critic.q_net_target, "target2": agent.critic.q_net2_target}
    before = {k: [p.clone() for p in n.parameters()] for k, n in nets.items()}
    with blank(TRAIN_BLANKS):
        info = agent.train(*_batch(discrete=discrete))
    for key in ("Critic Loss", "Critic Loss2", "Actor Loss", "Advantage Mean"):
        assert torch.isfinite(torch.as_tensor(info[key])), f"{TRAIN_BLANKS}: {key} is not finite"
    for key, net in nets.items():
        assert any(not torch.equal(p, o) for p, o in zip(net.parameters(), before[key])), (
            f"{TRAIN_BLANKS}: one train() step left {key} unchanged")


def test_train_accepts_numpy_arrays():
    agent = _agent()
    with blank("next_actions"):
        info = agent.train(*(x.numpy() for x in _batch()))
    assert float(info["Critic Loss"]) >= 0


def test_state_dict_round_trip():
    a, b = _agent(), _agent()
    a.train(*_batch())
    b.load_state_dict(a.state_dict())
    for p, q in zip(a.actor.parameters(), b.actor.parameters()):
        assert torch.equal(p, q)
    for p, q in zip(a.critic.parameters(), b.critic.parameters()):
        assert torch.equal(p, q)
    assert np.isfinite(float(a.train(*_batch())["Actor Loss"]))
