"""pytorch_util.from_numpy: arrays and tensors (on any device) become tensors on the training device."""

import numpy as np
import torch

from cs224r.infrastructure import pytorch_util as ptu


def test_from_numpy_takes_arrays_and_device_tensors(device):
    x = ptu.from_numpy(np.arange(6, dtype=np.float64).reshape(2, 3))
    assert x.device.type == device.type and x.dtype == torch.float32
    assert ptu.from_numpy(np.array([1, 2])).dtype == torch.int64  # indices keep their integer type
    on_device = torch.randn(4, 3, device=device)
    assert ptu.from_numpy(on_device) is on_device  # the trainer's batches: no copy, no error
    from_cpu = ptu.from_numpy(torch.ones(2, dtype=torch.float64))
    assert from_cpu.device.type == device.type and from_cpu.dtype == torch.float32
    assert ptu.from_numpy(torch.tensor([True, False]), torch.float32).tolist() == [1.0, 0.0]
    assert ptu.from_numpy(torch.tensor([0.0, 2.0]), torch.long).dtype == torch.long
