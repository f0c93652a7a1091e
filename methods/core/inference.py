"""How a trained method's network runs when it stylizes: speed settings that change how the
arithmetic rounds, never what is computed (same weights, same layers, float32 images out).

``channels_last`` puts the network's weights and its image inputs in NHWC memory order (what
tensor-core GPUs convolve fastest); ``precision: bfloat16`` runs the forward pass under bfloat16
autocast. Training is untouched by either: they only apply to `Inference.__call__`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from stylebench.methods.core.encoders import Precision


@dataclass(frozen=True)
class Inference:
    """One forward pass of a network as the method's settings say."""

    channels_last: bool = False
    precision: Precision = "float32"

    def __call__(self, net: nn.Module, *inputs: torch.Tensor) -> torch.Tensor:
        """``net(*inputs)``, returned as a float32, NCHW-contiguous tensor whatever is set.
        Channels-last converts ``net``'s weights in place (once; it is a no-op after)."""
        if self.channels_last:
            net.to(memory_format=torch.channels_last)
            inputs = tuple(
                x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
                for x in inputs
            )
        bfloat16 = self.precision == "bfloat16"
        with torch.autocast(inputs[0].device.type, dtype=torch.bfloat16, enabled=bfloat16):
            output = net(*inputs)
        return output.float().contiguous()


def memory_order_of(out: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``out`` in the memory order of ``like`` (NHWC or NCHW): a layer that computes its result
    in another order (attention maps, matrix products) hands the convolutions after it what a
    convolution would have, so they run in the order the network was set to."""
    nhwc = like.is_contiguous(memory_format=torch.channels_last) and not like.is_contiguous()
    return out.contiguous(memory_format=torch.channels_last if nhwc else torch.contiguous_format)


#: Float32 in the network's own layout: what training runs, and the default.
PLAIN = Inference()
