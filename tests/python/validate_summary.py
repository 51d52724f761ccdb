"""Independent check of a summary.json against tests/python/summary.schema.json with the `jsonschema` package
(Draft 2020-12). Prints {"valid": true}; an invalid file exits non-zero naming the first error's path.
Usage: python3 validate_summary.py SUMMARY.json"""
import json
import pathlib
import sys

import jsonschema

schema = json.loads((pathlib.Path(__file__).parent / "summary.schema.json").read_text())
jsonschema.Draft202012Validator.check_schema(schema)
summary = json.loads(pathlib.Path(sys.argv[1]).read_text())
errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(summary), key=lambda e: list(e.path))
if errors:
    first = errors[0]
    sys.exit(f"{sys.argv[1]}: {'/'.join(map(str, first.path)) or '(top)'}: {first.message}")
print(json.dumps({"valid": True}))
