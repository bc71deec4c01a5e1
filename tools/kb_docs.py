"""Knowledge-base documents: read Markdown, HTML, text and PDF files; split them into citable chunks.

- `read_document(path)` → `Document` (text per page, metadata from Markdown front matter), or an
  `InputError` that names the file and what is wrong: unsupported type, unreadable, encrypted, empty, huge.
- `chunk_document(doc)` → `Chunk`s that follow the headings (a chunk never spans two sections) and never cut
  a table (a table's rows stay together, under their section heading); each chunk keeps its section and page.

Pages: a PDF's pages; in text and Markdown a form feed (\\f) or a `<!-- page N -->` line starts a page.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

from fincopilot.errors import InputError

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_CHUNK_CHARS = 900  # about 220 English tokens: small enough for a precise citation
CJK_MAX_CHUNK_CHARS = 450  # a Chinese character carries about as much as an English word
SUFFIXES = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
DOC_TYPES = ("prospectus", "fee_schedule", "research", "policy", "other")
AUDIENCES = ("client-facing", "internal")
_PAGE_MARK = re.compile(r"^\s*<!--\s*page\s*(\d+)\s*-->\s*$", re.IGNORECASE)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)


@dataclass
class Document:
    path: str
    title: str
    pages: list[str]
    fmt: str
    content_hash: str
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def language(self) -> str:
        return self.meta.get("language") or detect_language("".join(self.pages)[:4000])


@dataclass
class Chunk:
    n: int
    section: str
    page: int
    text: str


def detect_language(text: str) -> str:
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    return "zh" if cjk > max(20, len(text) // 8) else "en"


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------- reading
def read_document(path: str | Path) -> Document:
    """Read one file; every failure is an `InputError` naming the file and the problem."""
    p = Path(path)
    fmt = SUFFIXES.get(p.suffix.lower())
    if fmt is None:
        raise InputError(
            f"{p}: unsupported file type {p.suffix or '(none)'!r}; use one of {', '.join(sorted(SUFFIXES))}"
        )
    try:
        if not p.is_file():
            raise InputError(f"{p}: no such file")
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(f"{p}: too large ({size / 1e6:.1f} MB; at most {MAX_FILE_BYTES / 1e6:.0f} MB)")
        data = p.read_bytes()
    except OSError as err:
        raise InputError(f"{p}: cannot be read ({err.strerror or err})") from None
    if fmt == "pdf":
        pages, meta = _read_pdf(p, data), {}
    else:
        text, meta = _front_matter(_decode(p, data))
        if fmt == "html":
            text = html_to_markdown(text)
        pages = _split_pages(text)
    if not any(pg.strip() for pg in pages):
        raise InputError(f"{p}: has no text" + (" (a scanned PDF needs OCR first)" if fmt == "pdf" else ""))
    title = meta.get("title") or _first_heading(pages) or p.stem
    return Document(
        path=str(p), title=title, pages=pages, fmt=fmt, content_hash=content_hash(data), meta=meta
    )


def _decode(p: Path, data: bytes) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise InputError(f"{p}: not UTF-8 or GB18030 text")


def _read_pdf(p: Path, data: bytes) -> list[str]:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise InputError(f"{p}: the PDF is encrypted; decrypt it before adding it")
        return [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError) as err:
        raise InputError(f"{p}: not a readable PDF ({str(err)[:120]})") from None


def _front_matter(text: str) -> tuple[str, dict[str, str]]:
    """`---`-delimited `key: value` lines at the top of a Markdown file (title, doc_type, product, ...)."""
    m = _FRONT.match(text)
    if not m:
        return text, {}
    meta = {}
    for line in m.group(1).splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            meta[k.strip().lower()] = v.strip().strip("\"'")
    return text[m.end() :], meta


def _split_pages(text: str) -> list[str]:
    pages, cur = [], []
    for line in text.replace("\r\n", "\n").split("\n"):
        if _PAGE_MARK.match(line) or "\f" in line:
            before, _, after = line.partition("\f")
            if "\f" in line and before.strip():
                cur.append(before)
            if cur and any(x.strip() for x in cur):
                pages.append("\n".join(cur))
            cur = [after] if "\f" in line and after.strip() else []
            continue
        cur.append(line)
    pages.append("\n".join(cur))
    return [pg for pg in pages if pg.strip()] or [""]


def _first_heading(pages: list[str]) -> str | None:
    for pg in pages:
        for line in pg.splitlines():
            m = _HEADING.match(line)
            if m:
                return m.group(2).strip()
    return None


class _HtmlToMarkdown(HTMLParser):
    """Headings → `#` lines, table rows → `| a | b |`, paragraphs and list items → lines; scripts dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.line: list[str] = []
        self.row: list[str] | None = None
        self.skip = 0

    def _flush(self, prefix: str = "") -> None:
        text = " ".join("".join(self.line).split())
        if text:
            self.out.append(prefix + text)
        self.line = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1
        elif tag in ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table"):
            self._flush()
        if tag == "tr":
            self.row = []
        elif tag in ("td", "th"):
            self.line = []

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._flush("#" * int(tag[1]) + " ")
        elif tag in ("td", "th") and self.row is not None:
            self.row.append(" ".join("".join(self.line).split()))
            self.line = []
        elif tag == "tr" and self.row is not None:
            self.out.append("| " + " | ".join(self.row) + " |")
            self.row = None
        elif tag in ("p", "div", "li", "table"):
            self._flush("- " if tag == "li" else "")

    def handle_data(self, data):
        if not self.skip:
            self.line.append(data)


def html_to_markdown(html: str) -> str:
    parser = _HtmlToMarkdown()
    parser.feed(html)
    parser.close()
    parser._flush()
    return "\n".join(parser.out)


# --------------------------------------------------------------------------------------------- chunking
@dataclass
class _Block:
    section: str
    page: int
    text: str
    table: bool


class _BlockReader:
    """Paragraphs and whole tables, each with its section (the nearest heading path) and page."""

    def __init__(self) -> None:
        self.blocks: list[_Block] = []
        self.heads: list[tuple[int, str]] = []
        self.para: list[str] = []
        self.table: list[str] = []
        self.page = 1

    def _section(self) -> str:
        inner = [h for lvl, h in self.heads if lvl > 1]  # the level-1 heading is the document's title
        return " > ".join(inner[-2:]) if inner else " > ".join(h for _, h in self.heads)

    def close_para(self) -> None:
        if self.para:
            self.blocks.append(_Block(self._section(), self.page, "\n".join(self.para), False))
            self.para = []

    def close_table(self) -> None:
        if self.table:
            self.blocks.append(_Block(self._section(), self.page, "\n".join(self.table), True))
            self.table = []

    def line(self, line: str) -> None:
        m = _HEADING.match(line)
        if m:
            self.close_para()
            self.close_table()
            level = len(m.group(1))
            self.heads = [h for h in self.heads if h[0] < level] + [(level, m.group(2).strip())]
        elif line.lstrip().startswith("|"):
            self.close_para()
            self.table.append(line.strip())
        elif not line.strip():
            self.close_para()
            self.close_table()
        else:
            self.close_table()
            self.para.append(line.strip())


def _blocks(doc: Document) -> list[_Block]:
    reader = _BlockReader()
    for page_no, page in enumerate(doc.pages, 1):
        reader.page = page_no
        for line in page.splitlines():
            reader.line(line)
        reader.close_para()
        reader.close_table()
    return reader.blocks


def chunk_document(doc: Document) -> list[Chunk]:
    """Pack consecutive blocks of one section and page into chunks of at most MAX_CHUNK_CHARS (a table or
    a paragraph longer than that becomes a chunk of its own; a long paragraph is split at sentence ends)."""
    limit = CJK_MAX_CHUNK_CHARS if doc.language == "zh" else MAX_CHUNK_CHARS
    chunks: list[Chunk] = []
    cur: list[str] = []
    key: tuple[str, int] | None = None

    def emit() -> None:
        if cur and key is not None:
            chunks.append(Chunk(n=len(chunks), section=key[0], page=key[1], text="\n".join(cur)))
        cur.clear()

    for b in _blocks(doc):
        pieces = [b.text] if b.table or len(b.text) <= limit else _split_long(b.text, limit)
        for piece in pieces:
            if key != (b.section, b.page) or sum(len(c) for c in cur) + len(piece) > limit:
                emit()
                key = (b.section, b.page)
            cur.append(piece)
    emit()
    return chunks


_SENTENCE_END = re.compile(r"(?<=[.!?。！？；;])\s*")


def _split_long(text: str, limit: int) -> list[str]:
    out, cur = [], ""
    for sent in _SENTENCE_END.split(text):
        if cur and len(cur) + len(sent) > limit:
            out.append(cur.strip())
            cur = ""
        cur += sent + ("" if re.search(r"[\u4e00-\u9fff]$", sent) else " ")
    if cur.strip():
        out.append(cur.strip())
    return out


def parse_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"not a date: {value!r} (use YYYY-MM-DD)") from None
