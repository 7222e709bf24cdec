"""Extract the Stripe emulator's parameter constraints from Stripe's OpenAPI spec.

Stripe publishes its API description at https://github.com/stripe/openapi
(``openapi/spec3.json`` / ``spec3.yaml``).  The emulator must refuse what
Stripe refuses, so the length limits it enforces are copied from that spec
instead of being typed by hand.  This script reads a copy of the spec and
writes ``invoicing_plugin/testing/stripe_emulator/spec_constraints.json``: for
every route the emulator implements (``stripe_emulator.api.ROUTES``), every
request parameter that carries a ``maxLength``/``minLength``/``maxItems``/
``minItems``/``maximum``/``minimum`` in the spec, keyed by the SDK params class
the emulator already validates the route against.

    python scripts/stripe_spec_constraints.py /path/to/spec3.json          # rewrite the table
    python scripts/stripe_spec_constraints.py /path/to/spec3.json --check  # exit 1 if out of date

The spec is JSON (``spec3.json``) or YAML (``spec3.yaml``, needs PyYAML).  It
is not committed (several MB); the table records which spec version and
commit it came from.  Enumerations are *not* copied: the installed ``stripe``
SDK carries them as ``Literal[...]`` types generated from the spec of the API
version the project pins, which is newer than any spec copy at hand.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from invoicing_plugin.testing.stripe_emulator.api import ROUTES  # noqa: E402

TABLE = ROOT / "invoicing_plugin" / "testing" / "stripe_emulator" / "spec_constraints.json"
KEYWORDS = ("maxLength", "minLength", "maxItems", "minItems", "maximum", "minimum")


def load(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    import yaml  # only for the YAML flavour of the spec

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def spec_path(rule: str) -> re.Pattern[str]:
    """``/v1/accounts/<account_id>`` -> a pattern matching ``/v1/accounts/{account}``."""
    return re.compile("^" + re.sub(r"<[^>]+>", "{[^}]+}", re.escape(rule)) + "$")


def walk(schema: dict[str, Any], name: str, out: dict[str, dict[str, Any]]) -> None:
    """Collect constraints below ``schema``; ``name`` is bracket form, ``[]`` for list items."""
    if not isinstance(schema, dict) or "$ref" in schema:
        return
    for branch in schema.get("anyOf", []):
        walk(branch, name, out)
    found = {key: schema[key] for key in KEYWORDS if key in schema}
    if found and name:
        out.setdefault(name, {}).update(found)
    for key, sub in schema.get("properties", {}).items():
        walk(sub, f"{name}[{key}]" if name else key, out)
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        walk(schema["items"], f"{name}[]", out)


def build(spec: dict[str, Any], source: str) -> dict[str, Any]:
    paths = spec["paths"]
    table: dict[str, dict[str, Any]] = {}
    for method, rule, _name, params_class in ROUTES:
        pattern = spec_path(rule)
        matches = [p for p in paths if pattern.match(p)]
        if len(matches) != 1:
            raise SystemExit(f"{method} {rule}: no single spec path ({matches})")
        operation = paths[matches[0]].get(method.lower())
        if operation is None:
            raise SystemExit(f"{method} {matches[0]}: not in the spec")
        found: dict[str, dict[str, Any]] = {}
        body = (operation.get("requestBody", {}).get("content", {})
                .get("application/x-www-form-urlencoded", {}).get("schema"))
        if body:
            walk(body, "", found)
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "query":
                walk(parameter.get("schema", {}), parameter["name"], found)
        table[params_class] = dict(sorted(found.items()))
    return {
        "_source": source,
        "_spec_version": spec.get("info", {}).get("version"),
        "_generated_by": "scripts/stripe_spec_constraints.py",
        "constraints": dict(sorted(table.items())),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", type=Path, help="Stripe's spec3.json or spec3.yaml")
    parser.add_argument("--source", default=None,
                        help="where the spec came from (repository, path, commit)")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    source = args.source or f"stripe/openapi {args.spec.name}"
    rendered = json.dumps(build(load(args.spec), source), indent=1) + "\n"
    if args.check:
        current = TABLE.read_text(encoding="utf-8") if TABLE.exists() else ""
        if json.loads(current or "{}").get("constraints") != json.loads(rendered)["constraints"]:
            print(f"{TABLE} is out of date", file=sys.stderr)
            return 1
        return 0
    TABLE.write_text(rendered, encoding="utf-8")
    print(f"wrote {TABLE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
