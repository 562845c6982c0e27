#!/usr/bin/python3
"""The PyTorch side of `make bench`: time training steps or forward passes of
the reference U-Net (tests/reference/unet_reference.py) on random data and
print one JSON object like build/bench/unet-bench's.

  torch_bench.py --mode train|infer --layout nchw|channels_last
                 [--base 16] [--depth 5] [--size 128] [--batch 16]
                 [--threads 2] [--warmup 2] [--steps 5]

Training step: logits, BCE with logits, zero_grad, backward, Adam (betas
0.9/0.999, eps 1e-7) step. Inference: eval mode, no_grad, sigmoid of the
logits. Peak memory is this process's ru_maxrss (so run one measurement per
process); cpu_per_wall is the CPU time of the timed steps over their wall
time (the threads actually busy). bench/run runs it with Debian's python3
(torch 1.13) and with its virtual environment's (a current torch from PyPI).
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
from unet_reference import UNet  # noqa: E402
from steptime import parser, time_steps  # noqa: E402


def main():
    p = parser(__doc__, ("nchw", "channels_last"))
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    fmt = torch.channels_last if a.layout == "channels_last" else torch.contiguous_format
    net = UNet(3, a.base, a.depth).to(memory_format=fmt)
    x = torch.rand(a.batch, 3, a.size, a.size).contiguous(memory_format=fmt)
    y = torch.randint(0, 2, (a.batch, 1, a.size, a.size)).float().contiguous(memory_format=fmt)

    if a.mode == "train":
        net.train()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)

        def step():
            loss = F.binary_cross_entropy_with_logits(net.logits(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    else:
        net.eval()

        def step():
            with torch.no_grad():
                net(x)

    out = {
        "mode": a.mode, "layout": a.layout, "base_filters": a.base, "depth": a.depth,
        "size": a.size, "batch": a.batch, "threads": a.threads,
        "torch": torch.__version__, "python": "%d.%d.%d" % sys.version_info[:3],
    }
    out.update(time_steps(step, a.warmup, a.steps, a.batch))
    print(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()
