"""Device syncs and host-to-device copies, recorded as the dispatcher sees them (used by tests and benchmarks)."""

import torch
from torch._subclasses.fake_tensor import FakeTensor
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten


class SyncRecorder(TorchDispatchMode):
    """Records the operations that make the host wait for the device, or copy host data to it.

    Fake tensors have no values, so there a value read gets a stand-in answer (0, False, no index) and
    the code under audit runs on to its end: every event is listed, not just the first. Real tensors
    are computed as usual.
    """

    SYNCS = {aten._local_scalar_dense.default, aten.nonzero.default, aten.is_nonzero.default}
    MASKED = {aten.index.Tensor, aten.index_put.default, aten.index_put_.default}

    def __init__(self):
        super().__init__()
        self.events = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self.SYNCS:
            self.events.append(str(func))
            if not isinstance(args[0], FakeTensor):
                return func(*args, **kwargs)
            if func is aten.nonzero.default:
                return torch.empty(0, args[0].dim(), dtype=torch.long, device=args[0].device)
            return False if func is aten.is_nonzero.default else 0
        if func in self.MASKED and any(i is not None and i.dtype == torch.bool for i in args[1]):
            self.events.append(f"boolean mask in {func}")  # a nonzero under the hood
            if not isinstance(args[0], FakeTensor):
                return func(*args, **kwargs)
            mask = next(i for i in args[1] if i is not None)
            if func is aten.index.Tensor:
                return torch.empty(0, *args[0].shape[mask.dim():], dtype=args[0].dtype, device=args[0].device)
            return args[0]
        if func is aten._to_copy.default and args[0].device.type == "cpu" \
                and torch.device(kwargs.get("device") or "cpu").type == "cuda":
            self.events.append(f"host->device {tuple(args[0].shape)}")
        elif func is aten.copy_.default and args[0].device.type == "cuda" and args[1].device.type == "cpu":
            self.events.append(f"host->device {tuple(args[1].shape)}")
        return func(*args, **kwargs)
