"""Image-flow baseline (issue 8): multi-scale Real NVP on the MNIST subset / 8×8 digits,
trained by NLL, as a GAN generator or by the hybrid; bits/dim of the discrete data and
FID-LeNet. See ``docs/results_images.md``."""
from baselines.images.data import ImageData, load_images, uniform_noise_images
from baselines.images.model import SIZES, ImageFlow, ImageFlowConfig, evaluate_bits, evaluate_bits_u

__all__ = ["ImageData", "load_images", "uniform_noise_images", "SIZES", "ImageFlow", "ImageFlowConfig",
           "evaluate_bits", "evaluate_bits_u"]
