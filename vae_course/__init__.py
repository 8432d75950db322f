"""vae-course: the reference code behind the notebooks, from autoencoders to VQ-VAE.

Modules, one concept each:

* ``data`` every data set behind one ``load(name, split)``; ``moons`` rendered moon phases and
  their metrics (manifold distance, decoded phase);
* ``losses`` pure loss functions; ``train`` the one training loop ``fit``; ``plots``; ``seeding``;
* ``ae`` autoencoders and the PCA baseline (01); ``corruption`` input and code noise (02, 03);
  ``interpolation`` latent paths and how real their decodings are (02, 06);
* ``lvm`` an exact linear-Gaussian latent variable model (04); ``estimators`` score-function and
  pathwise gradients with their closed-form variances (05);
* ``vae`` VAE, CVAE, ELBO and IWAE bounds; ``diagnostics`` KL per dimension, active units, bits/dim
  (06, 07); ``vq`` vector quantizer, VQ-VAE and a code prior (08);
* ``exercises`` the checks with feedback; ``student``, ``grading``, ``cli`` the teachers' tools.
"""
from .seeding import seed_everything
from .train import fit, get_device

__version__ = "0.1.0"
__all__ = ["fit", "get_device", "seed_everything", "__version__"]
