"""Members of one stacked model with their own hyperparameters (a sweep as one model): each member is its own
single run, with that member's seed and settings, to float rounding."""

import dataclasses

import pytest
import torch

from cs224r.agents.awac_agent import AWACAgent
from cs224r.agents.iql_agent import IQLAgent
from cs224r.fast import awac as fast_awac
from cs224r.fast import iql as fast_iql
from cs224r.fast.members import MemberAdam, check_shared, cosine_table, member_configs
from cs224r.fast.sampler import MultiSeedSampler
from cs224r.infrastructure import pytorch_util as ptu
from cs224r.infrastructure.config import AWACConfig, IQLConfig
from cs224r.infrastructure.schedules import cosine_lr
from tests.fast.helpers import AC, OB, assert_seed_matches, dataset, reference_run

SMALL = dict(actor_n_layers=2, actor_size=32, critic_n_layers=2, critic_size=32, batch_size=64, grad_clip=0.5)

# three IQL members: every hyperparameter of their own, and cosine schedules of different lengths
IQL_MEMBERS = [
    IQLConfig(**SMALL, seed=1, expectile=0.9, temperature=10.0, max_weight=100.0, gamma=0.99, tau=0.005,
              actor_lr=3e-4, critic_lr=3e-4, value_lr=3e-4, total_steps=20),
    IQLConfig(**SMALL, seed=2, expectile=0.2, temperature=0.5, max_weight=3.0, gamma=0.9, tau=0.05,
              actor_lr=1e-3, critic_lr=1e-4, value_lr=1e-3, total_steps=8),
    IQLConfig(**SMALL, seed=1, expectile=0.7, temperature=3.0, max_weight=100.0, gamma=0.95, tau=0.5,
              actor_lr=1e-4, critic_lr=3e-3, value_lr=1e-4, total_steps=20),
]
AWAC_MEMBERS = [
    AWACConfig(**SMALL, seed=3, lambda_awac=0.3, max_weight=50.0, gamma=0.99, tau=0.005, actor_lr=3e-4,
               critic_lr=3e-4, actor_lr_schedule="cosine", total_steps=20),
    AWACConfig(**SMALL, seed=4, lambda_awac=0.05, max_weight=2.0, gamma=0.9, tau=0.1, actor_lr=1e-3,
               critic_lr=1e-4, actor_lr_schedule="cosine", total_steps=6),
]


def _runs(fast_cls, agent_cls, members, steps, data):
    """The stacked members' logs, and each member's own reference run."""
    seeds = [c.seed for c in members]
    fast = fast_cls(seeds, OB, AC, members, device=ptu.device)
    sampler = MultiSeedSampler(data, ptu.device, seeds)
    logs = [{k: v.clone() for k, v in fast.update(*sampler.sample(members[0].batch_size)).items()}
            for _ in range(steps)]
    return fast, logs, [reference_run(agent_cls, c.seed, c, data, steps) for c in members]


def test_iql_members_with_their_own_hyperparameters_match_their_single_runs(device):
    fast, logs, refs = _runs(fast_iql.FastIQL, IQLAgent, IQL_MEMBERS, 12, dataset(seed=3))
    assert isinstance(fast.actor_opt, MemberAdam) and isinstance(fast.value_opt, MemberAdam)
    for s, (ref, ref_logs) in enumerate(refs):
        assert_seed_matches(fast, s, ref, logs, ref_logs, fast_iql.LOG_KEYS)
    # the short schedule reached 0 at its own end (step 8) while the others still decay
    assert float(logs[-1]["Actor LR"][1]) == 0.0
    assert float(logs[-1]["Actor LR"][0]) == pytest.approx(cosine_lr(3e-4, 11, 20))
    # members 0 and 2 share seed 1 (same minibatches, same initial weights) and still differ
    assert float(logs[-1]["Value Loss"][0]) != float(logs[-1]["Value Loss"][2])


def test_awac_members_with_their_own_hyperparameters_match_their_single_runs(device):
    fast, logs, refs = _runs(fast_awac.FastAWAC, AWACAgent, AWAC_MEMBERS, 10, dataset(seed=4))
    for s, (ref, ref_logs) in enumerate(refs):
        assert_seed_matches(fast, s, ref, logs, ref_logs, (*fast_awac.LOG_KEYS, "Actor LR"))


@pytest.mark.parametrize("field,value", [("gamma", 0.5), ("tau", 0.5), ("lambda_awac", 0.01), ("max_weight", 1.5),
                                         ("critic_lr", 1e-2), ("actor_lr", 1e-2)])
def test_one_awac_hyperparameter_at_a_time(device, field, value):
    """Each hyperparameter alone differing between two members of the same seed (the stacked math must use
    each member's own value, not the first member's)."""
    base = AWACConfig(**SMALL, seed=5, total_steps=20)
    members = [base, dataclasses.replace(base, **{field: value})]
    fast, logs, refs = _runs(fast_awac.FastAWAC, AWACAgent, members, 6, dataset(seed=5))
    for s, (ref, ref_logs) in enumerate(refs):
        assert_seed_matches(fast, s, ref, logs, ref_logs, fast_awac.LOG_KEYS)


def test_resumed_members_continue_like_their_references(device):
    """Load each member's reference checkpoint (weights, Adam moments incl. the per-member rates'
    optimizers, schedule position) into a stacked model and go on."""
    data = dataset(seed=6)
    refs = [reference_run(IQLAgent, c.seed, c, data, 4)[0] for c in IQL_MEMBERS]
    fast = fast_iql.FastIQL([c.seed for c in IQL_MEMBERS], OB, AC, IQL_MEMBERS, device=ptu.device)
    for shell, ref in zip(fast.shells, refs):
        shell.load_state_dict(ref.state_dict())
    fast.load_shells()
    assert fast.num_updates == 4
    sampler = MultiSeedSampler(data, ptu.device, [c.seed for c in IQL_MEMBERS])
    for _ in range(4):
        sampler.sample(64)
    logs = [{k: v.clone() for k, v in fast.update(*sampler.sample(64)).items()} for _ in range(3)]
    for s, c in enumerate(IQL_MEMBERS):
        ref, ref_logs = reference_run(IQLAgent, c.seed, c, data, 7)
        assert_seed_matches(fast, s, ref, logs, ref_logs[4:], fast_iql.LOG_KEYS)


def test_members_must_share_everything_but_the_hyperparameters():
    with pytest.raises(ValueError, match="share --actor-size"):
        fast_iql.FastIQL([1, 2], OB, AC, [IQL_MEMBERS[0], dataclasses.replace(IQL_MEMBERS[1], actor_size=16)],
                         device="cpu")
    with pytest.raises(ValueError, match="2 configs for 3 seeds"):
        fast_iql.FastIQL([1, 2, 3], OB, AC, IQL_MEMBERS[:2], device="cpu")
    with pytest.raises(ValueError, match="mix algorithms"):
        check_shared([IQL_MEMBERS[0], AWAC_MEMBERS[0]])
    # the trainer's members also share total_steps (one budget, one logging schedule)
    with pytest.raises(ValueError, match="share --total-steps"):
        member_configs(IQL_MEMBERS[:2])
    with pytest.raises(ValueError, match="same run directory"):
        member_configs([IQL_MEMBERS[0], dataclasses.replace(IQL_MEMBERS[0], expectile=0.5)])
    with pytest.raises(ValueError, match="distinct seeds"):
        member_configs(IQL_MEMBERS[0], [1, 1])


def test_cosine_table_is_the_schedule_of_each_member():
    table = cosine_table([1e-3, 3e-4], [4, 10])
    assert table.shape == (11, 2)
    for n in range(11):
        assert table[n, 0] == pytest.approx(cosine_lr(1e-3, n, 4), rel=1e-12, abs=0)
        assert table[n, 1] == pytest.approx(cosine_lr(3e-4, n, 10), rel=1e-12, abs=0)


def test_member_adam_is_torch_adam_per_member():
    """Two members of one stacked tensor at different rates: each row follows torch's Adam at its rate."""
    torch.manual_seed(0)
    w = torch.randn(2, 3, 4, requires_grad=True)
    refs = [w[m].detach().clone().requires_grad_(True) for m in range(2)]
    rates = [1e-2, 3e-4]
    opt = MemberAdam([w], torch.tensor(rates))
    ref_opts = [torch.optim.Adam([r], lr=lr) for r, lr in zip(refs, rates)]
    for _ in range(5):
        g = torch.randn(2, 3, 4)
        w.grad = g.clone()
        opt.step()
        for m, (r, ro) in enumerate(zip(refs, ref_opts)):
            r.grad = g[m].clone()
            ro.step()
    for m in range(2):
        torch.testing.assert_close(w[m].detach(), refs[m].detach(), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(opt.state[w]["exp_avg_sq"][m], ref_opts[m].state[refs[m]]["exp_avg_sq"])
