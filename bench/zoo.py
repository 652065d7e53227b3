"""The zoo table: every registered model, trained with its defaults, on digits
and two 2D toys, measured by the one yardstick (`tfgen.evaluation`).

    python bench/zoo.py [--models realnvp,maf] [--data digits,two_moons] [--out DIR]

Each run is the `tfgen train MODEL --data DATA --out DIR` command the table
shows (the defaults: 1000 steps, Adam 1e-3 with cosine decay, the model's
registry defaults for the data's shape), run in a fresh process one after
another (never two at once: they would share the CPU and distort the
timings). The table replaces the one between the `zoo` markers of
saved_models/README.md. Models that cannot take a data's shape (Glow on 2D
points) are listed as such. A family added to the registry adds its rows;
`CONDITIONAL` lists the class-conditional runs (`--conditional`) it adds;
models built on another trained model (`BUILT_ON`: latent diffusion on a
VAE, the PixelCNN prior on a VQ-VAE) get the zoo's run of that model on
the same data.
"""

import argparse
import json
import os
import subprocess
import sys

from tfgen.registry import MODELS, get_model_class

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "saved_models", "README.md")
BEGIN, END = "<!-- zoo:begin -->", "<!-- zoo:end -->"
DATA = ("digits", "two_moons", "eight_gaussians")
# (model, data) trained class-conditionally too.
CONDITIONAL = (("vae", "digits"), ("dcgan", "digits"))
# model -> (its constructor argument, the registered model whose run it takes).
BUILT_ON = {"ldm": ("autoencoder", "vae"), "vqvae_prior": ("vqvae", "vqvae")}


def command(model, data, out, conditional=False, zoo=None):
    """The `tfgen train` command of a run into `out`; a model `BUILT_ON`
    another takes that model's run in the `zoo` folder (shown as
    `VAE_DIR` without one)."""
    built_on = []
    if model in BUILT_ON:
        argument, base = BUILT_ON[model]
        base_dir = os.path.join(zoo, f"{base}_{data}") if zoo else f"{base.upper()}_DIR"
        built_on = ["--set", f"{argument}={base_dir}"]
    return ["tfgen", "train", model, "--data", data, *(["--conditional"] if conditional else []),
            *built_on, "--out", out]


def run(model, data, out, conditional=False):
    """Trains one model (a fresh `tfgen train` process), after the run it
    is built on; returns its metrics."""
    if model in BUILT_ON:
        run(BUILT_ON[model][1], data, out)
    path = os.path.join(out, f"{model}_{data}" + ("_conditional" if conditional else ""))
    if not os.path.isfile(os.path.join(path, "metrics.json")):
        args = command(model, data, path, conditional, zoo=out)
        print("$", " ".join(args), flush=True)
        tfgen = os.path.join(os.path.dirname(sys.executable), "tfgen")
        subprocess.run([tfgen, *args[1:]], check=True)
    with open(os.path.join(path, "metrics.json")) as f:
        return json.load(f)


def _takes(model, data):
    """Whether `model` trains on `data` (flattening images if it must)."""
    return data == "digits" or 1 in get_model_class(model).event_ranks


def _floor(metrics, key, digits=3):
    if key not in metrics:
        return ""
    return f"{metrics[key]:.{digits}f} ({metrics[key + '_floor']:.{digits}f})"


def _likelihood(metrics):
    """The model's likelihood column: exact bits/dim, or its bounds (not a
    VQ-VAE's reconstruction term, which is none)."""
    if metrics.get("likelihood") == "exact":
        return f"{metrics['bits_per_dim']:.3f}"
    bounds = [f"{k}: {v:.3f}" for k, v in sorted(metrics.items())
              if k.endswith("bits_per_dim") and k != "bits_per_dim"
              and not k.startswith("reconstruction")]
    return ", ".join(bounds) or "none"


def row(model, data, metrics, conditional=False):
    """One table row (Markdown) of a run's metrics."""
    kid = (f"{metrics['kid_digits']:.2f} ± {metrics['kid_digits_stderr']:.2f} "
           f"({metrics['kid_digits_floor']:.2f})" if "kid_digits" in metrics else "")
    cells = [
        f"`{model}`", data, _likelihood(metrics),
        f"{metrics['kl_gap']:.3f}" if "kl_gap" in metrics else "",
        _floor(metrics, "fid_digits", 2), kid, _floor(metrics, "is_digits", 2),
        _floor(metrics, "class_accuracy_digits", 3), _floor(metrics, "energy_distance", 4),
        (f"{metrics['modes_hit']}/{metrics['num_modes']} ({metrics['high_quality_fraction']:.1%})"
         if "modes_hit" in metrics else ""),
        f"{metrics['samples_per_second']:,.0f}", f"{metrics['train_seconds']:.0f}",
        f"`{' '.join(command(model, data, 'DIR', conditional))}`"]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| model | data | bits/dim (test) | KL gap (nats) | FID digits (floor) | "
    "KID digits (floor) | IS digits (floor) | class accuracy (floor) | "
    "energy distance (floor) | modes hit (high-quality samples) | samples/s | train s | "
    "command |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def table(rows):
    return "\n".join([HEADER, *rows])


def write_readme(text):
    with open(README) as f:
        readme = f.read()
    block = f"{BEGIN}\n{text}\n{END}"
    if BEGIN in readme:
        start, end = readme.index(BEGIN), readme.index(END) + len(END)
        readme = readme[:start] + block + readme[end:]
    else:
        readme = readme.rstrip() + "\n\n## The zoo\n\n" + block + "\n"
    with open(README, "w") as f:
        f.write(readme)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--data", default=",".join(DATA))
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "zoo_runs"))
    parser.add_argument("--no-readme", action="store_true", help="print the table only")
    args = parser.parse_args()
    rows = []
    for model in args.models.split(","):
        for data in args.data.split(","):
            if not _takes(model, data):
                rows.append(f"| `{model}` | {data} | takes images only | | | | | | | | | | |")
                continue
            rows.append(row(model, data, run(model, data, args.out)))
            if (model, data) in CONDITIONAL:
                rows.append(row(model, data, run(model, data, args.out, True), True))
    text = table(rows)
    print(text)
    if not args.no_readme:
        write_readme(text)


if __name__ == "__main__":
    main()
