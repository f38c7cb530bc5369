"""The catalogue of plausible student mistakes that ``scripts/check_autograder.py`` plants, one at a time, in
a copy of the solution tree (or of the starter tree filled the guide's way) to check that the students' tests
catch each one, and the guide's way of filling every blank (``GUIDE_FILLS``).

Each mistake is a list of exact text edits inside the blanks' code (each ``find`` must occur exactly once
when it is applied). ``kind`` is "numbers" when the mistake changes the numbers of a training step (or
crashes it): the tests must catch every one. "leak" marks a mistake that only lets a gradient reach a
network that its optimizer then ignores (the numbers stay the same); it is reported apart.

Instructors only: make_handout leaves this file out of the starter tree.
"""

from __future__ import annotations

from dataclasses import dataclass

POLICY = "cs224r/policies/MLP_policy.py"
AWAC_CRITIC = "cs224r/critics/awac_critic.py"
IQL_CRITIC = "cs224r/critics/iql_critic.py"
AWAC_AGENT = "cs224r/agents/awac_agent.py"
IQL_AGENT = "cs224r/agents/iql_agent.py"
BC_AGENT = "cs224r/agents/bc_agent.py"


@dataclass(frozen=True)
class Mistake:
    name: str
    blank: str
    path: str
    edits: tuple[tuple[str, str], ...]
    why: str
    kind: str = "numbers"


# The guide's code for each blank (Chapter 09 for AWAC; the same conventions for IQL and BC), indented to
# column 0; the filler indents it to the blank's TODO comment.
GUIDE_FILLS: dict[str, str] = {
    "exp_weights": "exp_weights = torch.exp(adv_n / self.lambda_awac)\n",
    "critic_loss": (
        "with torch.no_grad():\n"
        "    target_q = self.get_target_q(next_ob_no, next_actions)\n"
        "    target = reward_n + self.gamma * (1.0 - terminal_n) * target_q\n"
        "q1 = self._get_q_value(self.q_net, ob_no, ac_na)\n"
        "q2 = self._get_q_value(self.q_net2, ob_no, ac_na)\n"
        "loss = self.mse_loss(q1, target)\n"
        "loss2 = self.mse_loss(q2, target)\n"),
    "estimate_advantage": (
        "with torch.no_grad():\n"
        "    q_sa = self.critic.get_q(ob_no, ac_na)\n"
        "    action_dist = self.actor(ob_no)\n"
        "    ac_pi = action_dist.sample()\n"
        "    v_s = self.critic.get_q(ob_no, ac_pi)\n"
        "    adv_n = q_sa - v_s\n"),
    "next_actions": (
        "with torch.no_grad():\n"
        "    next_obs_t = ptu.from_numpy(next_ob_no)\n"
        "    next_dist = self.actor(next_obs_t)\n"
        "    next_actions = next_dist.sample()\n"),
    "actor_update": (
        "adv_n = self.estimate_advantage(ob_no, ac_na)\n"
        "actor_loss = self.actor.update(ob_no, ac_na, adv_n=adv_n)\n"),
    "bc_loss": (
        "log_prob_n = self.actor(ob_no).log_prob(ac_na)\n"
        "loss = -log_prob_n.mean()\n"),
    "expectile_loss": (
        "weight = torch.where(diff > 0, expectile, 1.0 - expectile)\n"
        "loss = (weight * diff.pow(2)).mean()\n"),
    "iql_value_loss": (
        "with torch.no_grad():\n"
        "    target_q = self.get_target_q(ob_no, ac_na)\n"
        "v = self.get_v(ob_no)\n"
        "value_loss = expectile_loss(target_q - v, self.expectile)\n"),
    "iql_q_loss": (
        "with torch.no_grad():\n"
        "    target = reward_n + self.gamma * (1.0 - terminal_n) * self.get_v(next_ob_no)\n"
        "q1 = self._get_q_value(self.q_net, ob_no, ac_na)\n"
        "q2 = self._get_q_value(self.q_net2, ob_no, ac_na)\n"
        "loss = self.mse_loss(q1, target)\n"
        "loss2 = self.mse_loss(q2, target)\n"),
    "iql_exp_weights": "exp_weights = torch.exp(self.beta * adv_n)\n",
    "iql_advantage": (
        "with torch.no_grad():\n"
        "    q_sa = self.critic.get_target_q(ob_no, ac_na)\n"
        "    v_s = self.critic.get_v(ob_no)\n"
        "    adv_n = q_sa - v_s\n"),
}


def _m(name: str, blank: str, path: str, edits, why: str, kind: str = "numbers") -> Mistake:
    edits = (edits,) if isinstance(edits[0], str) else edits
    return Mistake(name, blank, path, tuple(tuple(e) for e in edits), why, kind)


_AWAC_W = "exp_weights = torch.exp(adv_n / self.lambda_awac)\n"
_TARGET = "target = reward_n + self.gamma * (1.0 - terminal_n) * target_q\n"
_TQ = "target_q = self.get_target_q(next_ob_no, next_actions)\n"
_ADV_BLOCK = ("        with torch.no_grad():\n            q_sa = self.critic.get_q(ob_no, ac_na)\n"
              "            action_dist = self.actor(ob_no)\n            ac_pi = action_dist.sample()\n"
              "            v_s = self.critic.get_q(ob_no, ac_pi)\n            adv_n = q_sa - v_s\n")
_NEXT_BLOCK = ("        with torch.no_grad():\n            next_obs_t = ptu.from_numpy(next_ob_no)\n"
               "            next_dist = self.actor(next_obs_t)\n            next_actions = next_dist.sample()\n")
_ADV_CALL = "        adv_n = self.estimate_advantage(ob_no, ac_na)\n"
_ACTOR_CALL = "        actor_loss = self.actor.update(ob_no, ac_na, adv_n=adv_n)\n"
_IQL_Q_TARGET = "target = reward_n + self.gamma * (1.0 - terminal_n) * self.get_v(next_ob_no)\n"
_IQL_ADV_BLOCK = ("        with torch.no_grad():\n            q_sa = self.critic.get_target_q(ob_no, ac_na)\n"
                  "            v_s = self.critic.get_v(ob_no)\n            adv_n = q_sa - v_s\n")


def _dedent_block(block: str) -> str:
    """The block without its ``with torch.no_grad():`` line, one level less indented."""
    lines = block.splitlines(keepends=True)[1:]
    return "".join(line[4:] for line in lines)


MISTAKES: list[Mistake] = [
    # ---- exp_weights (MLPPolicyAWAC.update)
    _m("awac_weights_times_lambda", "exp_weights", POLICY,
       (_AWAC_W, "exp_weights = torch.exp(adv_n * self.lambda_awac)\n"),
       "multiplies by lambda instead of dividing"),
    _m("awac_weights_sign", "exp_weights", POLICY, (_AWAC_W, "exp_weights = torch.exp(-adv_n / self.lambda_awac)\n"),
       "exp(-A / lambda)"),
    _m("awac_weights_no_exp", "exp_weights", POLICY, (_AWAC_W, "exp_weights = adv_n / self.lambda_awac\n"),
       "forgets the exponential"),
    _m("awac_weights_exp_then_divide", "exp_weights", POLICY,
       (_AWAC_W, "exp_weights = torch.exp(adv_n) / self.lambda_awac\n"), "exp(A) / lambda"),
    _m("awac_weights_hardcoded_lambda", "exp_weights", POLICY, (_AWAC_W, "exp_weights = torch.exp(adv_n / 0.3)\n"),
       "hard-codes the paper's lambda 0.3 instead of self.lambda_awac"),
    _m("awac_weights_softmax", "exp_weights", POLICY,
       (_AWAC_W, "exp_weights = torch.softmax(adv_n / self.lambda_awac, dim=0)\n"), "normalises over the batch"),
    _m("awac_weights_column", "exp_weights", POLICY,
       (_AWAC_W, "exp_weights = torch.exp(adv_n / self.lambda_awac).unsqueeze(-1)\n"), "weights of shape [B, 1]"),
    # ---- critic_loss (AWACCritic.update)
    _m("critic_no_terminal_mask", "critic_loss", AWAC_CRITIC,
       (_TARGET, "target = reward_n + self.gamma * target_q\n"), "bootstraps through terminal transitions"),
    _m("critic_mask_inverted", "critic_loss", AWAC_CRITIC,
       (_TARGET, "target = reward_n + self.gamma * terminal_n * target_q\n"), "multiplies by terminal_n, not 1 - it"),
    _m("critic_no_gamma", "critic_loss", AWAC_CRITIC,
       (_TARGET, "target = reward_n + (1.0 - terminal_n) * target_q\n"), "forgets the discount"),
    _m("critic_online_nets_in_target", "critic_loss", AWAC_CRITIC,
       (_TQ, "target_q = self.get_q(next_ob_no, next_actions)\n"), "TD target from the online nets"),
    _m("critic_target_at_current_state", "critic_loss", AWAC_CRITIC,
       (_TQ, "target_q = self.get_target_q(ob_no, ac_na)\n"), "bootstraps from Q(s, a) instead of Q(s', a')"),
    _m("critic_dataset_action_in_target", "critic_loss", AWAC_CRITIC,
       (_TQ, "target_q = self.get_target_q(next_ob_no, ac_na)\n"), "uses the dataset action at s'"),
    _m("critic_max_of_targets", "critic_loss", AWAC_CRITIC,
       (_TQ, "target_q = torch.maximum(self._get_q_value(self.q_net_target, next_ob_no, next_actions),\n"
             "                                     self._get_q_value(self.q_net2_target, next_ob_no, next_actions))\n"),
       "max instead of min of the two target nets"),
    _m("critic_one_target_net", "critic_loss", AWAC_CRITIC,
       (_TQ, "target_q = self._get_q_value(self.q_net_target, next_ob_no, next_actions)\n"),
       "only the first target net"),
    _m("critic_target_column", "critic_loss", AWAC_CRITIC,
       (_TQ, "target_q = self.get_target_q(next_ob_no, next_actions).unsqueeze(-1)\n"),
       "a [B, 1] next value broadcast against [B] rewards to [B, B]"),
    _m("critic_q2_from_q_net", "critic_loss", AWAC_CRITIC,
       ("q2 = self._get_q_value(self.q_net2, ob_no, ac_na)\n", "q2 = self._get_q_value(self.q_net, ob_no, ac_na)\n"),
       "both losses on the first Q-net"),
    _m("critic_loss2_of_q1", "critic_loss", AWAC_CRITIC,
       ("loss2 = self.mse_loss(q2, target)\n", "loss2 = self.mse_loss(q1, target)\n"), "loss2 from q1"),
    _m("critic_sum_not_mean", "critic_loss", AWAC_CRITIC,
       (("loss = self.mse_loss(q1, target)\n", "loss = ((q1 - target) ** 2).sum()\n"),
        ("loss2 = self.mse_loss(q2, target)\n", "loss2 = ((q2 - target) ** 2).sum()\n")), "sums instead of means"),
    _m("critic_online_target_with_gradient", "critic_loss", AWAC_CRITIC,
       (("        with torch.no_grad():\n            " + _TQ + "            " + _TARGET,
         "        target_q = self.get_q(next_ob_no, next_actions)\n        " + _TARGET),),
       "TD target from the online nets, with gradient through it"),
    _m("critic_target_without_no_grad", "critic_loss", AWAC_CRITIC,
       (("        with torch.no_grad():\n            " + _TQ + "            " + _TARGET,
         "        " + _TQ + "        " + _TARGET),),
       "TD target built with gradient (the target nets are frozen, so nothing changes)", kind="leak"),
    # ---- estimate_advantage (AWACAgent.estimate_advantage)
    _m("advantage_sign", "estimate_advantage", AWAC_AGENT,
       ("            adv_n = q_sa - v_s\n", "            adv_n = v_s - q_sa\n"), "V - Q"),
    _m("advantage_target_nets", "estimate_advantage", AWAC_AGENT,
       (("            q_sa = self.critic.get_q(ob_no, ac_na)\n",
         "            q_sa = self.critic.get_target_q(ob_no, ac_na)\n"),
        ("            v_s = self.critic.get_q(ob_no, ac_pi)\n",
         "            v_s = self.critic.get_target_q(ob_no, ac_pi)\n")),
       "target nets instead of the online nets"),
    _m("advantage_policy_mean", "estimate_advantage", AWAC_AGENT,
       ("            ac_pi = action_dist.sample()\n", "            ac_pi = action_dist.mean\n"),
       "V(s) from the policy's mean action, not a sample"),
    _m("advantage_two_samples", "estimate_advantage", AWAC_AGENT,
       ("            ac_pi = action_dist.sample()\n",
        "            ac_pi = action_dist.sample()\n            ac_pi = action_dist.sample()\n"),
       "draws a second sample (the random stream shifts)"),
    _m("advantage_first_q_net_only", "estimate_advantage", AWAC_AGENT,
       (("            q_sa = self.critic.get_q(ob_no, ac_na)\n",
         "            q_sa = self.critic._get_q_value(self.critic.q_net, ob_no, ac_na)\n"),
        ("            v_s = self.critic.get_q(ob_no, ac_pi)\n",
         "            v_s = self.critic._get_q_value(self.critic.q_net, ob_no, ac_pi)\n")),
       "Q1 instead of min(Q1, Q2)"),
    _m("advantage_no_baseline", "estimate_advantage", AWAC_AGENT,
       ("            adv_n = q_sa - v_s\n", "            adv_n = q_sa\n"), "Q instead of Q - V"),
    _m("advantage_without_no_grad", "estimate_advantage", AWAC_AGENT, (_ADV_BLOCK, _dedent_block(_ADV_BLOCK)),
       "advantage with gradient into the critic (the critic's next zero_grad drops it)", kind="leak"),
    # ---- next_actions (AWACAgent.train)
    _m("next_actions_mean", "next_actions", AWAC_AGENT,
       ("            next_actions = next_dist.sample()\n", "            next_actions = next_dist.mean\n"),
       "the policy's mean instead of a sample"),
    _m("next_actions_at_current_state", "next_actions", AWAC_AGENT,
       ("            next_dist = self.actor(next_obs_t)\n", "            next_dist = self.actor(ob_no)\n"),
       "samples at s instead of s'"),
    _m("next_actions_from_dataset", "next_actions", AWAC_AGENT,
       ("            next_actions = next_dist.sample()\n", "            next_actions = ac_na\n"),
       "the dataset action instead of a' ~ pi(.|s')"),
    _m("next_actions_without_from_numpy", "next_actions", AWAC_AGENT,
       ("            next_obs_t = ptu.from_numpy(next_ob_no)\n", "            next_obs_t = next_ob_no\n"),
       "feeds a NumPy array to the actor"),
    _m("next_actions_rsample_with_gradient", "next_actions", AWAC_AGENT,
       (_NEXT_BLOCK, _dedent_block(_NEXT_BLOCK).replace("sample()", "rsample()")),
       "rsample outside no_grad: the critic's loss reaches the actor (its next zero_grad drops it)", kind="leak"),
    # ---- actor_update (AWACAgent.train)
    _m("advantage_before_critic_step", "actor_update", AWAC_AGENT,
       (("            next_actions = next_dist.sample()\n",
         "            next_actions = next_dist.sample()\n" + _ADV_CALL),
        (_ADV_CALL + _ACTOR_CALL, _ACTOR_CALL)), "advantage from the critic before its update"),
    _m("actor_before_critic", "actor_update", AWAC_AGENT,
       ((_ADV_CALL + _ACTOR_CALL, ""),
        ("            next_actions = next_dist.sample()\n",
         "            next_actions = next_dist.sample()\n" + _ADV_CALL + _ACTOR_CALL)),
       "actor step before the critic step"),
    _m("actor_fit_to_next_actions", "actor_update", AWAC_AGENT,
       (_ACTOR_CALL, "        actor_loss = self.actor.update(ob_no, next_actions, adv_n=adv_n)\n"),
       "clones the sampled a' instead of the dataset action"),
    _m("actor_negated_advantage", "actor_update", AWAC_AGENT,
       (_ACTOR_CALL, "        actor_loss = self.actor.update(ob_no, ac_na, adv_n=-adv_n)\n"), "passes -A"),
    _m("advantage_at_next_state", "actor_update", AWAC_AGENT,
       (_ADV_CALL, "        adv_n = self.estimate_advantage(next_ob_no, ac_na)\n"), "advantage at s'"),
    _m("actor_updated_twice", "actor_update", AWAC_AGENT,
       (_ACTOR_CALL, _ACTOR_CALL + _ACTOR_CALL), "two actor steps per train() call"),
    # ---- bc_loss (BCAgent.bc_loss)
    _m("bc_sum", "bc_loss", BC_AGENT, ("loss = -log_prob_n.mean()\n", "loss = -log_prob_n.sum()\n"),
       "sum instead of mean"),
    _m("bc_no_minus", "bc_loss", BC_AGENT, ("loss = -log_prob_n.mean()\n", "loss = log_prob_n.mean()\n"),
       "maximises the loss"),
    _m("bc_probability", "bc_loss", BC_AGENT, ("loss = -log_prob_n.mean()\n", "loss = -log_prob_n.exp().mean()\n"),
       "probability instead of log-probability"),
    # ---- expectile_loss (iql_critic.expectile_loss)
    _m("expectile_swapped", "expectile_loss", IQL_CRITIC,
       ("torch.where(diff > 0, expectile, 1.0 - expectile)", "torch.where(diff > 0, 1.0 - expectile, expectile)"),
       "the two weights swapped"),
    _m("expectile_sum", "expectile_loss", IQL_CRITIC,
       ("loss = (weight * diff.pow(2)).mean()", "loss = (weight * diff.pow(2)).sum()"), "sum instead of mean"),
    _m("expectile_absolute", "expectile_loss", IQL_CRITIC,
       ("loss = (weight * diff.pow(2)).mean()", "loss = (weight * diff.abs()).mean()"), "|diff| instead of diff^2"),
    _m("expectile_unweighted", "expectile_loss", IQL_CRITIC,
       ("loss = (weight * diff.pow(2)).mean()", "loss = diff.pow(2).mean()"), "plain MSE"),
    # ---- iql_value_loss (IQLCritic.update_v)
    _m("value_online_nets", "iql_value_loss", IQL_CRITIC,
       ("target_q = self.get_target_q(ob_no, ac_na)\n", "target_q = self.get_q(ob_no, ac_na)\n"),
       "V toward the online nets"),
    _m("value_diff_reversed", "iql_value_loss", IQL_CRITIC,
       ("expectile_loss(target_q - v, self.expectile)", "expectile_loss(v - target_q, self.expectile)"),
       "prediction - target: the asymmetry is reversed"),
    _m("value_mse", "iql_value_loss", IQL_CRITIC,
       ("value_loss = expectile_loss(target_q - v, self.expectile)\n", "value_loss = self.mse_loss(v, target_q)\n"),
       "MSE instead of the expectile loss"),
    _m("value_target_without_no_grad", "iql_value_loss", IQL_CRITIC,
       ("        with torch.no_grad():\n            target_q = self.get_target_q(ob_no, ac_na)\n",
        "        target_q = self.get_target_q(ob_no, ac_na)\n"),
       "target built with gradient (the target nets are frozen, so nothing changes)", kind="leak"),
    # ---- iql_q_loss (IQLCritic.update_q)
    _m("iql_q_no_terminal_mask", "iql_q_loss", IQL_CRITIC,
       (_IQL_Q_TARGET, "target = reward_n + self.gamma * self.get_v(next_ob_no)\n"), "bootstraps through terminals"),
    _m("iql_q_v_of_current_state", "iql_q_loss", IQL_CRITIC,
       (_IQL_Q_TARGET, "target = reward_n + self.gamma * (1.0 - terminal_n) * self.get_v(ob_no)\n"), "V(s) not V(s')"),
    _m("iql_q_no_gamma", "iql_q_loss", IQL_CRITIC,
       (_IQL_Q_TARGET, "target = reward_n + (1.0 - terminal_n) * self.get_v(next_ob_no)\n"), "no discount"),
    _m("iql_q2_from_q_net", "iql_q_loss", IQL_CRITIC,
       ("q2 = self._get_q_value(self.q_net2, ob_no, ac_na)\n", "q2 = self._get_q_value(self.q_net, ob_no, ac_na)\n"),
       "both losses on the first Q-net"),
    _m("iql_q_target_with_gradient", "iql_q_loss", IQL_CRITIC,
       ("        with torch.no_grad():\n            " + _IQL_Q_TARGET, "        " + _IQL_Q_TARGET),
       "the Q loss reaches V (V's next zero_grad drops it)", kind="leak"),
    # ---- iql_exp_weights (MLPPolicyIQL.update)
    _m("iql_weights_divided", "iql_exp_weights", POLICY,
       ("exp_weights = torch.exp(self.beta * adv_n)\n", "exp_weights = torch.exp(adv_n / self.beta)\n"),
       "AWAC's A / lambda with beta"),
    _m("iql_weights_sign", "iql_exp_weights", POLICY,
       ("exp_weights = torch.exp(self.beta * adv_n)\n", "exp_weights = torch.exp(-self.beta * adv_n)\n"),
       "exp(-beta A)"),
    _m("iql_weights_no_beta", "iql_exp_weights", POLICY,
       ("exp_weights = torch.exp(self.beta * adv_n)\n", "exp_weights = torch.exp(adv_n)\n"), "forgets beta"),
    # ---- iql_advantage (IQLAgent.estimate_advantage)
    _m("iql_advantage_online_nets", "iql_advantage", IQL_AGENT,
       ("q_sa = self.critic.get_target_q(ob_no, ac_na)\n", "q_sa = self.critic.get_q(ob_no, ac_na)\n"),
       "online Q-nets instead of the target nets"),
    _m("iql_advantage_sign", "iql_advantage", IQL_AGENT,
       ("            adv_n = q_sa - v_s\n", "            adv_n = v_s - q_sa\n"), "V - Q"),
    _m("iql_advantage_without_no_grad", "iql_advantage", IQL_AGENT, (_IQL_ADV_BLOCK, _dedent_block(_IQL_ADV_BLOCK)),
       "advantage with gradient into V (V's next zero_grad drops it)", kind="leak"),
]
