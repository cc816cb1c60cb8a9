"""The look of a rendered clip: colours (palette, display -> shader space) and :class:`Style` sizes.

Plain data, no pyrender: importing this module does not choose a GL platform.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["display_to_linear", "PALETTE", "sample_color", "Style"]


def display_to_linear(rgb) -> np.ndarray:
    """Display colour(s) in [0, 1] to the shader's linear space: squared (shaders/mesh.frag
    outputs sqrt, a gamma of 2, cheaper than pow on a software rasteriser)."""
    c = np.asarray(rgb, dtype=np.float64)
    return c * c


#: sRGB colours: ground truth first, then generated samples
PALETTE = {
    "ground_truth": (0.36, 0.47, 0.66),
    "samples": [(0.93, 0.52, 0.16), (0.13, 0.62, 0.58), (0.62, 0.40, 0.80), (0.85, 0.30, 0.32),
                (0.45, 0.68, 0.22), (0.90, 0.74, 0.18), (0.30, 0.55, 0.85), (0.70, 0.45, 0.30)],
}


def sample_color(i: int) -> tuple[float, float, float]:
    """The i-th colour of the sample palette (cycled)."""
    return PALETTE["samples"][i % len(PALETTE["samples"])]


@dataclass
class Style:
    """Look of the scene. Lengths are multiplied by the character's height / 1.7 m.

    Attributes:
        joint_radius, bone_radius: metres for a 1.7 m character (scaled with its height).
        tile: checker tile size in metres (not scaled).
        floor_colors: the two sRGB tile colours; background: sRGB.
        path_width: metres; path_color: sRGB for a control path shared by all characters.
        shadow: draw drop shadows; shadow_strength: floor brightness inside a shadow (0..1).
        key_light_angles: (degrees about Y from the camera's direction, degrees above the floor)
            of the direction towards the key light, which also casts the drop shadow.
        ambient, key_light, fill_light: light intensities.
        fog: (start, end) distance from the camera in metres (scaled) where the floor fades out.
        sphere_detail: icosphere subdivisions; tube_sections: bone tube segments.
    """

    joint_radius: float = 0.034
    bone_radius: float = 0.026
    tile: float = 0.5
    floor_colors: tuple = ((0.84, 0.84, 0.82), (0.70, 0.71, 0.70))
    background: tuple = (0.90, 0.92, 0.95)
    path_width: float = 0.035
    path_color: tuple = (0.80, 0.18, 0.22)
    shadow: bool = True
    shadow_strength: float = 0.55
    key_light_angles: tuple = (40.0, 55.0)
    ambient: float = 0.45
    key_light: float = 2.4
    fill_light: float = 0.8
    fog: tuple = (9.0, 30.0)
    sphere_detail: int = 2
    tube_sections: int = 14
