import pytest
import torch

from cs224r.agents.awac_agent import AWACAgent
from cs224r.infrastructure.config import AWACConfig


def _agent(discrete=False, **kw):
    cfg = AWACConfig(actor_n_layers=1, actor_size=8, critic_n_layers=1, critic_size=8, **kw)
    return AWACAgent(ob_dim=3, ac_dim=2, discrete=discrete, config=cfg)


def _batch(b=16, discrete=False):
    ac = torch.randint(0, 2, (b,)) if discrete else torch.rand(b, 2) * 2 - 1
    return torch.randn(b, 3), ac, -torch.ones(b), torch.randn(b, 3), (torch.rand(b) < 0.2).float()


def test_next_action_is_a_policy_sample_without_gradient(device):
    agent = _agent()
    next_ob = torch.randn(6, 3, device=device)
    torch.manual_seed(3)
    expected = agent.actor(next_ob).sample()
    torch.manual_seed(3)
    next_ac = agent.sample_next_action(next_ob)
    assert not next_ac.requires_grad, (
        "next_action: the sampled action carries gradient into the actor - sample under torch.no_grad() with .sample()")
    assert next_ac.shape == (6, 2), f"next_action: shape {tuple(next_ac.shape)}, expected [B, ac_dim]"
    assert torch.equal(next_ac, expected), (
        "next_action: expected one sample from self.actor(next_ob) (not the mean, not an action from the batch)")


def test_advantage_by_hand_and_without_gradient(device):
    agent = _agent()
    with torch.no_grad():  # make the target nets differ from the online nets
        for p in [*agent.critic.q_net_target.parameters(), *agent.critic.q_net_target2.parameters()]:
            p.add_(0.5)
    ob, ac = torch.randn(5, 3, device=device), torch.rand(5, 2, device=device)
    torch.manual_seed(7)
    a_pi = agent.actor(ob).sample()
    critic = agent.critic
    q_data = torch.minimum(critic.q_net(torch.cat([ob, ac], 1)), critic.q_net2(torch.cat([ob, ac], 1))).squeeze(1)
    q_pi = torch.minimum(critic.q_net(torch.cat([ob, a_pi], 1)), critic.q_net2(torch.cat([ob, a_pi], 1))).squeeze(1)
    torch.manual_seed(7)
    adv = agent.estimate_advantage(ob, ac)
    assert adv.shape == (5,), f"advantage: shape {tuple(adv.shape)}, expected [B] (a [B, 1] Q value was not squeezed?)"
    assert not adv.requires_grad, "advantage: the advantage carries gradient - compute it under torch.no_grad()"
    assert not torch.allclose(adv, (q_pi - q_data).detach(), atol=1e-6), (
        "advantage: the sign is flipped - it is Q(s, a_data) - Q(s, a_pi)")
    assert torch.allclose(adv, (q_data - q_pi).detach(), atol=1e-6), (
        "advantage: expected min-Q(ob, ac) - min-Q(ob, a_pi) with the ONLINE nets (critic.get_q) and one "
        "sample a_pi ~ actor(ob)")


def test_critic_update_leaves_actor_untouched():
    agent = _agent()
    before = [p.clone() for p in agent.actor.parameters()]
    ob, ac, re, next_ob, done = _batch()
    agent.critic.update(ob, ac, next_ob, agent.sample_next_action(next_ob), re, done)
    for p, old in zip(agent.actor.parameters(), before):
        assert p.grad is None and torch.equal(p, old)


def test_actor_update_leaves_critic_untouched():
    agent = _agent()
    before = [p.clone() for p in agent.critic.parameters()]
    ob, ac, *_ = _batch()
    agent.actor.update(ob, ac, agent.estimate_advantage(ob, ac))
    for p, old in zip(agent.critic.parameters(), before):
        assert p.grad is None and torch.equal(p, old)


@pytest.mark.parametrize("discrete", [False, True])
def test_train_returns_losses_and_updates_everything(discrete):
    agent = _agent(discrete=discrete, tau=0.5)
    nets = {"actor": agent.actor, "q": agent.critic.q_net, "q2": agent.critic.q_net2,
            "target": agent.critic.q_net_target, "target2": agent.critic.q_net_target2}
    before = {k: [p.clone() for p in n.parameters()] for k, n in nets.items()}
    info = agent.train(*_batch(discrete=discrete))
    for key in ("Critic Loss", "Critic Loss2", "Actor Loss"):
        assert torch.isfinite(torch.as_tensor(info[key]))
    for key, net in nets.items():
        assert any(not torch.equal(p, o) for p, o in zip(net.parameters(), before[key])), key


def test_train_runs_the_steps_in_order():
    """next action -> critic update -> advantage with the updated critic -> actor update -> targets."""
    agent = _agent()
    twin = _agent()
    twin.load_state_dict(agent.state_dict())
    ob, ac, re, next_ob, done = _batch()
    torch.manual_seed(11)
    agent.train(ob, ac, re, next_ob, done)
    torch.manual_seed(11)
    next_ac = twin.sample_next_action(next_ob)
    twin.critic.update(ob, ac, next_ob, next_ac, re, done)
    adv = twin.estimate_advantage(ob, ac)
    twin.actor.update(ob, ac, adv)
    twin.critic.update_target_network()
    for p, q in zip([*agent.actor.parameters(), *agent.critic.parameters()],
                    [*twin.actor.parameters(), *twin.critic.parameters()]):
        assert torch.allclose(p, q, atol=1e-6), (
            "agent_updates: train() must sample next_ac, update the critic, estimate the advantage with the "
            "updated critic, then update the actor (in that order, once each)")


def test_train_accepts_numpy_arrays():
    agent = _agent()
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
