"""Files into chunks: Markdown by headings, HTML by its text, plain text and PDF by paragraphs.

A chunk is at most ``max_chars`` characters, cut at paragraph (then sentence, then word) bounds,
and the next one repeats the last ``overlap`` characters, so an answer spanning a cut is found.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".html": "html", ".htm": "html",
            ".pdf": "pdf"}
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$", re.M)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Chunk:
    title: str
    content: str
    filepath: str
    url: str | None = None


def split_text(text: str, max_chars: int, overlap: int) -> list[str]:
    """Cut ``text`` into pieces of at most ``max_chars``, at the largest bound that fits."""
    pieces: list[str] = []
    current = ""
    for unit in _units(text, max_chars):
        if current and len(current) + 2 + len(unit) > max_chars:
            pieces.append(current)
            tail = current[-overlap:] if overlap else ""
            current = tail[tail.find(" ") + 1:] if " " in tail else tail
        current = f"{current}\n\n{unit}".strip() if current else unit
    if current:
        pieces.append(current)
    return pieces


def _units(text: str, max_chars: int) -> Iterator[str]:
    for paragraph in (p.strip() for p in re.split(r"\n\s*\n", text)):
        if not paragraph:
            continue
        if len(paragraph) <= max_chars:
            yield paragraph
            continue
        for sentence in _SENTENCE_END.split(paragraph):
            while len(sentence) > max_chars:  # a sentence longer than a chunk: cut at a word
                cut = sentence.rfind(" ", 0, max_chars)
                cut = cut if cut > 0 else max_chars
                yield sentence[:cut]
                sentence = sentence[cut:].strip()
            if sentence:
                yield sentence


def markdown_sections(text: str, fallback_title: str) -> list[tuple[str, str]]:
    """(heading, body) per section; text before the first heading belongs to the file's title."""
    sections: list[tuple[str, str]] = []
    matches = list(_HEADING.finditer(text))
    if not matches or matches[0].start() > 0:
        sections.append((fallback_title, text[: matches[0].start()] if matches else text))
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        sections.append((match.group(2).strip(), text[match.end():end]))
    return [(title, body.strip()) for title, body in sections if body.strip()]


class _TextOfHtml(HTMLParser):
    _SKIPPED = frozenset({"script", "style", "noscript", "template"})
    _BLOCKS = frozenset({"p", "div", "section", "article", "li", "tr", "br", "h1", "h2", "h3", "h4", "h5", "h6", "pre"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skipping = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skipping += 1
        self._in_title = tag == "title"
        if tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED and self._skipping:
            self._skipping -= 1
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skipping:
            self.parts.append(data)


def html_text(html: str) -> tuple[str, str]:
    """(title, text) of an HTML document, scripts and styles left out."""
    parser = _TextOfHtml()
    parser.feed(html)
    text = re.sub(r"[ \t]+", " ", "".join(parser.parts))
    return parser.title.strip(), re.sub(r"\n\s*\n(\s*\n)+", "\n\n", text).strip()


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader  # optional: the `ingest` extra

    return "\n\n".join(page.extract_text() or "" for page in PdfReader(path).pages)


def chunks_of(path: Path, root: Path, *, max_chars: int = 800, overlap: int = 100) -> list[Chunk]:
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        return []
    relative = path.relative_to(root).as_posix() if path != root else path.name
    title = path.stem.replace("-", " ").replace("_", " ")
    if kind == "markdown":
        sections = markdown_sections(path.read_text(encoding="utf-8", errors="replace"), title)
    elif kind == "html":
        html_title, text = html_text(path.read_text(encoding="utf-8", errors="replace"))
        sections = [(html_title or title, text)]
    elif kind == "pdf":
        sections = [(title, pdf_text(path))]
    else:
        sections = [(title, path.read_text(encoding="utf-8", errors="replace"))]
    return [Chunk(title=section_title, content=piece, filepath=relative)
            for section_title, body in sections for piece in split_text(body, max_chars, overlap)]
