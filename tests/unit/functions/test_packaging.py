"""Function packaging: which files go, the content hash, and refused imports (no services)."""

from __future__ import annotations

from pathlib import Path

import pytest

from supastack.errors import SupastackError
from supastack.functions import packaging
from supastack.functions.packaging import package


def _tree(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


BASE = {
    "deno.json": "{}\n",
    "_shared/mod.ts": 'export * from "./util.ts";\n',
    "_shared/util.ts": 'import postgres from "npm:postgres@3.4.9";\nexport const x = 1;\n',
    "_shared/unused.ts": "export const y = 2;\n",
    "demo/hello/index.ts": (
        'import { x } from "../../_shared/mod.ts";\nconst lazy = () => import("./lazy.ts");\n'
        # a string "from" is not an import (a query parameter's name here)
        'const at = url.get("from", to - 1) / step;\nif (from >= to) throw invalid("x");\n'
    ),
    "demo/hello/lazy.ts": 'import "node:crypto";\n',
    "demo/other/index.ts": "export {};\n",
}


def test_a_package_holds_the_entrypoint_what_it_imports_tooling_and_its_config(
    tmp_path: Path,
) -> None:
    pkg = package(
        _tree(tmp_path, BASE), "demo", "hello", {"rateLimit": {"requests": 5, "perSeconds": 60}}
    )
    assert sorted(pkg.files) == [
        "_shared/mod.ts",
        "_shared/util.ts",
        "demo/hello/function.config.json",
        "demo/hello/index.ts",
        "demo/hello/lazy.ts",
        "deno.json",
    ]
    assert pkg.upload().entrypoint_path == "demo/hello/index.ts"
    assert pkg.upload().static_patterns == ("demo/hello/function.config.json",)
    assert pkg.upload().import_map_path == "deno.json"
    config = pkg.files["demo/hello/function.config.json"].decode()
    assert '"requests": 5' in config and '"verifyJwt": true' in config


def test_the_hash_changes_with_shared_code_and_config_only(tmp_path: Path) -> None:
    root = _tree(tmp_path, BASE)
    first = package(root, "demo", "hello", {}).hash
    assert package(root, "demo", "hello", {}).hash == first
    (root / "_shared/unused.ts").write_text("export const y = 3;\n")
    assert package(root, "demo", "hello", {}).hash == first  # not imported: not part of it
    (root / "_shared/util.ts").write_text("export const x = 2;\n")
    changed = package(root, "demo", "hello", {}).hash
    assert changed != first
    assert package(root, "demo", "hello", {"env": {"MODE": "strict"}}).hash != changed
    assert package(root, "demo", "hello", {}, verify_jwt=False).hash != changed


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            'import { x } from "jsr:@std/assert";\n',
            r"functions/demo/hello/index.ts:1: import 'jsr:@std/assert' is not allowed",
        ),
        (
            '\nimport x from "https://esm.sh/x";\n',
            r"functions/demo/hello/index.ts:2: import 'https://esm.sh/x' is not allowed",
        ),
        (
            'import "./missing.ts";\n',
            r"functions/demo/hello/index.ts: imports './missing.ts', which does not exist",
        ),
        (
            'import "../../../outside.ts";\n',
            r"functions/demo/hello/index.ts: import '../../../outside.ts' leaves functions/",
        ),
    ],
)
def test_refused_imports_name_the_file(tmp_path: Path, source: str, message: str) -> None:
    (tmp_path / "outside.ts").write_text("export {};\n")
    root = _tree(tmp_path / "functions", {"demo/hello/index.ts": source})
    with pytest.raises(SupastackError, match=message):
        package(root, "demo", "hello", {})


def test_a_file_imported_before_and_removed_since_is_refused_by_name(tmp_path: Path) -> None:
    # the imports are parsed once per content in a process (every function packages _shared
    # again): a file deleted since the last packaging is still found missing
    root = _tree(tmp_path, BASE)
    assert "lazy.ts" in " ".join(package(root, "demo", "hello", {}).files)
    (root / "demo/hello/lazy.ts").unlink()
    with pytest.raises(SupastackError, match=r"imports './lazy.ts', which does not exist"):
        package(root, "demo", "hello", {})


def test_bad_slugs_missing_entrypoints_and_oversized_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _tree(tmp_path, BASE)
    with pytest.raises(SupastackError, match=r"function '2fast': not a function slug"):
        package(root, "demo", "2fast", {})
    with pytest.raises(
        SupastackError, match=r"function 'nope': functions/demo/nope/index.ts is missing"
    ):
        package(root, "demo", "nope", {})
    monkeypatch.setattr(packaging, "MAX_BYTES", 100)
    with pytest.raises(
        SupastackError, match=r"function 'hello': \d+ bytes exceeds the 100-byte limit"
    ):
        package(root, "demo", "hello", {})


def test_an_app_with_its_own_pins_carries_them_and_a_bump_redeploys_only_it(
    tmp_path: Path,
) -> None:
    root = _tree(
        tmp_path,
        {**BASE, "shop/buy/index.ts": "export {};\n", "shop/deno.json": '{"imports": {}}\n',
         "shop/deno.lock": '{"version": "5"}\n'},
    )  # fmt: skip
    shop, demo = package(root, "shop", "buy", {}), package(root, "demo", "other", {})
    assert sorted(shop.files) == [
        "shop/buy/function.config.json", "shop/buy/index.ts", "shop/deno.json", "shop/deno.lock",
    ]  # fmt: skip
    assert shop.upload().import_map_path == "shop/deno.json"
    assert demo.upload().import_map_path == "deno.json"
    (root / "shop" / "deno.lock").write_text('{"version": "5", "npm": {}}\n')  # a pin bump
    assert package(root, "shop", "buy", {}).hash != shop.hash
    assert package(root, "demo", "other", {}).hash == demo.hash
