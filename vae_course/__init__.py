"""vae-course: the reference code behind the notebooks, from autoencoders to VQ-VAE.

Modules, one concept each: ``data`` (every data set), ``moons`` (rendered moon phases and their
metrics), ``losses`` (pure loss functions), ``train`` (the one training loop), ``plots``,
``seeding``, ``exercises`` (checks with feedback); the notebooks add their own models.
"""
from .seeding import seed_everything
from .train import fit, get_device

__version__ = "0.1.0"
__all__ = ["fit", "get_device", "seed_everything", "__version__"]
