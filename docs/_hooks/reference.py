"""MkDocs hook: the reference pages' generated parts, made from the code at build time.

A page marks where a part goes with ``<!-- generate: cli -->``, ``<!-- generate: http -->`` or
``<!-- generate: config -->``. The build fails (``PluginError``) when the code leaves something undocumented: a CLI
command or option without help, a route with neither a summary nor a docstring, a config field without a description.
"""

from __future__ import annotations

import enum
import inspect
import json
import re
import types
import typing
from typing import Any

from mkdocs.exceptions import PluginError
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

MARKER = re.compile(r"<!-- generate: (\w+) -->")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return MARKER.sub(lambda m: _generate(m.group(1), page.file.src_path), markdown)


def _generate(part: str, where: str) -> str:
    makers = {"cli": cli_reference, "http": http_reference, "config": config_reference}
    if part not in makers:
        raise PluginError(f"{where}: unknown generated part {part!r}; known: {', '.join(makers)}")
    return makers[part]()


def _first_paragraph(text: str | None) -> str:
    return " ".join(inspect.cleandoc(text or "").split("\n\n")[0].split())


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# --- CLI ---------------------------------------------------------------------------------------------------------


def cli_reference() -> str:
    import typer

    from driftline.platform.cli import app

    root = typer.main.get_command(app)
    out: list[str] = []
    missing: list[str] = []

    # Typer 0.29 runs on its own copy of click (typer._click): duck-typed here, no isinstance on click's classes.
    def walk(command: Any, path: list[str]) -> None:
        name = " ".join(path)
        ctx = command.context_class(command, info_name=name)
        if len(path) > 1:
            help_text = _first_paragraph(command.help)
            if not help_text:
                missing.append(f"command '{name}' has no help (give its function a docstring)")
            out.append(
                f"### `{name}`\n\n{help_text}\n\n```text\n{name} {' '.join(command.collect_usage_pieces(ctx))}\n```\n"
            )
            rows = []
            for param in command.params:
                if param.param_type_name == "option":
                    if param.hidden:
                        continue
                    help_text = _first_paragraph(param.help)
                    if not help_text:
                        missing.append(f"option {param.opts[0]} of '{name}' has no help")
                    default = "" if param.default in (None, False) or callable(param.default) else param.default
                    flags = ", ".join(f"`{o}`" for o in param.opts)
                    rows.append(f"| {flags} | {_cell(help_text)} | {_cell(str(default))} |")
                elif param.param_type_name == "argument":
                    argument_help = _cell(_first_paragraph(getattr(param, "help", "")))
                    rows.append(f"| `{param.name.upper()}` (argument) | {argument_help} | |")
            if rows:
                out.append("| option | what | default |\n|---|---|---|\n" + "\n".join(rows) + "\n")
        if hasattr(command, "list_commands"):
            for sub in command.list_commands(ctx):
                walk(command.get_command(ctx, sub), [*path, sub])

    walk(root, ["driftline"])
    if missing:
        raise PluginError("The CLI reference is incomplete:\n  " + "\n  ".join(missing))
    return "\n".join(out)


# --- HTTP --------------------------------------------------------------------------------------------------------


def _api_routes() -> list[Any]:
    from fastapi.routing import APIRoute

    from driftline.serve_apps.router import api

    found: list[Any] = []

    def collect(routes: list[Any]) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                found.append(route)
            elif hasattr(route, "original_router"):  # FastAPI 0.16x wraps the routes of the app's router
                collect(route.original_router.routes)
            elif hasattr(route, "routes"):
                collect(route.routes)

    collect(api.routes)
    return found


def _openapi_document() -> dict[str, Any]:
    from fastapi.openapi.utils import get_openapi

    from driftline.datasets.synthetic import SYNTHETIC_SCHEMA
    from driftline.serve_apps.openapi import serving_openapi
    from driftline.serve_apps.router import api

    base = get_openapi(title=api.title, version=api.version, routes=_api_routes())
    return serving_openapi(base, SYNTHETIC_SCHEMA, max_rows=1_000)


def http_reference() -> str:
    routes = _api_routes()
    paths = _openapi_document().get("paths", {})
    out: list[str] = []
    missing: list[str] = []
    for route in routes:
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            what = " ".join(p for p in (route.summary, _first_paragraph(route.endpoint.__doc__)) if p)
            if not what:
                missing.append(f"{method} {route.path} ({route.name}) has no summary or docstring")
            out.append(f"### `{method} {route.path}`\n\n{what}\n")
            operation = paths.get(route.path, {}).get(method.lower())
            if operation and route.include_in_schema and operation.get("responses"):
                rows = [
                    f"| {status} | {_cell(answer.get('description', ''))} |"
                    for status, answer in sorted(operation["responses"].items())
                ]
                out.append("| status | when |\n|---|---|\n" + "\n".join(rows) + "\n")
    if missing:
        raise PluginError("The HTTP reference is incomplete:\n  " + "\n  ".join(missing))
    return "\n".join(out)


# --- configuration -----------------------------------------------------------------------------------------------


def _roots() -> list[tuple[str, str, type[BaseModel]]]:
    from driftline.core.config import DriftlineConfig
    from driftline.monitors.drift_config import DriftConfig
    from driftline.platform.control_loop import ControlLoopConfig
    from driftline.platform.policy_config import PolicyConfig
    from driftline.rollout.spec import RolloutSpec
    from driftline.train_jobs.retrain_config import RetrainConfig

    return [
        ("driftline.yaml", "`--config`: the main file (`configs/local.yaml` holds its defaults)", DriftlineConfig),
        ("drift.yaml", "`--drift-config` of the drift job (`configs/drift.yaml`)", DriftConfig),
        ("policy.yaml", "the retrain policy (`configs/policy.yaml`)", PolicyConfig),
        ("retrain.yaml", "`--retrain-config` of a retrain (`configs/retrain.yaml`)", RetrainConfig),
        ("loop.yaml", "`--loop-config` of `driftline run` (`configs/loop.yaml`)", ControlLoopConfig),
        ("RolloutSpec", "the body of `POST /rollout`, and the loop's `rollout:`", RolloutSpec),
    ]


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _type_name(annotation: Any) -> str:
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " \\| ".join(str(m.value) for m in annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin is typing.Literal:
        return " \\| ".join(str(a) for a in args)
    if origin in (list, tuple, set, frozenset):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return "mapping"
    if origin is typing.Annotated:
        return _type_name(args[0])
    return getattr(annotation, "__name__", str(annotation))


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return ""
    if isinstance(value, enum.Enum):
        value = value.value
    text = json.dumps(value, default=str)
    return f"`{text}`" if len(text) <= 40 else f"`{text[:37]}...`"


def _field_rows(model: type[BaseModel], prefix: str, missing: list[str]) -> list[str]:
    """One table row per field of ``model`` and of its nested sections, depth first; undescribed ones to ``missing``."""
    rows = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        description = field.description or ""
        if not description.strip():
            missing.append(f"{model.__module__}.{model.__qualname__}.{name} (key {key})")
        rows.append(
            f"| `{key}` | {_cell(_type_name(field.annotation))} | {_cell(_default(field))} | {_cell(description)} |"
        )
        for nested in _models_in(field.annotation):
            rows.extend(_field_rows(nested, f"{key}.", missing))
    return rows


def config_reference() -> str:
    out: list[str] = []
    missing: list[str] = []
    for title, where, root in _roots():
        rows = _field_rows(root, "", missing)
        out.append(f"## {title}\n\n{where}. {_first_paragraph(root.__doc__)}\n")
        out.append("| key | type | default | what |\n|---|---|---|---|\n" + "\n".join(rows) + "\n")
    if missing:
        raise PluginError(
            "Config fields without a description (add description=... to the Field):\n  " + "\n  ".join(missing)
        )
    return "\n".join(out)
