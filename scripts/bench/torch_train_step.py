"""Time one training step of the published HSNet code (ResNet-50) on CPU.

Development tool only (the build and the tests never run it). It exists so that the `train`
row of `cdfss bench --suites train` can be compared side by side with the published code.

What one step is: the body of the published `train.py` training loop for one batch of 1-shot
episodes, with the model in `train_mode()` (learner in training mode, backbone in eval mode):

    logit_mask = model(query_img, support_img, support_mask)
    loss = model.compute_objective(logit_mask, query_mask)
    optimizer.zero_grad(); loss.backward(); optimizer.step()

The backbone runs on both images inside every forward (under `torch.no_grad()`, as the
published code does; nothing is cached). The optimizer is Adam (lr 1e-3) over
`model.parameters()`, exactly as `train.py` builds it; since the backbone runs under
`no_grad` its parameters never get a gradient and Adam skips them, so only the learner is
updated. Not timed: data loading, `nn.DataParallel` (a pass-through without GPUs), the
`argmax` prediction and the IoU bookkeeping of the loop.

The model is `HypercorrSqueezeNetwork("resnet50", use_original_imgsize=False)`; torchvision's
`resnet50` is patched to `weights=None` so nothing is downloaded, and every weight comes from
a seeded random initialisation (weights do not matter for timing). Inputs are random:
normalised images ~ N(0, 1) and binary masks that are a random disk per episode (seeded).

Run (with `--hsnet` a folder holding the published repository's .py files, e.g. exported from
the bare mirror with `git show HEAD:<path>`; its code is imported, never copied):

    /tmp/torch/bin/python scripts/bench/torch_train_step.py --hsnet /tmp/hsnet-src
    /tmp/torch/bin/python scripts/bench/torch_train_step.py --hsnet /tmp/hsnet-src \\
        --batch 4 --image-size 400 --steps 5 --warmup 1 --threads 2 --json

Prints the seconds of every timed step, the median, the minimum, the process's peak resident
memory (`ru_maxrss`, MiB), the torch version and the thread count, one line each; `--json`
prints a single JSON object instead.
"""

import argparse
import json
import resource
import statistics
import sys
import time

import torch


def published_model(hsnet):
    sys.path.insert(0, hsnet)
    from torchvision.models import resnet
    import model.hsnet as hsnet_module
    original = resnet.resnet50
    # The published constructor asks for ImageNet weights; for timing, random ones will do.
    resnet.resnet50 = lambda pretrained=False, **kw: original(weights=None)
    try:
        return hsnet_module.HypercorrSqueezeNetwork("resnet50", False)
    finally:
        resnet.resnet50 = original


def disk_masks(batch, size, generator):
    """One binary disk per episode, centre and radius drawn from `generator`."""
    ys = torch.arange(size, dtype=torch.float32).view(size, 1)
    xs = torch.arange(size, dtype=torch.float32).view(1, size)
    masks = []
    for _ in range(batch):
        cy, cx = (torch.rand(2, generator=generator) * 0.6 + 0.2) * size
        radius = (torch.rand(1, generator=generator).item() * 0.25 + 0.1) * size
        masks.append(((ys - cy) ** 2 + (xs - cx) ** 2 <= radius ** 2).float())
    return torch.stack(masks)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hsnet", required=True, help="folder with the published HSNet .py files")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=400)
    parser.add_argument("--steps", type=int, default=5, help="timed steps")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps before timing")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.steps < 1 or args.warmup < 0 or args.batch < 1 or args.image_size < 1:
        parser.error("--steps and --batch and --image-size must be positive, --warmup non-negative")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = published_model(args.hsnet)
    model.train_mode()
    optimizer = torch.optim.Adam([{"params": model.parameters(), "lr": 1e-3}])

    generator = torch.Generator().manual_seed(args.seed)
    size, batch = args.image_size, args.batch
    query_img = torch.randn(batch, 3, size, size, generator=generator)
    support_img = torch.randn(batch, 3, size, size, generator=generator)
    query_mask = disk_masks(batch, size, generator)
    support_mask = disk_masks(batch, size, generator)

    def step():
        logit_mask = model(query_img, support_img, support_mask)
        loss = model.compute_objective(logit_mask, query_mask)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    seconds = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)

    # ru_maxrss is KiB on Linux, bytes on macOS.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_rss_mib = rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024
    result = {
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "steps": args.steps,
        "batch": batch,
        "image_size": size,
        "threads": torch.get_num_threads(),
        "peak_rss_mib": round(peak_rss_mib, 1),
        "torch": torch.__version__,
    }
    if args.json:
        print(json.dumps(result))
        return
    for index, value in enumerate(seconds):
        print(f"step {index + 1}: {value:.3f} s")
    print(f"median: {result['median_s']:.3f} s")
    print(f"min: {result['min_s']:.3f} s")
    print(f"peak RSS: {result['peak_rss_mib']:.1f} MiB")
    print(f"torch: {result['torch']}")
    print(f"threads: {result['threads']}")
    print(f"(batch {batch}, {size} x {size}, {args.warmup} warm-up step(s), {args.steps} timed)")


if __name__ == "__main__":
    main()
