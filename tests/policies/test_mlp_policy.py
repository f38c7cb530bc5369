import math

import numpy as np
import pytest
import torch

from cs224r.policies.MLP_policy import MLPPolicy, MLPPolicyAWAC


def _linear_policy(cls=MLPPolicyAWAC, lr=1e-3, **kw):
    """A policy whose mean net is one Linear layer: mean = tanh(W s + b)."""
    return cls(ob_dim=2, ac_dim=2, n_layers=0, size=0, discrete=False, learning_rate=lr, **kw)


def test_forward_mean_and_clamped_std(device):
    pi = _linear_policy()
    with torch.no_grad():
        pi.mean_net[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, -2.0]]))
        pi.mean_net[0].bias.copy_(torch.tensor([0.5, 0.0]))
        pi.logstd.copy_(torch.tensor([-7.0, 3.0]))  # both outside [-5, 2]
    obs = torch.tensor([[0.2, 0.3]], device=device)
    dist = pi(obs, temperature=0.5)
    assert torch.allclose(dist.mean, torch.tanh(torch.tensor([[0.7, -0.6]], device=device)))
    expected_std = torch.tensor([math.exp(-5) * 0.5, math.exp(2) * 0.5], device=device)
    assert torch.allclose(dist.scale_tril, torch.diag(expected_std))


def test_awac_weights_by_hand(device):
    pi = _linear_policy(lambda_awac=0.3, max_weight=50.0)
    adv = torch.tensor([-1.0, 0.0, 0.3, 2.0], device=device)
    expected = torch.tensor([math.exp(-1 / 0.3), 1.0, math.e, 50.0], device=device)  # exp(2/0.3)=786 -> 50
    weights = pi.awac_weights(adv)
    assert weights.shape == (4,), f"awac_weights: shape {tuple(weights.shape)}, expected [B]"
    assert float(weights[3]) <= 50.0 + 1e-4, "awac_weights: weights must be clamped at max_weight (50)"
    assert torch.allclose(weights, expected, rtol=1e-5), (
        "awac_weights: expected exp(adv / lambda_awac) - divide the advantage by lambda, then exponentiate")


def test_awac_weights_do_not_backprop_into_advantage():
    pi = _linear_policy()
    adv = torch.tensor([0.1, -0.2], requires_grad=True)
    assert not pi.awac_weights(adv).requires_grad, (
        "awac_weights: gradient flows into the advantage - detach it (the weights are constants for the actor)")


def test_actor_loss_by_hand(device):
    pi = _linear_policy(lambda_awac=0.5)
    with torch.no_grad():
        pi.mean_net[0].weight.zero_()
        pi.mean_net[0].bias.copy_(torch.tensor([0.3, -0.1]))
        pi.logstd.copy_(torch.tensor([0.0, math.log(0.5)]))
    obs = torch.zeros(3, 2, device=device)
    acts = np.array([[0.1, 0.2], [-0.5, 0.0], [0.9, -0.9]])
    adv = np.array([0.2, -0.4, 1.0])
    mu, sigma = np.tanh([0.3, -0.1]), np.array([1.0, 0.5])
    log_prob = (-0.5 * ((acts - mu) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)).sum(axis=1)
    expected = -(log_prob * np.exp(adv / 0.5)).mean()
    loss = pi.update(obs, torch.tensor(acts, dtype=torch.float32, device=device),
                     torch.tensor(adv, dtype=torch.float32, device=device))
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_actor_update_moves_mean_toward_high_advantage_action():
    pi = _linear_policy(lr=0.02, lambda_awac=0.1)
    obs = torch.zeros(2, 2)
    acts = torch.tensor([[0.5, 0.5], [-0.5, -0.5]])
    adv = torch.tensor([1.0, -1.0])
    for _ in range(200):
        pi.update(obs, acts, adv)
    assert torch.allclose(pi(obs[:1]).mean, torch.tensor([[0.5, 0.5]]), atol=0.05)


def test_advantage_shape_mismatch_is_caught():
    pi = _linear_policy()
    with pytest.raises(ValueError, match=r"\[B\]"):
        pi.update(torch.zeros(4, 2), torch.zeros(4, 2), torch.zeros(4, 1))


def test_discrete_policy_is_categorical_and_argmax_at_eval(device):
    pi = MLPPolicy(ob_dim=2, ac_dim=3, n_layers=0, size=0, discrete=True)
    with torch.no_grad():
        pi.logits_net[0].weight.zero_()
        pi.logits_net[0].bias.copy_(torch.tensor([0.0, 2.0, 1.0]))
    dist = pi(torch.zeros(1, 2, device=device))
    assert isinstance(dist, torch.distributions.Categorical)
    assert np.array_equal(pi.get_action(np.zeros((4, 2)), deterministic=True), [1, 1, 1, 1])
    assert pi.get_action(np.zeros(2)).shape == ()


def test_continuous_get_action_shapes_and_deterministic_mean():
    pi = _linear_policy()
    with torch.no_grad():
        pi.mean_net[0].bias.copy_(torch.tensor([0.2, -0.3]))
        pi.mean_net[0].weight.zero_()
    assert pi.get_action(np.zeros((5, 2))).shape == (5, 2)
    assert np.allclose(pi.get_action(np.zeros(2), deterministic=True), np.tanh([0.2, -0.3]), atol=1e-6)
