"""Time the published PyTorch code on the rows of `cdfss bench` that it can be compared on.

Development tool: `cdfss bench --compare-torch PYTHON` runs it as a subprocess, so that the
ratio against the published code comes from the same run on the same machine; it can also be
run by hand. The build and the tests never run it, and nothing of the published code is copied
here: it is imported from the folders given with `--hsnet` and `--apm`.

Published code:

- `--hsnet DIR`: the files of https://github.com/juhongm999/hsnet (DIR/model/hsnet.py,
  DIR/model/learner.py, DIR/model/base/*.py).
- `--apm DIR`: the files of https://github.com/TungChintao/APM (DIR/example_for_hsnet.py,
  DIR/freq_masker.py, DIR/phase_attn.py).

The APM repository's model is `example_for_hsnet.py`, written to sit in HSNet's `model`
package (it imports `.base.feature`, `.learner` and `.lightweight_freq.freq_masker` /
`.lightweight_freq.phase_attn`): HSNet with APM-M `MaskModule((1, 2048, 13, 13))` and ACPA
`PhaseAttention(2048)` on the three layer-4 features. This script imports it as that package
would: `model` is HSNet's folder, `model.lightweight_freq` is the APM folder, and
example_for_hsnet.py is loaded as the module `model.apm_hsnet`. Both models use ResNet-50;
torchvision's `resnet50` is patched to `weights=None` while they are built (nothing is
downloaded) and every weight comes from a seeded random initialisation (weights do not matter
for timing).

Rows (each the counterpart of the `cdfss bench` row of the same name):

- `episode`: one 1-shot episode at 400 x 400 on the APM model, as HSNet's test.py runs it:
  `model.eval()`, under `torch.no_grad()`, `model.predict_mask_nshot(batch, nshot=1)` with a
  batch of one episode: both images through the backbone, the maskers, correlations, learner,
  upsampling and argmax. The support mask covers the centred quarter, as cdfss's does.
- `finetune`: one fine-tuning step of the maskers on one pair at 400 x 400, Adam (lr 1e-3).
  The APM repository publishes the model but no fine-tuning script; the step is the body of
  HSNet's train.py loop on that model (`model.train_mode()`, forward, `compute_objective`,
  `zero_grad`, `backward`, `step`), which recomputes everything every step: the backbone on
  both images (under the model's own `no_grad`), the maskers, all three correlations, the
  learner. Only the maskers are updated (as the paper fine-tunes them): the optimizer holds
  `model.apm` and `model.acpa`'s parameters and every other parameter has
  `requires_grad=False`, so no weight gradient of the learner is computed (the cheapest
  faithful version of their step).
- `maskers`: APM-M `MaskModule((1, 2048, 13, 13))` then ACPA `PhaseAttention(2048)` on x
  [6, 2048, 13, 13]: `forward` (under `no_grad`) and `forward_backward` (forward, then
  `y.backward(grad_output)` with x requiring a gradient, so that the input gradient is
  computed as cdfss's backward computes it, and the parameter gradients).
- `train`: one training step of the learner, as the published HSNet train.py loop does it,
  on `HypercorrSqueezeNetwork("resnet50", False)` in `train_mode()`: batch of 4 1-shot
  episodes at 400 x 400 (random images, a random disk as each mask), Adam (lr 1e-3) over
  `model.parameters()` as train.py builds it. The backbone runs on both images of every
  episode inside every forward, under `no_grad`, so only the learner gets gradients.

Run:

    python scripts/bench/torch_reference_bench.py --hsnet /tmp/hsnet-src --apm /tmp/apm-src \\
        --row episode finetune maskers train --threads 2 --json
    python scripts/bench/torch_reference_bench.py --hsnet /tmp/hsnet-src --apm /tmp/apm-src --check --row episode

`--check` imports torch and the published code the rows need and builds their models, times
nothing, and prints the torch version and thread count: `cdfss bench --compare-torch` runs it
before its own timings. Any failure prints one line on stderr and exits with status 2.

Output (`--json`): one object `{"torch", "threads", "rows": [{"row", "name", "runs",
"median_ms", "min_ms", "peak_rss_mib"}]}` (the names are cdfss's row names; `peak_rss_mib` is
the process's peak resident memory after the row, in MiB, meaningful for the first row timed).
Without `--json`, one line per result.
"""

import argparse
import importlib.util
import json
import os
import resource
import statistics
import sys
import time
import types

ROWS = ("episode", "finetune", "maskers", "train")
NEEDS = {"episode": ("hsnet", "apm"), "finetune": ("hsnet", "apm"), "maskers": ("apm",), "train": ("hsnet",)}


class Failure(Exception):
    """A failure reported as one line."""


def require_files(folder, label, names):
    """`label` names the folder (HSNet or APM) whatever option gave it: cdfss and this script name them differently."""
    if folder is None:
        raise Failure(f"the {label} code folder is needed (a folder holding the published repository's .py files)")
    if not os.path.isdir(folder):
        raise Failure(f"the {label} code folder {folder} does not exist")
    for name in names:
        if not os.path.isfile(os.path.join(folder, name)):
            raise Failure(f"the {label} code folder {folder} has no {name} (expected the published repository's files)")


class Published:
    """The published code, imported from its folders."""

    def __init__(self, hsnet, apm):
        self.hsnet, self.apm = hsnet, apm
        self._masker_modules = None
        self._apm_model_module = None
        if hsnet is not None and hsnet not in sys.path:
            sys.path.insert(0, hsnet)

    def _load(self, name, path):
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    def maskers(self):
        """(MaskModule, PhaseAttention) from the APM folder."""
        if self._masker_modules is None:
            require_files(self.apm, "APM", ("freq_masker.py", "phase_attn.py"))
            if self.hsnet is not None:
                self._package()
                import model.lightweight_freq.freq_masker as freq_masker
                import model.lightweight_freq.phase_attn as phase_attn
            else:
                freq_masker = self._load("apm_freq_masker", os.path.join(self.apm, "freq_masker.py"))
                phase_attn = self._load("apm_phase_attn", os.path.join(self.apm, "phase_attn.py"))
            self._masker_modules = (freq_masker.MaskModule, phase_attn.PhaseAttention)
        return self._masker_modules

    def _package(self):
        """HSNet's `model` package with the APM folder as `model.lightweight_freq`."""
        require_files(self.hsnet, "HSNet", ("model/hsnet.py", "model/learner.py", "model/base/feature.py",
                                               "model/base/correlation.py", "model/base/conv4d.py"))
        import model  # HSNet's folder (a namespace package: it has no __init__.py)
        if "model.lightweight_freq" not in sys.modules:
            package = types.ModuleType("model.lightweight_freq")
            package.__path__ = [self.apm]
            package.__package__ = "model.lightweight_freq"
            sys.modules["model.lightweight_freq"] = package
            model.lightweight_freq = package

    def _resnet_without_download(self, build):
        from torchvision.models import resnet
        original = resnet.resnet50
        # The published constructors ask for ImageNet weights; for timing, random ones will do.
        resnet.resnet50 = lambda pretrained=False, **kw: original(weights=None)
        try:
            return build()
        finally:
            resnet.resnet50 = original

    def apm_model(self):
        """The APM repository's HSNet with APM-M and ACPA (example_for_hsnet.py)."""
        require_files(self.apm, "APM", ("example_for_hsnet.py", "freq_masker.py", "phase_attn.py"))
        self._package()
        if self._apm_model_module is None:
            self._apm_model_module = self._load("model.apm_hsnet", os.path.join(self.apm, "example_for_hsnet.py"))
        module = self._apm_model_module
        return self._resnet_without_download(lambda: module.HypercorrSqueezeNetwork("resnet50", False))

    def hsnet_model(self):
        """The published HSNet (model/hsnet.py)."""
        require_files(self.hsnet, "HSNet", ("model/hsnet.py",))
        import model.hsnet as hsnet_module
        return self._resnet_without_download(lambda: hsnet_module.HypercorrSqueezeNetwork("resnet50", False))


def time_runs(body, runs, warmup):
    for _ in range(warmup):
        body()
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        body()
        seconds.append(time.perf_counter() - start)
    return seconds


def peak_rss_mib():
    # ru_maxrss is KiB on Linux, bytes on macOS.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def centred_square_mask(torch, size):
    """The mask cdfss's episode uses: ones on the centred quarter (rows and columns size/4 ..< 3 size/4)."""
    mask = torch.zeros(size, size)
    mask[size // 4:3 * size // 4, size // 4:3 * size // 4] = 1
    return mask


def disk_masks(torch, batch, size, generator):
    """One binary disk per episode, centre and radius drawn from `generator`."""
    ys = torch.arange(size, dtype=torch.float32).view(size, 1)
    xs = torch.arange(size, dtype=torch.float32).view(1, size)
    masks = []
    for _ in range(batch):
        cy, cx = (torch.rand(2, generator=generator) * 0.6 + 0.2) * size
        radius = (torch.rand(1, generator=generator).item() * 0.25 + 0.1) * size
        masks.append(((ys - cy) ** 2 + (xs - cx) ** 2 <= radius ** 2).float())
    return torch.stack(masks)


def episode_row(torch, published, args, build_only=False):
    model = published.apm_model()
    model.eval()
    if build_only:
        return []
    size = args.image_size
    generator = torch.Generator().manual_seed(args.seed)
    batch = {"query_img": torch.randn(1, 3, size, size, generator=generator),
             "support_imgs": torch.randn(1, 1, 3, size, size, generator=generator),
             "support_masks": centred_square_mask(torch, size).view(1, 1, size, size)}

    def episode():
        with torch.no_grad():
            model.predict_mask_nshot(batch, nshot=1)

    seconds = time_runs(episode, args.episode_runs, warmup=1)
    return [("episode.1shot.apm-m+acpa", seconds)]


def finetune_row(torch, published, args, build_only=False):
    model = published.apm_model()
    model.train_mode()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    maskers = list(model.apm.parameters()) + list(model.acpa.parameters())
    for parameter in maskers:
        parameter.requires_grad_(True)
    optimizer = torch.optim.Adam([{"params": maskers, "lr": 1e-3}])
    if build_only:
        return []
    size = args.image_size
    generator = torch.Generator().manual_seed(args.seed)
    query_img = torch.randn(1, 3, size, size, generator=generator)
    support_img = torch.randn(1, 3, size, size, generator=generator)
    support_mask = centred_square_mask(torch, size).view(1, size, size)
    query_mask = centred_square_mask(torch, size).view(1, size, size)

    step = training_step(model, optimizer, query_img, support_img, support_mask, query_mask)
    seconds = time_runs(step, args.finetune_runs, warmup=1)
    return [("finetune.step.apm-m+acpa.adam", seconds)]


def training_step(model, optimizer, query_img, support_img, support_mask, query_mask):
    """One step of HSNet's train.py loop body: forward, compute_objective, zero_grad,
    backward, the optimizer's update (over whatever parameters it was given)."""
    def step():
        logit_mask = model(query_img, support_img, support_mask)
        loss = model.compute_objective(logit_mask, query_mask)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


def maskers_row(torch, published, args, build_only=False):
    MaskModule, PhaseAttention = published.maskers()
    shape = (6, 2048, 13, 13)
    apm = MaskModule(shape=(1,) + shape[1:])
    acpa = PhaseAttention(shape[1])
    if build_only:
        return []
    generator = torch.Generator().manual_seed(args.seed)
    x = (torch.rand(shape, generator=generator) * 4 - 2).requires_grad_(True)
    grad_output = torch.rand(shape, generator=generator) * 2 - 1

    def forward():
        with torch.no_grad():
            acpa(apm(x))

    def forward_backward():
        for tensor in [x] + list(apm.parameters()) + list(acpa.parameters()):
            tensor.grad = None
        acpa(apm(x)).backward(grad_output)

    return [("maskers.forward", time_runs(forward, args.runs, warmup=2)),
            ("maskers.forward_backward", time_runs(forward_backward, args.runs, warmup=2))]


def train_row(torch, published, args, build_only=False):
    model = published.hsnet_model()
    model.train_mode()
    optimizer = torch.optim.Adam([{"params": model.parameters(), "lr": 1e-3}])
    if build_only:
        return []
    generator = torch.Generator().manual_seed(args.seed)
    size, batch = args.image_size, args.batch
    query_img = torch.randn(batch, 3, size, size, generator=generator)
    support_img = torch.randn(batch, 3, size, size, generator=generator)
    query_mask = disk_masks(torch, batch, size, generator)
    support_mask = disk_masks(torch, batch, size, generator)

    step = training_step(model, optimizer, query_img, support_img, support_mask, query_mask)
    seconds = time_runs(step, args.train_runs, warmup=1)
    return [("train.step.batch4.adam", seconds)]


ROW_FUNCTIONS = {"episode": episode_row, "finetune": finetune_row, "maskers": maskers_row, "train": train_row}


def run(args):
    try:
        import torch
    except Exception as error:  # ImportError and whatever a broken install raises
        raise Failure(f"cannot import torch ({type(error).__name__}: {error})")
    try:
        import torchvision  # noqa: F401 (the published models need it)
    except Exception as error:
        if any(row != "maskers" for row in args.row):
            raise Failure(f"cannot import torchvision ({type(error).__name__}: {error})")
    torch.set_num_threads(args.threads)
    for row in args.row:
        for need in NEEDS[row]:
            if getattr(args, need) is None:
                raise Failure(f"the {'HSNet' if need == 'hsnet' else 'APM'} code folder (--{need} DIR) is needed for the {row} row")
    published = Published(args.hsnet, args.apm)
    results = []
    for row in args.row:
        torch.manual_seed(args.seed)
        try:
            timed = ROW_FUNCTIONS[row](torch, published, args, build_only=args.check)
        except Failure:
            raise
        except Exception as error:
            raise Failure(f"{row}: the published code failed ({type(error).__name__}: {error})")
        for name, seconds in timed:
            results.append({"row": row, "name": name, "runs": len(seconds),
                            "median_ms": 1000 * statistics.median(seconds), "min_ms": 1000 * min(seconds),
                            "peak_rss_mib": round(peak_rss_mib(), 1)})
    return {"torch": torch.__version__, "threads": torch.get_num_threads(), "rows": results}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--row", nargs="+", choices=ROWS, default=list(ROWS), help="rows to time (default: all)")
    parser.add_argument("--hsnet", help="folder with the published HSNet repository's .py files")
    parser.add_argument("--apm", help="folder with the published APM repository's .py files")
    parser.add_argument("--check", action="store_true", help="import and build only; time nothing")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch.set_num_threads (cdfss: its worker count)")
    parser.add_argument("--runs", type=int, default=20, help="timed runs of the masker rows")
    parser.add_argument("--episode-runs", type=int, default=5)
    parser.add_argument("--finetune-runs", type=int, default=10)
    parser.add_argument("--train-runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=4, help="episodes per training step")
    parser.add_argument("--image-size", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    counts = (args.threads, args.runs, args.episode_runs, args.finetune_runs, args.train_runs, args.batch, args.image_size)
    if min(counts) < 1:
        parser.error("--threads, the run counts, --batch and --image-size must be positive")
    args.row = list(dict.fromkeys(args.row))
    try:
        report = run(args)
    except Failure as failure:
        print(f"torch_reference_bench: {failure}".replace("\n", " "), file=sys.stderr)
        sys.exit(2)
    if args.json:
        print(json.dumps(report))
        return
    print(f"torch {report['torch']}, threads: {report['threads']}")
    if args.check:
        print("ok: " + ", ".join(args.row))
    for result in report["rows"]:
        print(f"{result['name']}: median {result['median_ms']:.2f} ms (min {result['min_ms']:.2f} ms, "
              f"{result['runs']} runs), peak memory {result['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
