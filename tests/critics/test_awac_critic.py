import numpy as np
import pytest
import torch

from cs224r.critics.awac_critic import AWACCritic


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
    _set_linear(critic.q_net_target2, [1.0, 1.0], -0.5)
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


def test_td_target_masks_terminals_and_uses_target_nets(device):
    critic = _linear_critic(gamma=0.9)
    next_ob, next_ac = _t([[1.0], [-2.0]], device), _t([[0.5], [1.0]], device)
    reward, done = _t([-1.0, -1.0], device), _t([0.0, 1.0], device)
    target = critic.td_target(next_ob, next_ac, reward, done)
    assert target.shape == (2,), (
        f"critic_target: target has shape {tuple(target.shape)}, expected [B] - a [B, 1] tensor was broadcast "
        "against a [B] one (check .squeeze / unsqueeze)")
    assert not target.requires_grad, "critic_target: the TD target carries gradient - compute it under torch.no_grad()"
    # min target Q(s', a') = [1, -4.5]; the online nets would give min Q = [2, 0]
    assert float(target[1]) == -1.0, (
        "critic_target: a terminal transition must not bootstrap - multiply the next value by (1 - terminal)")
    assert abs(float(target[0]) - (-1.0 + 0.9 * 2.0)) > 1e-4, (
        "critic_target: used the online Q-nets; the target must use the target nets (get_target_q)")
    assert torch.allclose(target, _t([-1.0 + 0.9 * 1.0, -1.0], device)), (
        "critic_target: expected reward + gamma * (1 - terminal) * min target-Q(next_ob, next_ac)")


def test_update_losses_by_hand(device):
    critic = _linear_critic(gamma=0.9)
    ob, ac = _t([[0.0], [1.0]], device), _t([[1.0], [0.0]], device)
    next_ob, next_ac = _t([[1.0], [-2.0]], device), _t([[0.5], [1.0]], device)
    reward, done = _t([-1.0, 0.0], device), _t([0.0, 1.0], device)
    target = np.array([-1.0 + 0.9 * 1.0, 0.0])
    q1 = np.array([2.0, 1.0])  # s + 2a
    q2 = np.array([2.0, 1.5])  # 0.5 s + a + 1
    info = critic.update(ob, ac, next_ob, next_ac, reward, done)
    assert float(info["Critic Loss"]) == pytest.approx(np.mean((q1 - target) ** 2), rel=1e-6)
    assert float(info["Critic Loss2"]) == pytest.approx(np.mean((q2 - target) ** 2), rel=1e-6)


def test_no_gradient_reaches_target_nets_and_only_online_nets_move():
    critic = AWACCritic(ob_dim=3, ac_dim=2, n_layers=2, size=8, learning_rate=1e-2)
    targets_before = [p.clone() for p in [*critic.q_net_target.parameters(), *critic.q_net_target2.parameters()]]
    online_before = [p.clone() for p in critic.q_net.parameters()]
    b = 16
    critic.update(torch.randn(b, 3), torch.randn(b, 2), torch.randn(b, 3), torch.randn(b, 2),
                  torch.randn(b), torch.zeros(b))
    for p, old in zip([*critic.q_net_target.parameters(), *critic.q_net_target2.parameters()], targets_before):
        assert p.grad is None and torch.equal(p, old)
    assert any(not torch.equal(p, old) for p, old in zip(critic.q_net.parameters(), online_before))


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
        critic.update(torch.randn(b, 3), torch.randn(b, 2), torch.randn(b, 3), torch.randn(b, 2),
                      torch.randn(b, 1), torch.zeros(b, 1))


def test_discrete_q_value_gathers_taken_action(device):
    critic = AWACCritic(ob_dim=2, ac_dim=3, n_layers=0, size=0, discrete=True)
    with torch.no_grad():
        critic.q_net[0].weight.zero_()
        critic.q_net[0].bias.copy_(torch.tensor([1.0, 5.0, -2.0]))
    q = critic._get_q_value(critic.q_net, torch.zeros(3, 2, device=device), torch.tensor([2, 0, 1], device=device))
    assert torch.allclose(q, _t([-2.0, 1.0, 5.0], device))
