"""Read the user's table: Parquet or CSV, one file, a folder or a glob, on local disk or any pyarrow filesystem.

Every file must agree on each column's type; a column that is ``int64`` in one file and ``string`` in another is
refused with both files named, never silently cast.

>>> import tempfile, pandas as pd
>>> folder = tempfile.mkdtemp()
>>> pd.DataFrame({"x": [1.0, 2.0], "y": ["no", "yes"]}).to_csv(f"{folder}/part-0.csv", index=False)
>>> read_table(folder).to_pandas()["y"].tolist()
['no', 'yes']
"""

from __future__ import annotations

import glob as globlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from driftline.core.errors import DataError

__all__ = ["TABLE_SUFFIXES", "iter_batches", "read_table", "table_files"]

TABLE_SUFFIXES = (".parquet", ".pq", ".csv", ".csv.gz")


def _is_table(name: str) -> bool:
    return name.lower().endswith(TABLE_SUFFIXES) and not Path(name).name.startswith((".", "_"))


def table_files(path: str) -> tuple[Any, list[str]]:
    """(pyarrow filesystem, sorted table files) behind a file, folder or glob; a URI picks its filesystem."""
    from pyarrow import fs as pafs

    if "://" in path:
        filesystem, root = pafs.FileSystem.from_uri(path)
    else:
        filesystem, root = pafs.LocalFileSystem(), str(Path(path).expanduser().resolve())
        if any(ch in path for ch in "*?["):
            found = sorted(f for f in globlib.glob(str(Path(path).expanduser()), recursive=True) if _is_table(f))
            if not found:
                raise DataError(f"No Parquet or CSV file matches {path!r}.", "Check the glob in dataset.path.")
            return filesystem, [str(Path(f).resolve()) for f in found]
    info = filesystem.get_file_info(root)
    if info.type == pafs.FileType.NotFound:
        raise DataError(f"The table {path!r} does not exist.", "Check dataset.path (a file, a folder or a glob).")
    if info.type == pafs.FileType.File:
        return filesystem, [root]
    selector = pafs.FileSelector(root, recursive=True)
    files = sorted(i.path for i in filesystem.get_file_info(selector) if i.type == pafs.FileType.File)
    files = [f for f in files if _is_table(f)]
    if not files:
        raise DataError(f"The folder {path!r} holds no Parquet or CSV file.", f"Put files ending {TABLE_SUFFIXES}.")
    return filesystem, files


def _read_one(filesystem: Any, path: str) -> pa.Table:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        if path.lower().endswith((".csv", ".csv.gz")):
            with filesystem.open_input_stream(path, compression="detect") as stream:
                return pacsv.read_csv(stream)
        return pq.read_table(path, filesystem=filesystem)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"Could not read {path}: {exc}", "Check the file is valid Parquet or CSV.") from None


def _plain(kind: pa.DataType) -> pa.DataType:
    """The type a column is compared by: dictionary-encoded as its values, large strings as strings."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return pa.string() if pa.types.is_large_string(kind) else kind


def _column_type(name: str, found: list[tuple[str, pa.DataType]]) -> pa.DataType:
    """The one type of a column across files: all equal, or ints and floats (widened to float64)."""
    kinds = {t for _, t in found}
    if len(kinds) == 1:
        return found[0][1]

    def number(kind: pa.DataType) -> bool:
        return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind))

    if all(number(t) for t in kinds):
        return pa.float64()
    first_path, first = found[0]
    other_path, other = next((p, t) for p, t in found if t != first and not (number(t) and number(first)))
    raise DataError(
        f"Column '{name}' is {first} in {first_path} but {other} in {other_path}.",
        "Give the column one type in every file of the table, or exclude it (dataset.features.exclude).",
    )


def _unify(tables: list[tuple[str, pa.Table]]) -> pa.Table:
    """One table from many files; a file's all-null column takes the type the other files give it."""
    types: dict[str, list[tuple[str, pa.DataType]]] = {}
    for path, table in tables:
        for field in table.schema:
            found = types.setdefault(field.name, [])
            if not pa.types.is_null(field.type):
                found.append((path, _plain(field.type)))
    unified = {name: _column_type(name, found) if found else pa.null() for name, found in types.items()}
    return pa.concat_tables(
        pa.table(
            {
                name: table.column(name).cast(kind) if name in table.column_names else pa.nulls(len(table), kind)
                for name, kind in unified.items()
            }
        )
        for _, table in tables
    )


def read_table(path: str, *, sort_by: str | None = None) -> pa.Table:
    """The whole table, in ``sort_by`` order when given (stable, so ties keep file order), else file order."""
    filesystem, files = table_files(path)
    table = _unify([(f, _read_one(filesystem, f)) for f in files])
    if table.num_rows == 0:
        raise DataError(f"The table {path!r} has no rows.", "Point dataset.path at a table with data.")
    if sort_by is not None:
        if sort_by not in table.column_names:
            raise DataError(
                f"Timestamp column '{sort_by}' is not in the table (columns: {table.column_names}).",
                "Fix dataset.timestamp, or set it to null to keep row order.",
            )
        order = pc.sort_indices(table, sort_keys=[(sort_by, "ascending")])  # nulls last
        table = table.take(order)
    return table


def iter_batches(path: str, columns: list[str], batch_size: int = 10_000) -> Iterator[tuple[str, pa.RecordBatch]]:
    """``columns`` of the table, file by file and ``batch_size`` rows at a time, never the whole table in memory;
    yields (file, batch). A file that lacks one of ``columns`` is a DataError naming it and what it has."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    filesystem, files = table_files(path)
    for file in files:
        try:
            if file.lower().endswith((".csv", ".csv.gz")):
                stream = filesystem.open_input_stream(file, compression="detect")
                options = pacsv.ReadOptions(block_size=1 << 22)
                reader = pacsv.open_csv(stream, read_options=options)
                present = reader.schema.names
                _require(file, columns, present)
                for batch in reader:
                    for start in range(0, batch.num_rows, batch_size):
                        yield file, batch.select(columns).slice(start, batch_size)
                stream.close()
            else:
                parquet = pq.ParquetFile(file, filesystem=filesystem)
                _require(file, columns, parquet.schema_arrow.names)
                for batch in parquet.iter_batches(batch_size=batch_size, columns=columns):
                    yield file, batch
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"Could not read {file}: {exc}", "Check the file is valid Parquet or CSV.") from None


def _require(file: str, columns: list[str], present: list[str]) -> None:
    missing = [c for c in columns if c not in present]
    if missing:
        raise DataError(f"{file} lacks column(s) {missing}.", f"Its columns: {present}.")
