#!/usr/bin/env python3
"""The Glue columns of cadet's OCSF Detection Finding (class 2004) in a Security Lake custom
source, and the round trip that proves them.

  lake-schema.py write < ocsf.jsonl > infra/aws/lake/detection_finding.json
      Derives the columns (Hive types, as Glue and Firehose's record format conversion take
      them) from the union of the findings' shapes: objects are structs, arrays arrays, integers
      bigint, strings string, booleans boolean, other numbers double. Regenerate it from
      `cadet detect --format ocsf --all --state memory events` whenever the OCSF output gains
      a field (tests/ocsf.rs fails until then).

  lake-schema.py roundtrip COLUMNS.json < ocsf.jsonl > back.jsonl
      Writes the findings as one Parquet file with exactly those columns (pyarrow, Snappy, as
      Firehose's Parquet serializer writes them), reads the file back and prints each row as a
      JSON line, nulls dropped. Exit status 1, naming the field, when a finding holds a field
      the columns do not (Firehose would drop it silently).

  lake-schema.py layout LAKE_TF SOURCE < ocsf.jsonl > prefixes.txt
      The S3 prefix the Firehose stream of LAKE_TF (infra/aws/lake.tf) writes each finding
      under: its `prefix` with the partition keys of its MetadataExtractionQuery, evaluated by
      jq's own library (Firehose runs JQ), and `${local.lake_prefix}` as ext/SOURCE.

Used by tests/ocsf.rs (pyarrow and jq are installed into .venv by `make venv` / `make test`).
"""
import io
import json
import sys


def infer(values):
    """The Hive type holding every value in `values` (None when all are null)."""
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return None
    if kinds == {dict}:
        keys = {}
        for v in values:
            for k, x in v.items():
                keys.setdefault(k, []).append(x)
        fields = [(k, infer(xs)) for k, xs in sorted(keys.items())]
        return "struct<" + ",".join(f"{k}:{t}" for k, t in fields if t) + ">"
    if kinds == {list}:
        inner = infer([x for v in values for x in v])
        return f"array<{inner or 'string'}>"
    if kinds == {bool}:
        return "boolean"
    if kinds == {int}:
        return "bigint"
    if kinds <= {int, float}:
        return "double"
    if kinds == {str}:
        return "string"
    sys.exit(f"lake-schema: values of mixed kinds {sorted(k.__name__ for k in kinds)}")


def parse(t, i=0):
    """A Hive type string from position i: (pyarrow type, next position)."""
    import pyarrow as pa

    for name, typ in (("bigint", pa.int64()), ("string", pa.string()),
                      ("boolean", pa.bool_()), ("double", pa.float64())):
        if t.startswith(name, i):
            return typ, i + len(name)
    if t.startswith("array<", i):
        inner, j = parse(t, i + len("array<"))
        return pa.list_(inner), j + 1
    if t.startswith("struct<", i):
        i += len("struct<")
        fields = []
        while t[i] != ">":
            colon = t.index(":", i)
            name = t[i:colon]
            typ, i = parse(t, colon + 1)
            fields.append(pa.field(name, typ))
            if t[i] == ",":
                i += 1
        return pa.struct(fields), i + 1
    sys.exit(f"lake-schema: cannot read the type at {t[i:i + 40]!r}")


def strip(v):
    """A value with its nulls (absent in the finding) removed."""
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v


def layout(tf_path, source, rows):
    """Prints the prefix Firehose writes each of `rows` under."""
    import re

    import jq

    tf = open(tf_path).read()
    unquote = lambda m: m.group(1).replace('\\"', '"')
    prefix = unquote(re.search(r'\n\s*prefix\s*=\s*"((?:[^"\\]|\\.)*)"', tf))
    query = unquote(re.search(
        r'"MetadataExtractionQuery"\s*\n\s*parameter_value\s*=\s*"((?:[^"\\]|\\.)*)"', tf))
    program = jq.compile(query)
    for r in rows:
        keys = program.input_value(r).first()
        out = prefix.replace("${local.lake_prefix}", f"ext/{source}")
        out = re.sub(r"!\{partitionKeyFromQuery:(\w+)\}", lambda m: str(keys[m.group(1)]), out)
        print(out)


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("write", "roundtrip", "layout"):
        sys.exit(__doc__)
    rows = [json.loads(line) for line in sys.stdin if line.strip()]
    if sys.argv[1] == "layout":
        layout(sys.argv[2], sys.argv[3], rows)
        return
    if sys.argv[1] == "write":
        keys = {}
        for r in rows:
            for k, v in r.items():
                keys.setdefault(k, []).append(v)
        cols = [{"name": k, "type": infer(vs)} for k, vs in sorted(keys.items())]
        json.dump([c for c in cols if c["type"]], sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = json.load(open(sys.argv[2]))
    schema = pa.schema([pa.field(c["name"], parse(c["type"])[0]) for c in cols])
    for n, r in enumerate(rows, 1):
        missing = missing_fields(r, schema)
        if missing:
            sys.exit(f"lake-schema: finding {n} ({r.get('finding_info', {}).get('uid')}): "
                     f"{missing[0]} is not a column: regenerate with `lake-schema.py write`")
    table = pa.Table.from_pylist(rows, schema=schema)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="snappy")
    buf.seek(0)
    for row in pq.read_table(buf).to_pylist():
        print(json.dumps(strip(row), separators=(",", ":")))


def missing_fields(value, schema, path=""):
    """Paths in `value` that `schema` (a pyarrow schema or struct type) has no field for."""
    import pyarrow as pa

    out = []
    names = {f.name: f.type for f in schema}
    for k, v in value.items():
        p = f"{path}.{k}" if path else k
        if k not in names:
            out.append(p)
            continue
        t = names[k]
        items = v if isinstance(v, list) else [v]
        if pa.types.is_list(t):
            t = t.value_type
        if pa.types.is_struct(t):
            for x in items:
                if isinstance(x, dict):
                    out += missing_fields(x, t, p)
    return out


if __name__ == "__main__":
    main()
