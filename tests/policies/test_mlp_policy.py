"""The policies: the Gaussian and categorical heads, and AWAC's actor step (blank ``exp_weights``)."""

import math

import numpy as np
import pytest
import torch

from cs224r.policies.MLP_policy import MLPPolicy, MLPPolicyAWAC
from tests.blank_checks import adam_step, assert_same_params, blank, policy_log_prob, twin


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


def _awac_case(device, lambda_awac=0.5, lr=0.05, max_grad_norm=10.0):
    torch.manual_seed(1)
    pi = MLPPolicyAWAC(ob_dim=3, ac_dim=2, n_layers=1, size=8, learning_rate=lr, max_grad_norm=max_grad_norm,
                       lambda_awac=lambda_awac, max_weight=50.0)
    with torch.no_grad():
        pi.logstd.copy_(torch.tensor([-0.5, 0.3]))
    ob = torch.randn(6, 3, device=device)
    ac = (torch.rand(6, 2) * 1.8 - 0.9).to(device)
    adv = torch.tensor([-1.0, 0.0, 0.4, 3.0, -0.3, 1.1], device=device)  # exp(3 / 0.5) = 403 -> clamped to 50
    return pi, ob, ac, adv


def _awac_loss(pi, ob, ac, weights):
    return -(policy_log_prob(pi, ob, ac) * weights.clamp(max=50.0)).mean()


def test_exp_weights_actor_loss_and_step_by_hand(device):
    pi, ob, ac, adv = _awac_case(device)
    ref = twin(pi)
    expected = _awac_loss(ref, ob, ac, torch.exp(adv / 0.5))
    with torch.no_grad():
        wrong = {"exp(adv_n * lambda) - divide by self.lambda_awac, do not multiply": torch.exp(adv * 0.5),
                 "exp(-adv_n / lambda) - the sign is flipped": torch.exp(-adv / 0.5),
                 "adv_n / lambda without torch.exp": adv / 0.5,
                 "exp(adv_n) / lambda - divide inside the exponential": torch.exp(adv) / 0.5,
                 "exp(adv_n) - lambda is missing": torch.exp(adv),
                 "a softmax over the batch - the weights are not normalised": torch.softmax(adv / 0.5, 0)}
        wrong = {why: float(_awac_loss(ref, ob, ac, w)) for why, w in wrong.items()}
    with blank("exp_weights"):
        loss = pi.update(ob, ac, adv_n=adv)
    for why, value in wrong.items():
        assert float(loss) != pytest.approx(value, rel=1e-5), f"exp_weights: the weights are {why}"
    want = float(expected.detach())
    assert float(loss) == pytest.approx(want, rel=1e-5), (
        f"exp_weights: actor loss {float(loss):.6g}, expected {want:.6g} from "
        "exp_weights = torch.exp(adv_n / self.lambda_awac) (one weight per sample, shape [B])")
    adam_step(list(ref.parameters()), ref.optimizer, expected, ref.max_grad_norm)
    assert_same_params(pi, ref, "exp_weights: the actor's step differs from the hand-computed Adam step on "
                                "-(log_prob_n * exp(adv_n / lambda_awac).clamp(max=50)).mean()")


def test_exp_weights_use_lambda_awac_of_the_policy(device):
    """Another lambda and a batch without clamping: a hard-coded 0.3 or 1.0 is caught."""
    pi, ob, ac, adv = _awac_case(device, lambda_awac=2.0)
    expected = _awac_loss(pi, ob, ac, torch.exp(adv / 2.0)).detach()
    with blank("exp_weights"):
        loss = pi.update(ob, ac, adv_n=adv)
    assert float(loss) == pytest.approx(float(expected), rel=1e-5), (
        "exp_weights: with lambda_awac = 2 the weights must be exp(adv_n / 2) - use self.lambda_awac")


def test_exp_weights_without_advantages_is_an_error():
    pi, ob, ac, _ = _awac_case(torch.device("cpu"))
    with pytest.raises(ValueError, match="adv_n"):
        pi.update(ob, ac)


@pytest.mark.slow
def test_actor_update_moves_mean_toward_high_advantage_action():
    pi = _linear_policy(lr=0.02, lambda_awac=0.1)
    obs = torch.zeros(2, 2)
    acts = torch.tensor([[0.5, 0.5], [-0.5, -0.5]])
    adv = torch.tensor([1.0, -1.0])
    with blank("exp_weights"):
        for _ in range(200):
            pi.update(obs, acts, adv_n=adv)
    assert torch.allclose(pi(obs[:1]).mean, torch.tensor([[0.5, 0.5]]), atol=0.05), (
        "exp_weights: 200 steps did not move the mean to the high-advantage action")


def test_advantage_shape_mismatch_is_caught():
    pi = _linear_policy()
    with pytest.raises(ValueError, match=r"\[B\]"):
        pi.update(torch.zeros(4, 2), torch.zeros(4, 2), adv_n=torch.zeros(4, 1))


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
