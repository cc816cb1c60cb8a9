"""The Jinja2 environment of the package's pages (``moglow/review/templates/``), autoescaping on.

Every value a template prints is HTML-escaped (:func:`jinja2.select_autoescape` for ``.html``
templates): run names, paths, styles and file names from a run folder can never inject markup.
Python code hands templates plain data (strings, numbers, hrefs); markup lives in the templates.
The filters format numbers the way the pages show them (``–`` for a missing value).

Example::

    >>> environment().from_string("{{ x }}").render(x="<b>")
    '&lt;b&gt;'
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import numpy as np

from moglow.review.runs import LN2

__all__ = ["environment", "render", "href", "dash", "num", "fmt_metric"]

#: ``.html`` templates are autoescaped (``style.css`` is included as is)
_AUTOESCAPE = jinja2.select_autoescape(enabled_extensions=("html", "htm", "xml"), default_for_string=True)


def dash(x: Any) -> Any:
    """``x``, or an en dash for None and non-finite floats."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return x


def num(x: float | int | None, digits: int = 3) -> str:
    """An integer with thousands separators, a float with ``digits`` decimals, or ``–``."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    return f"{x:.{digits}f}"


def fmt_metric(v: Any) -> str | None:
    """A metric value as the tables show it (3 significant digits for large or tiny values); None if undefined."""
    if v is None or isinstance(v, (dict, list)):
        return None
    if isinstance(v, float):
        if not math.isfinite(v):
            return None
        a = abs(v)
        return f"{v:.3g}" if a >= 1000 or (0 < a < 0.01) else f"{v:.3f}"
    return str(v)


def href(target: str | Path, page_dir: str | Path) -> str:
    """URL of ``target`` relative to the page's folder (percent-encoded; the template escapes it)."""
    rel = os.path.relpath(Path(target).resolve(), Path(page_dir).resolve())
    return quote(Path(rel).as_posix())


_ENV: jinja2.Environment | None = None


def environment() -> jinja2.Environment:
    """The package's template environment (created once): templates from ``moglow.review``'s
    ``templates/`` folder, autoescaping on, undefined variables an error."""
    global _ENV
    if _ENV is None:
        env = jinja2.Environment(loader=jinja2.PackageLoader("moglow.review", "templates"),
                                 autoescape=_AUTOESCAPE, undefined=jinja2.StrictUndefined,
                                 trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
        env.filters.update(dash=dash, num=num)
        env.globals.update(ln2=LN2)
        _ENV = env
    return _ENV


def render(template: str, **context: Any) -> str:
    """Render one template of ``templates/`` with ``context``."""
    return environment().get_template(template).render(**context)
