import os
from functools import partial

import numpy as np
import pytest
import torch
from torch import distributions, nn

from cs224r.agents.awac_agent import AWACAgent
from cs224r.fast.awac import LOG_KEYS, FastAWAC
from cs224r.fast.ensemble import MemberGradClip, diag_gaussian_log_prob, mlp_forward, stack_mlps
from cs224r.fast.sampler import MultiSeedSampler
from cs224r.infrastructure import pytorch_util as ptu
from cs224r.infrastructure.config import AWACConfig
from cs224r.infrastructure.replay_buffer import ReplayBuffer
from tests.fast.helpers import AC, OB, assert_seed_matches, dataset, fast_run, reference_run

_SMALL = dict(actor_n_layers=2, actor_size=32, critic_n_layers=2, critic_size=32, batch_size=64)


def _config(**kw):
    base = dict(**_SMALL, lambda_awac=0.3, grad_clip=10.0)
    base.update(kw)
    return AWACConfig(**base)


_reference_run = partial(reference_run, AWACAgent)
_fast_run = partial(fast_run, FastAWAC)
_assert_seed_matches = partial(assert_seed_matches, log_keys=LOG_KEYS)


def test_one_seed_matches_reference_steps(device):
    cfg, data = _config(), dataset()
    fast, fast_logs = _fast_run([4], cfg, data, 15)
    ref, ref_logs = _reference_run(4, cfg, data, 15)
    _assert_seed_matches(fast, 0, ref, fast_logs, ref_logs)
    # the run really trained (a test that could not fail otherwise)
    assert fast_logs[0]["Critic Loss"][0] != fast_logs[-1]["Critic Loss"][0]


def test_three_seeds_each_match_their_own_reference_run(device):
    cfg, data = _config(grad_clip=0.5), dataset(seed=1)  # small clip: the per-seed clipping is active
    seeds = [1, 2, 7]
    fast, fast_logs = _fast_run(seeds, cfg, data, 10)
    for s, seed in enumerate(seeds):
        ref, ref_logs = _reference_run(seed, cfg, data, 10)
        _assert_seed_matches(fast, s, ref, fast_logs, ref_logs)
    assert fast_logs[-1]["Critic Loss"][0] != fast_logs[-1]["Critic Loss"][1]  # seeds differ


def test_flat_clipping_layout_matches_reference():
    """The GPU's clipping layout (one flat gradient buffer), run on the CPU, with clipping active."""
    cfg, data, seeds = _config(grad_clip=0.05), dataset(), [1, 2, 3]
    fast = FastAWAC(seeds, OB, AC, cfg, device="cpu")
    fast.flat_clip = True
    sampler = MultiSeedSampler(data, "cpu", seeds)
    fast_logs = [{k: v.clone() for k, v in fast.update(*sampler.sample(cfg.batch_size)).items()} for _ in range(8)]
    assert {len(c.shapes) for c in fast._clippers.values()} == {6, 7} and all(c.flat for c in fast._clippers.values())
    for s, seed in enumerate(seeds):
        ref, ref_logs = _reference_run(seed, cfg, data, 8)
        _assert_seed_matches(fast, s, ref, fast_logs, ref_logs)


def test_sampler_indices_equal_replay_buffer_draws():
    data = dataset()
    sampler = MultiSeedSampler(data, "cpu", [3, 5])
    buffers = [ReplayBuffer(data, "cpu", seed=s) for s in (3, 5)]
    for _ in range(3):
        ob, ac, re, nob, term = sampler.sample(8)
        for s, buf in enumerate(buffers):
            ref = buf.sample(8)
            for got, want in zip((ob[s], ac[s], re[s], nob[s], term[s]), ref):
                assert torch.equal(got, want)


def test_normal_draw_equals_multivariate_normal_sample():
    mean, std = torch.randn(6, AC), torch.rand(AC) + 0.1
    torch.manual_seed(11)
    state = torch.get_rng_state()
    ref = distributions.MultivariateNormal(mean, scale_tril=torch.diag(std)).sample()
    gen = torch.Generator()
    gen.set_state(state)
    ours = mean + std * torch.empty(6, AC).normal_(generator=gen)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-6)


def test_closed_form_log_prob_equals_multivariate_normal():
    mean = torch.randn(4, 7, AC, requires_grad=True)
    logstd = torch.randn(4, 1, AC).clamp(-2, 1).requires_grad_(True)
    act = torch.randn(4, 7, AC)
    ours = diag_gaussian_log_prob(act, mean, logstd.exp())
    for e in range(4):
        ref = distributions.MultivariateNormal(mean[e], scale_tril=torch.diag(logstd[e, 0].exp())).log_prob(act[e])
        torch.testing.assert_close(ours[e], ref, rtol=1e-5, atol=1e-5)
    # gradients too
    g_ours = torch.autograd.grad(ours.sum(), [mean, logstd])
    ref_total = sum(distributions.MultivariateNormal(mean[e], scale_tril=torch.diag(logstd[e, 0].exp()))
                    .log_prob(act[e]).sum() for e in range(4))
    for a, b in zip(g_ours, torch.autograd.grad(ref_total, [mean, logstd])):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    # hand value for one point: N(0; 0, 1) in 1-D is -0.5 log(2 pi)
    one = diag_gaussian_log_prob(torch.zeros(1, 1), torch.zeros(1, 1), torch.ones(1, 1))
    assert float(one) == pytest.approx(-0.5 * np.log(2 * np.pi))


@pytest.mark.parametrize("flat", [False, True])
def test_per_seed_clipping_equals_clip_grad_norm(flat):
    torch.manual_seed(0)
    S = 3
    nets = [[nn.Linear(4, 5), nn.Linear(5, 2)] for _ in range(2 * S)]  # two nets per seed: [net, seed]
    # seed 0's gradients are small (left as they are), the others' large (scaled down)
    grads = {id(p): torch.randn_like(p) * (0.01 if n % S == 0 else 3.0) for n, net in enumerate(nets)
             for m in net for p in m.parameters()}
    stacked = []
    for layer in range(2):
        for kind in ("weight", "bias"):
            stacked.append(torch.stack([grads[id(getattr(net[layer], kind))].t() if kind == "weight"
                                        else grads[id(net[layer].bias)][None] for net in nets]).clone())
    clipped, norms = MemberGradClip([g.shape for g in stacked], [(2,)] * len(stacked), S, 1.0, "cpu", flat)(stacked)
    assert float(norms.max()) > 1.0 > float(norms.min())  # some seeds are clipped, some are not
    for s in range(S):
        params = [p for net in (nets[s], nets[S + s]) for m in net for p in m.parameters()]
        for p in params:
            p.grad = grads[id(p)].clone()
        torch.testing.assert_close(norms[s], nn.utils.clip_grad_norm_(params, 1.0))
        for net_idx, net in ((0, nets[s]), (1, nets[S + s])):
            m = net_idx * S + s
            for layer in range(2):
                torch.testing.assert_close(clipped[2 * layer][m].t(), net[layer].weight.grad)
                torch.testing.assert_close(clipped[2 * layer + 1][m, 0], net[layer].bias.grad)


def test_per_tensor_clipping_of_non_contiguous_gradients():
    """The per-tensor layout scales in place through views; a non-contiguous gradient is copied first,
    so its result equals the contiguous one's (and the caller's tensor is not half-scaled)."""
    gen = torch.Generator().manual_seed(1)
    grads = [torch.randn(6, 4, 5, generator=gen) * 3.0, torch.randn(6, 1, 5, generator=gen)]
    clip = MemberGradClip([g.shape for g in grads], [(2,)] * 2, 3, 1.0, "cpu")
    want, want_norms = clip([g.clone() for g in grads])
    odd = grads[0].transpose(1, 2).contiguous().transpose(1, 2)  # same values, not contiguous
    assert not odd.is_contiguous()
    got, got_norms = clip([odd, grads[1].clone()])
    assert torch.equal(odd, grads[0])  # the caller's non-contiguous tensor is left as it was
    torch.testing.assert_close(got_norms, want_norms)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)
    assert float(want_norms.min()) > 1.0 and not torch.allclose(want[0], grads[0])  # every seed was scaled


def test_stacked_forward_equals_each_mlp():
    mlps = [ptu.build_mlp(OB, 2, 2, 16) for _ in range(3)]
    x = torch.randn(3, 10, OB)
    out = mlp_forward(stack_mlps(mlps, "cpu"), x)
    for e, m in enumerate(mlps):
        torch.testing.assert_close(out[e], m(x[e]))


@pytest.mark.parametrize("lr", [1e-3, "tensor"], ids=["float-lr", "tensor-lr"])
def test_adam_step_equals_optimizer_step(lr, monkeypatch):
    """The direct fused-Adam call: bit-equal to ``opt.step()`` over 4 steps (the first creates the state
    through ``opt.step()``), and the later steps do not go through ``opt.step()``."""
    from cs224r.fast.awac import adam_step

    gen = torch.Generator().manual_seed(0)
    init = [torch.randn(3, 5, 4, generator=gen), torch.randn(3, 1, 4, generator=gen)]
    grads = [[torch.randn(t.shape, generator=gen) for t in init] for _ in range(4)]
    runs = []
    for direct in (False, True):
        params = [t.clone().requires_grad_(True) for t in init]
        opt = torch.optim.Adam(params, lr=torch.tensor(1e-3) if lr == "tensor" else lr, fused=True)
        calls = []
        plain_step = opt.step
        monkeypatch.setattr(opt, "step", lambda c=calls, f=plain_step: (c.append(1), f()))
        for g in grads:
            for p, gi in zip(params, g):
                p.grad = gi.clone()
            adam_step(opt) if direct else opt.step()
        assert len(calls) == (1 if direct else 4)
        runs.append((params, opt.state[params[0]]["step"].item()))
    (plain, plain_count), (direct, direct_count) = runs
    assert plain_count == direct_count == 4.0
    for a, b in zip(plain, direct):
        assert torch.equal(a, b)
    assert not torch.equal(plain[0], init[0])  # the steps moved the weights
    direct[1].grad = None  # a parameter without a gradient (opt.step() skips it) goes through opt.step()
    adam_step(opt)
    assert len(calls) == 2 and opt.state[direct[1]]["step"].item() == 4.0
    assert opt.state[direct[0]]["step"].item() == 5.0
    direct[1].grad = torch.zeros_like(direct[1])
    fired = []
    opt.register_step_post_hook(lambda *args: fired.append(1))  # hooks run, so the step goes through opt.step()
    adam_step(opt)
    assert fired == [1] and len(calls) == 3


def test_compile_unavailable_falls_back_to_the_eager_update(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch, "compile", broken)
    cfg, data = _config(), dataset()
    fast = FastAWAC([2], OB, AC, cfg, device="cpu")
    assert fast.enable_compile() is False
    sampler = MultiSeedSampler(data, "cpu", [2])
    logs = fast.update(*sampler.sample(cfg.batch_size))
    ref, ref_logs = _reference_run(2, cfg, data, 1)
    assert float(logs["Critic Loss"][0]) == pytest.approx(ref_logs[0]["Critic Loss"], rel=1e-5)


@pytest.mark.parametrize("algo", ["awac", "iql"])
def test_descent_groups_are_the_groups_the_update_clips(algo):
    """``enable_compile`` builds the clippers from ``_descent_groups`` before tracing; they must be the ones
    an update builds, or the compiled update would still build (and recompile for) one more."""
    from cs224r.fast.iql import FastIQL
    from cs224r.infrastructure.config import IQLConfig

    fast_cls, cfg = (FastAWAC, _config()) if algo == "awac" else (FastIQL, IQLConfig(**_SMALL, grad_clip=10.0))
    data, seeds = dataset(), [1, 2]
    updated = fast_cls(seeds, OB, AC, cfg, device="cpu")
    updated.update(*MultiSeedSampler(data, "cpu", seeds).sample(cfg.batch_size))
    prebuilt = fast_cls(seeds, OB, AC, cfg, device="cpu")
    for params, member_dims in prebuilt._descent_groups():
        prebuilt._clipper(params, member_dims)
    assert set(prebuilt._clippers) == set(updated._clippers)
    assert len(updated._clippers) == (2 if algo == "awac" else 3)  # critic, actor (+ IQL's value net)


@pytest.mark.skipif(not os.environ.get("CS224R_TEST_COMPILE"),
                    reason="compiling takes 1-2 minutes on a CPU; set CS224R_TEST_COMPILE=1 to run")
def test_compiled_update_matches_reference():
    from torch._dynamo.utils import counters

    cfg, data = _config(grad_clip=0.5), dataset(seed=1)
    seeds = [1, 2]
    fast = FastAWAC(seeds, OB, AC, cfg, device="cpu")
    assert fast.enable_compile()
    sampler = MultiSeedSampler(data, "cpu", seeds)
    logs = [{k: v.clone() for k, v in fast.update(*sampler.sample(cfg.batch_size)).items()}]
    traced = counters["frames"]["total"]
    logs += [{k: v.clone() for k, v in fast.update(*sampler.sample(cfg.batch_size)).items()} for _ in range(9)]
    assert counters["frames"]["total"] == traced  # compiled on the first call only: no recompilation
    for s, seed in enumerate(seeds):
        ref, ref_logs = _reference_run(seed, cfg, data, 10)
        _assert_seed_matches(fast, s, ref, logs, ref_logs)


def test_cosine_actor_schedule_matches_reference(device):
    cfg, data, seeds = _config(actor_lr_schedule="cosine", total_steps=12), dataset(seed=2), [4, 9]
    fast, fast_logs = _fast_run(seeds, cfg, data, 12)
    for s, seed in enumerate(seeds):
        ref, ref_logs = _reference_run(seed, cfg, data, 12)
        _assert_seed_matches(fast, s, ref, fast_logs, ref_logs)
        assert [float(f["Actor LR"][s]) for f in fast_logs] == pytest.approx([r["Actor LR"] for r in ref_logs])
        assert fast.sync_shell(s).actor_lr.num_updates == ref.actor_lr.num_updates == 12
    assert float(fast_logs[-1]["Actor LR"][0]) < 0.1 * float(fast_logs[0]["Actor LR"][0])  # it decayed


def test_zero_subnormal_moments_zeroes_exactly_the_subnormal_adam_moments():
    """What --flush-denormal does on a GPU at each log: subnormal Adam moments become 0, nothing else moves."""
    seeds = [1, 2]
    fast, sampler = FastAWAC(seeds, OB, AC, _config(), device="cpu"), MultiSeedSampler(dataset(), "cpu", seeds)
    for _ in range(3):
        fast.update(*sampler.sample(16))
    tiny = torch.finfo(torch.float32).tiny
    states = [st for opt in fast.optimizers() for st in opt.state.values()]
    for st in states:  # a dead unit's moments as a GPU leaves them: stuck at the smallest subnormals
        st["exp_avg"].view(-1)[:2] = torch.tensor([tiny / 8, -1.4e-45])
        st["exp_avg_sq"].view(-1)[0] = tiny / 2
    before = [{k: v.clone() for k, v in st.items()} for st in states]
    fast.zero_subnormal_moments()
    for st, old in zip(states, before):
        for key in ("exp_avg", "exp_avg_sq"):
            sub = old[key].abs() < tiny
            assert sub.any() and not (st[key][sub] != 0).any()
            assert torch.equal(st[key][~sub], old[key][~sub])  # normal values bit-for-bit
        assert torch.equal(st["step"], old["step"])
