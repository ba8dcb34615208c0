"""The corpus, or part of it, as one JSONL or Parquet file that pandas and Hugging Face `datasets` load as they are.

One document a line (JSONL) or a row (Parquet): ``text`` and every
manifest key. Parquet is written with pyarrow in row groups, so memory
stays that of one group however large the corpus; its columns are the
manifest's (null where the manifest has null): strings, but for
``free_access`` (a boolean) and ``images`` (a list of structs of src,
caption and credit), as ``arrow_schema`` says. Both formats
come out byte-identical for the same archive and filters: keys sorted,
no timestamps of the export itself, the manifest's order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO

from crawler.corpus import Document
from crawler.store.atomic import replace
from crawler.store.manifest import REQUIRED_KEYS

FORMATS = (".jsonl", ".parquet")
COLUMNS = ("text", *sorted(REQUIRED_KEYS))
ROW_GROUP = 1000


def export(documents: Iterable[Document], path: Path, progress: Callable[[int], None], fsync: bool = True) -> int:
    """Writes the documents to path (format from its extension), atomically; how many."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"unknown output format {path.suffix!r}: use .jsonl or .parquet")
    count = 0

    def write(f: BinaryIO) -> None:
        nonlocal count
        count = (_jsonl if suffix == ".jsonl" else _parquet)(documents, f, progress)

    # An existing file is replaced only with --overwrite (the command checks), and stays whole until then.
    replace(path, write, fsync=fsync)
    return count


def _row(doc: Document) -> dict[str, Any]:
    return {"text": doc.text, **doc.meta}


def _jsonl(documents: Iterable[Document], f: BinaryIO, progress: Callable[[int], None]) -> int:
    count = 0
    for doc in documents:
        f.write((json.dumps(_row(doc), ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
        count += 1
        progress(1)
    return count


def _parquet(documents: Iterable[Document], f: BinaryIO, progress: Callable[[int], None]) -> int:
    import pyarrow.parquet as pq

    schema = arrow_schema()
    count = 0
    with pq.ParquetWriter(f, schema, compression="zstd") as writer:
        group: list[dict[str, Any]] = []
        for doc in documents:
            group.append(_row(doc))
            if len(group) == ROW_GROUP:
                count += _write_group(writer, schema, group, progress)
                group = []
        if group or not count:
            # An empty export is still a valid file with the schema.
            count += _write_group(writer, schema, group, progress)
    return count


def arrow_schema() -> Any:
    """The Parquet columns: every manifest key a string, but for the two that hold other values."""
    import pyarrow as pa

    image = pa.struct([("src", pa.string()), ("caption", pa.string()), ("credit", pa.string())])
    typed = {"free_access": pa.bool_(), "images": pa.list_(image)}
    return pa.schema([(name, typed.get(name, pa.string())) for name in COLUMNS])


def _write_group(writer: Any, schema: Any, rows: list[dict[str, Any]], progress: Callable[[int], None]) -> int:
    import pyarrow as pa

    typed = {"free_access", "images"}
    columns = {name: [row.get(name) if name in typed else _text(row.get(name)) for row in rows] for name in COLUMNS}
    writer.write_table(pa.Table.from_pydict(columns, schema=schema))
    progress(len(rows))
    return len(rows)


def _text(value: Any) -> str | None:
    return value if value is None or isinstance(value, str) else json.dumps(value, ensure_ascii=False)
