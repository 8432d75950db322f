"""vae-course: the reference code behind the notebooks, from autoencoders to VQ-VAE.

Two wings, for two kinds of reader.

**The course's reference code** (what the notebooks import), one concept a module:

* ``data`` every data set behind one ``load(name, split)``; ``moons`` rendered moon phases and
  their metrics (manifold distance, decoded phase, ``MoonReading``);
* ``losses`` pure loss functions and log-densities (``LOG_2PI``, ``log_normal``, ``log_mean_exp``);
  ``train`` the one training loop ``fit`` (and the moon autoencoders' recipe); ``plots``
  (draws in the course style without touching matplotlib's globals); ``seeding``;
* ``ops`` the tensor primitives under everything (the image-shape check, the straight-through
  estimator);
* ``models`` models only: the one model contract (the ``Model`` protocol: ``code`` / ``decode`` ->
  logits / ``to_image`` / ``reconstruct``, ``image_size``, ``latent_dim``; ``eval_mode``,
  ``map_batches``, ``encode_images``, ``decode_codes``, ``decode_point``) and the models:
  ``models.ae`` autoencoders (01-03), ``models.vae`` VAE, CVAE, ELBO and IWAE bounds (05-07),
  ``models.vq`` vector quantizer and VQ-VAE, ``models.pixelcnn`` the prior over its codes (08);
* ``pca`` the baseline of 01; ``denoising`` the readings of a denoising AE (03); ``vq`` codebook
  usage and the code explorer (08);
* ``corruption`` input and code noise (02, 03); ``interpolation`` latent paths and how real their
  decodings are (02, 06); ``lvm`` an exact linear-Gaussian latent variable model (04);
  ``estimators`` score-function, pathwise and straight-through gradients with their closed-form
  variances (05); ``wake_sleep`` the algorithm AEVB replaced (05); ``diagnostics`` KL per dimension,
  active units, bits/dim (06, 07); ``judge`` a small digit classifier that scores generated images
  (06-08); ``claims`` teaching claims that explain themselves when a learner changes a parameter;
  ``explorer`` an explorer's MLP decoder exported as JSON, for the web edition's live explorers (01, 06, 09).

**The classroom tooling** (``classroom``, for teachers; never imported by a notebook): student
versions, grading (the kernel computes, the grader judges, over a data-only ``wire``), the confined
kernel (``sandbox``, ``kernel``), reports and gradebooks, and the ``vae-course`` command line.

``exercises`` sits between the two: the notebooks' ``check("NN.k", fn)`` and the grader both use it.
"""

from . import i18n as _i18n
from .seeding import seed_everything
from .train import fit, get_device

# in a Chinese edition (VAE_COURSE_LANG=zh, or a kernel in a folder named zh) what notebook code prints and
# draws is translated on its way out (vae_course/i18n.py); in English this does nothing
_i18n.activate()

__version__ = "0.1.0"
__all__ = ["fit", "get_device", "seed_everything", "__version__"]
