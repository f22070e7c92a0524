#!/usr/bin/env python3
"""Validates CloudWatch Embedded Metric Format lines (JSON lines on stdin).

usage: emf-validate.py < lines.jsonl

Lines that are not JSON objects with an `_aws` member are skipped (a function's stdout also
carries findings and logs). Each EMF line is checked against scripts/emf-schema.json (written
from the AWS specification) with `jsonschema`, and against the rules a schema cannot state: every
dimension a DimensionSet names is a string member of the root, every metric a MetricDefinition
names is a number, or an array of at most 100 numbers, at the root. Prints one
`INVALID line N: ...` per error and ends with `emf: N/M valid`. Exit status: 0 when every EMF
line is valid and there was at least one, 1 otherwise. Used by the functions' tests (installed
into .venv by `make venv` / `make test`).
"""
import json
import pathlib
import sys

import jsonschema

SCHEMA = json.loads((pathlib.Path(__file__).parent / "emf-schema.json").read_text())


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def targets(doc: dict) -> list:
    errors = []
    for d, directive in enumerate(doc["_aws"]["CloudWatchMetrics"]):
        for dimension_set in directive["Dimensions"]:
            for name in dimension_set:
                if not isinstance(doc.get(name), str):
                    errors.append(f"directive {d}: dimension {name!r} is not a string member of the root")
        for metric in directive["Metrics"]:
            name = metric["Name"]
            value = doc.get(name)
            if is_number(value):
                continue
            if isinstance(value, list) and 0 < len(value) <= 100 and all(map(is_number, value)):
                continue
            errors.append(f"directive {d}: metric {name!r} is not a number or an array of 1-100 numbers at the root")
    return errors


def main() -> int:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    total = valid = 0
    for lineno, line in enumerate(sys.stdin, 1):
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(doc, dict) or "_aws" not in doc:
            continue
        total += 1
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]
        if not errors:
            errors = targets(doc)
        for e in errors:
            print(f"INVALID line {lineno}: {e}")
        valid += not errors
    print(f"emf: {valid}/{total} valid")
    return 0 if total and valid == total else 1


if __name__ == "__main__":
    sys.exit(main())
