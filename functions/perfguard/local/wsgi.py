"""One WSGI app serving every function of `functions/main.py` at `/<function_name>`."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import functions_framework
from functions_framework import _function_registry
from werkzeug.middleware.dispatcher import DispatcherMiddleware

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

MAIN = Path(__file__).resolve().parents[2] / "main.py"


def function_signatures(source: Path = MAIN) -> dict[str, str]:
    """Every function `main.py` registers with functions-framework, and its signature type (http / cloudevent)."""
    spec = importlib.util.spec_from_file_location("perfguard_main_probe", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    defined = [name for name, obj in vars(module).items() if getattr(obj, "__module__", None) == module.__name__]
    return {name: _function_registry.REGISTRY_MAP[name] for name in defined if name in _function_registry.REGISTRY_MAP}


def build_app(source: Path = MAIN) -> tuple[WSGIApp, dict[str, str]]:
    """The dispatcher over one functions-framework app per function, and the functions it serves."""
    signatures = function_signatures(source)
    # Pass the signature type explicitly: create_app leaks FUNCTION_SIGNATURE_TYPE into os.environ.
    mounts = {f"/{name}": _empty_path_is_root(_create_app(name, source, kind)) for name, kind in signatures.items()}
    return DispatcherMiddleware(_index(signatures), mounts), signatures


def _create_app(name: str, source: Path, signature_type: str) -> WSGIApp:
    app: WSGIApp = functions_framework.create_app(name, str(source), signature_type)  # type: ignore[no-untyped-call]
    return app


def _empty_path_is_root(app: WSGIApp) -> WSGIApp:
    # Mounted at /name, Flask sees an empty PATH_INFO and answers 308 to /name/; '/' is what it expects.
    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("PATH_INFO"):
            environ["PATH_INFO"] = "/"
        return app(environ, start_response)

    return wrapped


def _index(signatures: dict[str, str]) -> WSGIApp:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "/") in ("", "/"):
            status, body = "200 OK", {"service": "perfguard", "functions": signatures}
        else:
            message = f"no function at {environ.get('PATH_INFO')}; functions: {', '.join(signatures)}"
            status, body = "404 Not Found", {"error": {"code": "not_found", "message": message}}
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    return app
