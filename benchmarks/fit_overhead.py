"""How much does ``vae_course.fit`` cost over a bare PyTorch loop? (target: within 5 %)

Trains the same small VAE on MNIST-5k with ``fit`` and with a bare loop (same model, data,
batch size, optimiser and shuffling), alternating the two several times, and prints the ratio
of the median times. Run: ``.venv/bin/python benchmarks/fit_overhead.py``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from vae_course import data, fit, seed_everything
from vae_course.losses import bce_with_logits, gaussian_kl
from vae_course.models.vae import VAE


def loss_fn(model, x, y):
    out = model(x)
    return (bce_with_logits(out.recon, x) + gaussian_kl(out.mu, out.logvar)).mean()


def bare_loop(model, x, epochs, batch_size, seed):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch_size):
            xb = x[order[i : i + batch_size]]
            loss = loss_fn(model, xb, None)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    args = p.parse_args()
    seed_everything(0)
    x, _ = data.load("mnist5k")
    times = {"fit": [], "bare": []}
    for r in range(args.repeats):
        for name in ("fit", "bare") if r % 2 == 0 else ("bare", "fit"):
            seed_everything(0)
            model = VAE(image_size=28, latent_dim=2)
            t = time.perf_counter()
            if name == "fit":
                fit(
                    model,
                    loss_fn,
                    x,
                    epochs=args.epochs,
                    batch_size=args.batch_size,
                    seed=0,
                    progress=False,
                    device="cpu",
                )
            else:
                bare_loop(model, x, args.epochs, args.batch_size, seed=0)
            times[name].append(time.perf_counter() - t)
    f, b = statistics.median(times["fit"]), statistics.median(times["bare"])
    print(f"fit  median {f:.3f} s  runs {[round(t, 3) for t in times['fit']]}")
    print(f"bare median {b:.3f} s  runs {[round(t, 3) for t in times['bare']]}")
    print(f"fit / bare = {f / b:.3f}  ({(f / b - 1) * 100:+.1f} %; target within 5 %)")


if __name__ == "__main__":
    main()
