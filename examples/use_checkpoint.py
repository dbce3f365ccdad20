"""Use a trained checkpoint from Python: load it (any variant), sample, score and plot.

    ganmods fit -c configs/toy/wgan_gp.yaml
    python examples/use_checkpoint.py runs/toy/wgan_gp/version_0/checkpoints/last.ckpt
"""

import sys

import ganmods
from ganmods.callbacks import plot_toy
from ganmods.data import make_toy

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    model = ganmods.load_checkpoint(sys.argv[1])  # eval mode, on CPU, whatever the variant
    print(f"{type(model).__name__}, loss {model.loss.name}, {model.generator_steps} generator steps")
    samples = model.sample(2500, seed=0)  # from the EMA generator when the run kept one
    ring = make_toy("ring8")
    print("score:", ring.evaluate(samples))
    fig = plot_toy(ring.sample(1000), samples[:1000], critic=model.discriminator, bounds=ring.bounds())
    fig.savefig("samples.png")
    print("wrote samples.png")
