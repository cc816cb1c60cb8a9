"""Text labels burnt into rendered frames (pyrender cannot draw text off-screen).

A label is drawn once with Pillow into a small RGBA patch; each frame only alpha-blends that
patch, a few thousand pixels of numpy work.
"""
from __future__ import annotations

import numpy as np


class TextOverlay:
    """A one-line legend on a translucent rounded box at the top-left of a panel: each entry is
    a text, preceded by a dot of its colour when it has one.

    Args:
        entries: [(text, sRGB colour in [0, 1] or None), ...].
        panel_width: width of the panel in pixels (the font size follows it).
        text_color: sRGB; box: RGBA of the box, in [0, 1].
    """

    def __init__(self, entries: list[tuple[str, tuple | None]], panel_width: int, text_color=(0.15, 0.15, 0.17),
                 box=(1.0, 1.0, 1.0, 0.75)):
        from PIL import Image, ImageDraw, ImageFont  # noqa: PLC0415

        size = int(np.clip(panel_width / 26, 11, 18))
        try:
            font = ImageFont.load_default(size=size)
        except TypeError:  # Pillow < 10.1 has only the fixed bitmap font
            font = ImageFont.load_default()
        measure = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
        pad, dot, gap = max(3, size // 3), int(size * 0.7), int(size * 0.8)
        _, top, _, bottom = measure.textbbox((0, 0), "Ag", font=font)
        h = bottom - top + 2 * pad
        layout, x = [], pad
        for text, color in entries:
            if color is not None:
                layout.append(("dot", x, color))
                x += dot + pad
            layout.append(("text", x, text))
            x += int(measure.textlength(text, font=font)) + gap
        w = min(x - gap + pad, panel_width - 16)
        img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(img)
        draw.rounded_rectangle((0, 0, w - 1, h - 1), radius=pad, fill=tuple(int(255 * c) for c in box))
        for kind, x, what in layout:
            if kind == "dot":
                y0 = (h - dot) // 2
                draw.ellipse((x, y0, x + dot, y0 + dot), fill=tuple(int(255 * c) for c in what) + (255,))
            else:
                draw.text((x, pad - top), what, font=font, fill=tuple(int(255 * c) for c in text_color) + (255,))
        rgba = np.asarray(img, dtype=np.float32) / 255.0
        self.alpha = rgba[..., 3:4]
        self.premultiplied = rgba[..., :3] * self.alpha * 255.0
        self.x, self.y = 8, 8

    def draw(self, panel: np.ndarray) -> None:
        """Blend the label into ``panel`` ((H, W, 3) uint8, modified in place)."""
        h, w = self.alpha.shape[:2]
        h, w = min(h, panel.shape[0] - self.y), min(w, panel.shape[1] - self.x)
        if h <= 0 or w <= 0:
            return
        region = panel[self.y:self.y + h, self.x:self.x + w]
        a = self.alpha[:h, :w]
        region[:] = (region * (1.0 - a) + self.premultiplied[:h, :w]).astype(np.uint8)
