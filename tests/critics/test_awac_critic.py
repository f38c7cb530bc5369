"""AWAC's critic: the helpers, and one update step (blank ``critic_loss``) against a hand-computed step."""

import numpy as np
import pytest
import torch

from cs224r.critics.awac_critic import AWACCritic
from tests.blank_checks import adam_step, assert_same_params, blank, perturb, q_value, twin


def _set_linear(net, weight, bias):
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([weight], dtype=torch.float32))
        net[0].bias.copy_(torch.tensor([bias], dtype=torch.float32))


def _linear_critic(gamma=0.9, tau=0.1):
    """Q(s, a) = w . [s, a] + b for each of the four nets, with distinct known weights."""
    critic = AWACCritic(ob_dim=1, ac_dim=1, n_layers=0, size=0, gamma=gamma, tau=tau, learning_rate=0.0)
    _set_linear(critic.q_net, [1.0, 2.0], 0.0)
    _set_linear(critic.q_net2, [0.5, 1.0], 1.0)
    _set_linear(critic.q_net_target, [2.0, -1.0], 0.5)
    _set_linear(critic.q_net2_target, [1.0, 1.0], -0.5)
    return critic


def _t(x, device):
    return torch.tensor(x, dtype=torch.float32, device=device)


def test_get_q_is_min_of_online_nets_and_target_q_of_target_nets(device):
    critic = _linear_critic()
    ob, ac = _t([[1.0], [-2.0]], device), _t([[0.5], [1.0]], device)
    # online: q1 = s + 2a = [2, 0]; q2 = 0.5 s + a + 1 = [2.5, 1]
    assert torch.allclose(critic.get_q(ob, ac), _t([2.0, 0.0], device))
    # targets: 2s - a + 0.5 = [2, -4.5]; s + a - 0.5 = [1, -1.5]
    assert torch.allclose(critic.get_target_q(ob, ac), _t([1.0, -4.5], device))
    assert critic.get_q(ob, ac).shape == (2,)


def test_critic_loss_on_linear_nets_by_hand(device):
    critic = _linear_critic(gamma=0.9)
    ob, ac = _t([[0.0], [1.0]], device), _t([[1.0], [0.0]], device)
    next_ob, next_ac = _t([[1.0], [-2.0]], device), _t([[0.5], [1.0]], device)
    reward, done = _t([-1.0, 0.0], device), _t([0.0, 1.0], device)
    # min target Q(s', a') = [1, -4.5]; the online nets would give [2, 0]; the second transition is terminal
    target = np.array([-1.0 + 0.9 * 1.0, 0.0])
    q1 = np.array([2.0, 1.0])  # s + 2a
    q2 = np.array([2.0, 1.5])  # 0.5 s + a + 1
    with blank("critic_loss"):
        info = critic.update(ob, ac, next_ob, reward, done, next_ac)
    got = float(info["Critic Loss"])
    no_mask = np.mean((q1 - np.array([-0.1, -4.05])) ** 2)
    online = np.mean((q1 - np.array([-1.0 + 0.9 * 2.0, 0.0])) ** 2)
    assert got != pytest.approx(no_mask, rel=1e-6), (
        "critic_loss: a terminal transition bootstrapped - multiply the next value by (1 - terminal_n)")
    assert got != pytest.approx(online, rel=1e-6), (
        "critic_loss: the TD target used the online Q-nets - use the target nets (self.get_target_q)")
    assert got == pytest.approx(np.mean((q1 - target) ** 2), rel=1e-6), (
        f"critic_loss: loss {got:.6g}, expected mean((q1 - target)**2) = {np.mean((q1 - target) ** 2):.6g} with "
        "target = reward_n + gamma * (1 - terminal_n) * min target-Q(next_ob_no, next_actions)")
    assert float(info["Critic Loss2"]) == pytest.approx(np.mean((q2 - target) ** 2), rel=1e-6), (
        "critic_loss: loss2 must be self.mse_loss(q2, target) with q2 from self.q_net2")


def _random_case(device, discrete=False, b=7):
    torch.manual_seed(2)
    critic = AWACCritic(ob_dim=3, ac_dim=2, n_layers=1, size=8, discrete=discrete, gamma=0.8,
                        learning_rate=0.05, max_grad_norm=10.0)
    perturb(critic.q_net_target, critic.q_net2_target)  # the targets differ from the online nets
    ob, next_ob = torch.randn(b, 3, device=device), torch.randn(b, 3, device=device)
    if discrete:
        ac, next_ac = torch.randint(0, 2, (b,), device=device), torch.randint(0, 2, (b,), device=device)
    else:
        ac, next_ac = torch.rand(b, 2, device=device) * 2 - 1, torch.rand(b, 2, device=device) * 2 - 1
    reward = torch.randn(b, device=device)
    done = torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0][:b], device=device)
    return critic, (ob, ac, next_ob, reward, done, next_ac)


def _hand_step(critic, ob, ac, next_ob, reward, done, next_ac):
    """The critic step written out: TD target from the target nets, MSE of each online net, Adam step."""
    def q(net, o, a):
        return net(o).gather(1, a.view(-1, 1))[:, 0] if critic.discrete else q_value(net, o, a)

    with torch.no_grad():
        nxt = torch.minimum(q(critic.q_net_target, next_ob, next_ac), q(critic.q_net2_target, next_ob, next_ac))
        y = reward + critic.gamma * (1.0 - done) * nxt
    loss = ((q(critic.q_net, ob, ac) - y) ** 2).mean()
    loss2 = ((q(critic.q_net2, ob, ac) - y) ** 2).mean()
    adam_step([*critic.q_net.parameters(), *critic.q_net2.parameters()], critic.optimizer, loss + loss2,
              critic.max_grad_norm)
    return loss.item(), loss2.item()


@pytest.mark.parametrize("discrete", [False, True])
def test_critic_loss_step_matches_hand_step(device, discrete):
    critic, batch = _random_case(device, discrete)
    ref = twin(critic)
    for net in (critic.q_net_target, critic.q_net2_target):
        net.requires_grad_(True)  # so that a TD target built with gradient shows up in their .grad
    with blank("critic_loss"):
        info = critic.update(*batch)
    loss, loss2 = _hand_step(ref, *batch)
    assert all(p.grad is None for net in (critic.q_net_target, critic.q_net2_target) for p in net.parameters()), (
        "critic_loss: gradient reached the target nets - compute the TD target under torch.no_grad()")
    assert float(info["Critic Loss"]) == pytest.approx(loss, rel=1e-5), (
        f"critic_loss: loss {float(info['Critic Loss']):.6g}, expected {loss:.6g} = self.mse_loss(q1, target), q1 "
        "from self.q_net at (ob_no, ac_na), target = reward_n + gamma * (1 - terminal_n) * "
        "self.get_target_q(next_ob_no, next_actions)")
    assert float(info["Critic Loss2"]) == pytest.approx(loss2, rel=1e-5), (
        f"critic_loss: loss2 {float(info['Critic Loss2']):.6g}, expected {loss2:.6g} = self.mse_loss(q2, target), "
        "q2 from self.q_net2 at (ob_no, ac_na)")
    for name in ("q_net", "q_net2", "q_net_target", "q_net2_target"):
        assert_same_params(getattr(critic, name), getattr(ref, name),
                           f"critic_loss: after one step {name} differs from the hand-computed step (is the "
                           "target computed without gradient, and are both losses on the online nets?)")


def test_critic_update_takes_next_actions_last():
    """update(ob_no, ac_na, next_ob_no, reward_n, terminal_n, next_actions): rewards are not actions."""
    critic, (ob, ac, next_ob, reward, done, next_ac) = _random_case(torch.device("cpu"))
    ref = twin(critic)
    with blank("critic_loss"):
        info = critic.update(ob, ac, next_ob, reward, done, next_actions=next_ac)
    loss, _ = _hand_step(ref, ob, ac, next_ob, reward, done, next_ac)
    assert float(info["Critic Loss"]) == pytest.approx(loss, rel=1e-5), (
        "critic_loss: with next_actions passed by keyword the loss differs - use next_actions for a'")


def test_target_nets_move_exactly_tau_toward_online():
    critic = AWACCritic(ob_dim=3, ac_dim=2, n_layers=1, size=4, tau=0.25)
    with torch.no_grad():
        for p in critic.q_net.parameters():
            p.add_(1.0)
    online = [p.clone() for p in critic.q_net.parameters()]
    old = [p.clone() for p in critic.q_net_target.parameters()]
    critic.update_target_network()
    for p, o, t in zip(critic.q_net_target.parameters(), online, old):
        assert torch.allclose(p, 0.75 * t + 0.25 * o)


def test_column_shaped_reward_is_caught():
    critic = AWACCritic(ob_dim=3, ac_dim=2, n_layers=1, size=4)
    b = 5
    with pytest.raises(ValueError, match=r"\[B\]"):
        critic.update(torch.randn(b, 3), torch.randn(b, 2), torch.randn(b, 3), torch.randn(b, 1), torch.zeros(b, 1),
                      torch.randn(b, 2))


def test_old_checkpoint_keys_still_load():
    critic = AWACCritic(ob_dim=3, ac_dim=2, n_layers=1, size=4)
    old = {k.replace("q_net2_target.", "q_net_target2."): v + 1 for k, v in critic.state_dict().items()}
    fresh = AWACCritic(ob_dim=3, ac_dim=2, n_layers=1, size=4)
    fresh.load_state_dict(old)
    assert torch.equal(fresh.q_net2_target[0].weight, old["q_net_target2.0.weight"])


def test_discrete_q_value_gathers_taken_action(device):
    critic = AWACCritic(ob_dim=2, ac_dim=3, n_layers=0, size=0, discrete=True)
    with torch.no_grad():
        critic.q_net[0].weight.zero_()
        critic.q_net[0].bias.copy_(torch.tensor([1.0, 5.0, -2.0]))
    q = critic._get_q_value(critic.q_net, torch.zeros(3, 2, device=device), torch.tensor([2, 0, 1], device=device))
    assert torch.allclose(q, _t([-2.0, 1.0, 5.0], device))
