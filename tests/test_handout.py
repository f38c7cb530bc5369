"""The handout: blanking, hints, the messages students see, and the starter tree failing per blank."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cs224r.agents.awac_agent import AWACAgent
from cs224r.critics import iql_critic
from cs224r.critics.awac_critic import AWACCritic
from cs224r.critics.iql_critic import IQLCritic
from cs224r.infrastructure.handout import HINTS, HandoutError, blank_source, make_handout
from cs224r.policies.MLP_policy import MLPPolicyAWAC, MLPPolicyIQL
from tests.agents import test_awac_agent as agent_tests
from tests.agents import test_iql as iql_tests
from tests.critics import test_awac_critic as critic_tests
from tests.policies import test_mlp_policy as policy_tests

ROOT = Path(__file__).resolve().parent.parent
CPU = torch.device("cpu")
AWAC_BLANKS = {"awac_weights", "critic_target", "advantage", "next_action", "agent_updates"}
IQL_BLANKS = {"expectile_loss", "value_target", "q_target", "iql_weights"}


def test_blank_source_replaces_block_with_todo_and_loud_placeholder():
    src = "def f(x):\n    # BEGIN SOLUTION awac_weights\n    y = x * 2\n    # END SOLUTION\n    return y\n"
    out, blanks = blank_source(src)
    assert "y = x * 2" not in out
    assert "    # TODO(awac_weights): AWAC weights" in out
    assert 'raise NotImplementedError("TODO(awac_weights)' in out
    assert [b.name for b in blanks] == ["awac_weights"] and blanks[0].line == 2
    namespace: dict = {}
    exec(out, namespace)
    with pytest.raises(NotImplementedError, match=r"TODO\(awac_weights\)"):
        namespace["f"](1)


@pytest.mark.parametrize("src, problem", [
    ("# BEGIN SOLUTION no_such_blank\nx = 1\n# END SOLUTION\n", "no hint"),
    ("# BEGIN SOLUTION advantage\nx = 1\n", "no '# END SOLUTION'"),
    ("x = 1\n# END SOLUTION\n", "without a BEGIN"),
    ("# BEGIN SOLUTION advantage\n# BEGIN SOLUTION next_action\n# END SOLUTION\n", "nested"),
])
def test_malformed_markers_are_reported(src, problem):
    with pytest.raises(HandoutError, match=problem):
        blank_source(src, "f.py")


def test_handout_of_this_tree_blanks_every_awac_edit(tmp_path):
    blanks = make_handout(ROOT, tmp_path / "starter")
    assert AWAC_BLANKS | IQL_BLANKS <= {b.name for b in blanks}
    for py in (tmp_path / "starter" / "cs224r").rglob("*.py"):
        assert not any(line.strip().startswith("# BEGIN SOLUTION") for line in py.read_text().splitlines()), py
    assert set(HINTS) >= {b.name for b in blanks}
    assert not (tmp_path / "starter" / "cs224r" / "fast").exists(), "the batched solutions must not ship"
    with pytest.raises(HandoutError, match="already exists"):
        make_handout(ROOT, tmp_path / "starter")


# --- the messages a student sees for the usual mistakes -------------------------------------------

def _target_without_mask(self, next_ob, next_ac, reward, terminal):
    with torch.no_grad():
        return reward + self.gamma * self.get_target_q(next_ob, next_ac)


def _target_with_online_nets(self, next_ob, next_ac, reward, terminal):
    with torch.no_grad():
        return reward + self.gamma * (1 - terminal) * self.get_q(next_ob, next_ac)


def _target_as_column(self, next_ob, next_ac, reward, terminal):
    with torch.no_grad():
        return (reward + self.gamma * (1 - terminal) * self.get_target_q(next_ob, next_ac)).unsqueeze(1)


def _weights_without_clamp(self, adv):
    return torch.exp(adv.detach() / self.lambda_awac)


def _weights_with_gradient(self, adv):
    return torch.exp(adv / self.lambda_awac).clamp(max=self.max_weight)


def _advantage_with_gradient(self, ob, ac):
    a_pi = self.actor(ob).sample()
    return self.critic.get_q(ob, ac) - self.critic.get_q(ob, a_pi)


def _advantage_with_target_nets(self, ob, ac):
    with torch.no_grad():
        a_pi = self.actor(ob).sample()
        return self.critic.get_target_q(ob, ac) - self.critic.get_target_q(ob, a_pi)


def _next_action_with_gradient(self, next_ob):
    return self.actor(next_ob).rsample()


def _advantage_before_critic_update(self, ob, ac, re, next_ob, terminal):
    adv = self.estimate_advantage(ob, ac)
    log = self.critic.update(ob, ac, next_ob, self.sample_next_action(next_ob), re, terminal)
    log["Actor Loss"] = self.actor.update(ob, ac, adv)
    self.critic.update_target_network()
    return log


def _expectile_weights_swapped(diff, expectile):
    return (torch.where(diff > 0, 1.0 - expectile, expectile) * diff.pow(2)).mean()


def _value_target_with_online_nets(self, ob, ac):
    with torch.no_grad():
        return torch.minimum(self._get_q_value(self.q_net, ob, ac), self._get_q_value(self.q_net2, ob, ac))


def _q_target_without_mask(self, next_ob, reward, terminal):
    with torch.no_grad():
        return reward + self.gamma * self.get_v(next_ob)


def _iql_weights_without_clamp(self, q, v):
    return torch.exp(self.beta * (q.detach() - v.detach()))


@pytest.mark.parametrize("cls, method, bug, test, words", [
    (iql_critic, "expectile_loss", _expectile_weights_swapped, iql_tests.test_expectile_loss_by_hand,
     ["expectile_loss", "swapped"]),
    (IQLCritic, "value_target", _value_target_with_online_nets,
     iql_tests.test_value_target_is_min_of_target_nets_at_dataset_action, ["value_target", "TARGET"]),
    (IQLCritic, "q_target", _q_target_without_mask, iql_tests.test_q_target_bootstraps_from_v_of_next_state,
     ["q_target", "terminal"]),
    (MLPPolicyIQL, "iql_weights", _iql_weights_without_clamp, iql_tests.test_actor_weights_by_hand,
     ["iql_weights", "clamped"]),
    (AWACCritic, "td_target", _target_without_mask, critic_tests.test_td_target_masks_terminals_and_uses_target_nets,
     ["critic_target", "terminal"]),
    (AWACCritic, "td_target", _target_with_online_nets,
     critic_tests.test_td_target_masks_terminals_and_uses_target_nets, ["critic_target", "target nets"]),
    (AWACCritic, "td_target", _target_as_column, critic_tests.test_td_target_masks_terminals_and_uses_target_nets,
     ["critic_target", "[B, 1]"]),
    (MLPPolicyAWAC, "awac_weights", _weights_without_clamp, policy_tests.test_awac_weights_by_hand,
     ["awac_weights", "clamped"]),
    (MLPPolicyAWAC, "awac_weights", _weights_with_gradient,
     lambda device: policy_tests.test_awac_weights_do_not_backprop_into_advantage(), ["awac_weights", "detach"]),
    (AWACAgent, "estimate_advantage", _advantage_with_gradient, agent_tests.test_advantage_by_hand_and_without_gradient,
     ["advantage", "no_grad"]),
    (AWACAgent, "estimate_advantage", _advantage_with_target_nets,
     agent_tests.test_advantage_by_hand_and_without_gradient, ["advantage", "ONLINE"]),
    (AWACAgent, "sample_next_action", _next_action_with_gradient,
     agent_tests.test_next_action_is_a_policy_sample_without_gradient, ["next_action", "no_grad"]),
    (AWACAgent, "train", _advantage_before_critic_update,
     lambda device: agent_tests.test_train_runs_the_steps_in_order(), ["agent_updates", "order"]),
])
def test_usual_mistakes_get_a_message_naming_the_edit(monkeypatch, cls, method, bug, test, words):
    monkeypatch.setattr(cls, method, bug)
    torch.manual_seed(0)
    with pytest.raises(AssertionError) as info:
        test(device=CPU)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_starter_tree_fails_once_per_blank_naming_it(tmp_path):
    """What CI checks on the starter tree: every blank's tests fail, and say which TODO it is."""
    starter = tmp_path / "starter"
    blanks = make_handout(ROOT, starter)
    env = {**os.environ, "PYTHONPATH": str(starter), "OMP_NUM_THREADS": "1"}
    tests = ["tests/policies", "tests/critics", "tests/agents/test_awac_agent.py", "tests/agents/test_iql.py",
             "tests/agents/test_bc_agent.py"]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "--co", *tests],
                          cwd=starter, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # the starter tree imports and collects
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", *tests],
                          cwd=starter, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert AWAC_BLANKS | IQL_BLANKS | {"bc_loss"} <= {b.name for b in blanks}
    for name in {b.name for b in blanks}:  # every blank, whatever module it is in
        assert f"TODO({name})" in proc.stdout, f"no failing test names TODO({name})"
