"""Ingestion's chunking and file walk (the embedding and writing run against the stack in tests/e2e)."""

from __future__ import annotations

import itertools
from pathlib import Path

from services.retrieval.ingest.chunking import Chunk, chunks_of, html_text, markdown_sections, split_text
from services.retrieval.ingest.pipeline import chunk_id, files_under


def test_markdown_is_cut_at_headings_and_keeps_the_heading_as_title():
    text = "Intro before any heading.\n\n# Returns\nShoes come back in 30 days.\n\n## Refunds\nPaid in a week.\n"
    assert markdown_sections(text, "guide") == [("guide", "Intro before any heading."),
                                                ("Returns", "Shoes come back in 30 days."),
                                                ("Refunds", "Paid in a week.")]


def test_long_text_is_split_at_paragraphs_then_sentences_with_overlap():
    paragraphs = [f"Paragraph {i} talks about topic {i} at some length to fill space." for i in range(30)]
    pieces = split_text("\n\n".join(paragraphs), max_chars=300, overlap=60)
    assert all(len(p) <= 300 for p in pieces) and len(pieces) > 5
    for earlier, later in itertools.pairwise(pieces):  # the next piece repeats the end of the last
        assert any(word in later for word in earlier[-60:].split()[-3:])
    one_sentence = "word " * 200
    assert all(len(p) <= 100 for p in split_text(one_sentence, max_chars=100, overlap=0))


def test_html_gives_its_title_and_text_without_scripts_or_styles():
    title, text = html_text("<html><head><title>Opening hours</title><style>p{}</style>"
                            "<script>steal()</script></head><body><h1>Hours</h1><p>Open 9 to 5.</p></body></html>")
    assert title == "Opening hours" and "Open 9 to 5." in text and "steal" not in text and "p{}" not in text


def test_files_are_walked_in_order_and_chunk_ids_follow_path_and_content(tmp_path: Path):
    (tmp_path / "b.md").write_text("# B\nBee text.\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("Plain text.")
    (tmp_path / "ignored.bin").write_bytes(b"\x00\x01")
    files = files_under([tmp_path])
    assert [f.relative_to(tmp_path).as_posix() for f, _ in files] == ["b.md", "sub/a.txt"]
    [chunk] = chunks_of(tmp_path / "sub" / "a.txt", tmp_path)
    assert chunk == Chunk(title="a", content="Plain text.", filepath="sub/a.txt")
    assert chunk_id(chunk) == chunk_id(Chunk(title="a", content="Plain text.", filepath="sub/a.txt"))
    assert chunk_id(chunk) != chunk_id(Chunk(title="a", content="Plain text!", filepath="sub/a.txt"))
