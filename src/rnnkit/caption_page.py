"""A page to look at captions: each image beside its generated caption, the nearest-neighbour
baseline's, and the human references, as one static HTML file.

Images are linked by their path relative to the page (never copied into it: a dataset's
images keep their own licences), so the page shows them where it can reach the image folder;
an image whose folder is unknown is shown by its name alone.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from rnnkit.training.atomic import atomic_write_text

STYLE = """body { font-family: sans-serif; margin: 1.5em; color: #222; }
figure { display: flex; gap: 1.2em; margin: 0 0 1.2em 0; padding-bottom: 1.2em; border-bottom: 1px solid #ddd; }
img { width: 224px; height: 224px; object-fit: cover; flex: none; background: #eee; }
.missing { width: 224px; height: 224px; flex: none; background: #eee; display: flex; align-items: center;
           justify-content: center; font-size: 0.8em; color: #666; text-align: center; }
.model { font-size: 1.2em; font-weight: bold; }
.nearest { color: #555; }
ul { margin: 0.4em 0 0 0; padding-left: 1.2em; color: #444; }
"""


@dataclass(frozen=True)
class PageEntry:
    """One image on the page."""

    name: str                       # the image's name in the data (its path relative to the images folder)
    path: Path | None               # the image file, if known
    generated: str                  # the model's caption
    nearest: str                    # the nearest-neighbour baseline's caption
    references: Sequence[str]       # the human captions


def write_caption_page(path: str | Path, entries: Sequence[PageEntry], title: str) -> Path:
    """Write the page of ``entries`` to ``path`` (HTML, images linked relative to it); its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figures = "\n".join(_figure(entry, path.parent) for entry in entries)
    page = (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{html.escape(title)}</h1>\n"
            "<p>Each image with the model's caption (bold), the nearest-neighbour baseline's, and the human "
            "captions.</p>\n"
            f"{figures}\n</body>\n</html>\n")
    atomic_write_text(path, page)
    return path


def _figure(entry: PageEntry, folder: Path) -> str:
    name = html.escape(entry.name)
    if entry.path is not None and Path(entry.path).is_file():
        source = Path(os.path.relpath(Path(entry.path).resolve(), folder.resolve())).as_posix()
        picture = f"<img src=\"{html.escape(source, quote=True)}\" alt=\"{name}\" title=\"{name}\">"
    else:
        picture = f"<div class=\"missing\">{name}</div>"
    references = "".join(f"<li>{html.escape(reference)}</li>" for reference in entry.references)
    return (f"<figure>{picture}<figcaption>\n<div class=\"model\">{html.escape(entry.generated)}</div>\n"
            f"<div class=\"nearest\">nearest neighbour: {html.escape(entry.nearest)}</div>\n"
            f"<ul>{references}</ul>\n<div class=\"nearest\">{name}</div>\n</figcaption></figure>")
