"""The one Jinja2 environment scrips use: sandboxed, immutable, strict about undefined names.

Templates and expressions see only the views of `tessera.scrips.views` and a few helpers. The
sandbox refuses underscore attributes (`__class__`, `__globals__`, `mro` walks), unsafe callables
and mutation of lists and dicts; there is no loader, so `{% include %}`, `{% import %}` and
`{% extends %}` cannot read files; nothing that opens files or imports modules is in scope.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from tessera.core.errors import InvalidInput

MAX_OUTPUT = 1_000_000


class ScripSandbox(ImmutableSandboxedEnvironment):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._safe: dict[tuple[type, str], bool] = {}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        # The answer depends only on the object's type and the attribute's name (Jinja's rules:
        # underscores, internal attributes of functions, frames..., mutating methods of known
        # mutable types; ours: the names below), so it is kept per (type, name).
        key = (type(obj), attr)
        safe = self._safe.get(key)
        if safe is None:
            safe = self._is_safe_attribute(obj, attr, value)
            if len(self._safe) > 4096:
                self._safe.clear()
            self._safe[key] = safe
        return safe

    def _is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr in ("mro", "gi_frame", "gi_code", "cr_frame", "f_globals", "f_locals", "func_globals"):
            return False
        return super().is_safe_attribute(obj, attr, value)


def quote(text: str | None, prefix: str = "> ") -> str:
    """The message being answered, quoted line by line as mail clients do."""
    return "\n".join(prefix + line if line else prefix.rstrip() for line in (text or "").splitlines())


def _make_env() -> ScripSandbox:
    env = ScripSandbox(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        loader=None,
    )
    # Nothing from Jinja's default globals (range is capped by the sandbox; lipsum, cycler, joiner,
    # namespace, dict are removed: they add nothing a template needs).
    env.globals = {"range": env.globals["range"]}
    env.filters["quote"] = quote
    return env


ENV = _make_env()
_expression_cache: dict[str, Callable[..., Any]] = {}
_template_cache: dict[str, Any] = {}


def reason(exc: BaseException) -> str:
    """One line saying why a template or expression failed."""
    if isinstance(exc, SecurityError):
        return f"refused by the sandbox: {exc}"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    kind = type(exc).__name__
    lineno = getattr(exc, "lineno", None)
    where = f" (line {lineno})" if lineno else ""
    return f"{kind}{where}: {text}" if text else kind


def check_template(source: str) -> None:
    try:
        ENV.parse(source)
    except TemplateError as exc:
        raise InvalidInput(f"template does not parse: {reason(exc)}") from None


def check_expression(source: str) -> None:
    try:
        ENV.compile_expression(source)
    except TemplateError as exc:
        raise InvalidInput(f"expression does not parse: {reason(exc)}") from None


def render(source: str, variables: dict[str, Any]) -> str:
    template = _template_cache.get(source)
    if template is None:
        template = ENV.from_string(source)
        if len(_template_cache) > 512:
            _template_cache.clear()
        _template_cache[source] = template
    out = template.render(variables)
    if len(out) > MAX_OUTPUT:
        raise ValueError(f"template output is {len(out)} characters; at most {MAX_OUTPUT}")
    return out


def evaluate(expression: str, variables: dict[str, Any]) -> Any:
    compiled = _expression_cache.get(expression)
    if compiled is None:
        compiled = ENV.compile_expression(expression, undefined_to_none=False)
        if len(_expression_cache) > 512:
            _expression_cache.clear()
        _expression_cache[expression] = compiled
    return compiled(**variables)
