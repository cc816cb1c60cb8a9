"""The review page of a training run (``moglow review``) and the evaluation page (``moglow evaluate``).

One job per module:

- :mod:`moglow.review.runs`: the run folder's data (sample sets, training numbers, evaluation).
- :mod:`moglow.review.media`: sample videos, path plots, training curves.
- :mod:`moglow.review.rendering`: the Jinja2 environment (``templates/``, autoescaped).
- :mod:`moglow.review.page`: ``RUN_DIR/review/index.html`` (:func:`write_review`).
- :mod:`moglow.review.evaluation_page`: ``evaluation.html`` beside ``evaluation.json``, with a 3-D
  viewer per held-out clip.
- :mod:`moglow.review.browser_check`: a page opened in headless Chromium through Playwright
  (:func:`check_page`); :mod:`moglow.review.serve`: a folder served on a local port.
"""
from __future__ import annotations

from moglow.review.browser_check import check_page
from moglow.review.errors import ReviewError
from moglow.review.page import write_review

__all__ = ["write_review", "check_page", "ReviewError"]
