"""The one Jinja2 environment scrips use: sandboxed, immutable, strict about undefined names.

Templates and expressions see only the views of `tessera.scrips.views` and a few helpers. The
sandbox refuses underscore attributes (`__class__`, `__globals__`, `mro` walks), unsafe callables
and mutation of lists and dicts; there is no loader, so `{% include %}`, `{% import %}` and
`{% extends %}` cannot read files; nothing that opens files or imports modules is in scope.

What a `{{ }}` prints has its line breaks marked (`VALUE_LF`, `VALUE_CR`): a value never starts a
new header line of a template (`compose.split_template` reads the marks back).

Every render and expression runs under `limits`: bounded time (each loop iteration, call, filter,
operator and attribute read looks at the clock), bounded sizes and integers. A save refuses what
`limits.static_problems` can tell is a bomb.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from jinja2 import StrictUndefined, TemplateError, nodes, pass_context
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg
from jinja2.visitor import NodeTransformer

from tessera.core.errors import InvalidInput
from tessera.scrips import helpers, limits

MAX_OUTPUT = limits.MAX_VALUE

# Noncharacters (Unicode keeps U+FDD0..U+FDEF for a program's internal use) standing for the line
# breaks of printed values until `compose.split_template` has told header lines from the body.
VALUE_LF = "\ufdd0"
VALUE_CR = "\ufdd1"
_VALUE_MARKS = str.maketrans({"\n": VALUE_LF, "\r": VALUE_CR, VALUE_LF: "\ufffd", VALUE_CR: "\ufffd"})


def mark_line_breaks(value: Any) -> str:
    """Jinja's `finalize`: every printed value, its line breaks marked (a mark already in the value
    becomes U+FFFD, so a mark in the output always stands for a value's line break)."""
    text = value if isinstance(value, str) else str(value)
    if "\n" in text or "\r" in text or "\ufdd0" in text or "\ufdd1" in text:
        return text.translate(_VALUE_MARKS)
    return text


class _Bounded(NodeTransformer):
    """Every `{% for %}` iterates through `limits.loop` (a tick per item) and every `~` goes through
    `limits.join_values`: the two things Jinja does without calling anything the sandbox sees."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, "tessera_loop", [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        items = nodes.List(node.nodes, lineno=node.lineno)
        return nodes.Filter(items, "tessera_concat", [], [], None, None, lineno=node.lineno)


@pass_context
def _loop_filter(context: Context, iterable: Iterable[Any]) -> Any:
    return limits.loop(iterable)


@pass_context
def _concat_filter(context: Context, values: list[Any]) -> str:
    return limits.join_values(values)


def _guarded_filter(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that ticks, is checked before it runs when it can blow up, and whose result is
    charged to the budget."""
    check = limits.FILTER_CHECKS.get(name)
    skip = 1 if _PassArg.from_obj(fn) is not None else 0  # the context Jinja passes first

    @wraps(fn)  # keeps jinja_pass_arg
    def guarded(*args: Any, **kwargs: Any) -> Any:
        limits.tick()
        if check is not None and len(args) > skip:
            try:
                replaced = check(*args[skip:], **kwargs)
            except TypeError:
                replaced = None  # wrong arguments: the filter itself says so
            if replaced:
                args = (*args[:skip], replaced["value"], *args[skip + 1 :])
        return limits.charge(fn(*args, **kwargs), f"the result of |{name}")

    return guarded


class ScripSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = limits.INTERCEPTED_BINOPS
    concat = staticmethod(limits.concat)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._safe: dict[tuple[type, str], bool] = {}

    def _generate(
        self, source: nodes.Template, name: str | None, filename: str | None, defer_init: bool = False
    ) -> str:
        return super()._generate(_Bounded().visit(source), name, filename, defer_init)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        return limits.binop(operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        limits.tick()
        target = getattr(__obj, "__self__", None)
        if target is not None and isinstance(target, (str, bytes, bytearray, int)):
            args = limits.check_method(target, getattr(__obj, "__name__", ""), args, kwargs)
        else:
            wrapped = getattr(__obj, "__wrapped__", None)  # str.format, as the sandbox wraps it
            template = getattr(wrapped, "__self__", None)
            if isinstance(template, str) and getattr(wrapped, "__name__", "") == "format":
                limits.check_str_format(template, args, kwargs)
            elif isinstance(template, str) and args and isinstance(args[0], dict):
                limits.check_str_format(template, (), args[0])  # format_map
        return limits.charge(super().call(__context, __obj, *args, **kwargs), "a call's result")

    def getattr(self, obj: Any, attribute: str) -> Any:
        limits.tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        limits.tick()
        return super().getitem(obj, argument)

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


quote = helpers.quote  # the filter and the helper are one function (tessera.scrips.helpers)


def _make_env() -> ScripSandbox:
    env = ScripSandbox(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        loader=None,
        finalize=mark_line_breaks,
    )
    # Nothing from Jinja's default globals (range is capped by the sandbox; lipsum, cycler, joiner,
    # namespace, dict are removed: they add nothing a template needs).
    env.globals = {"range": env.globals["range"]}
    env.filters["quote"] = quote
    env.filters = {name: _guarded_filter(name, fn) for name, fn in env.filters.items()}
    env.filters["tessera_loop"] = _loop_filter
    env.filters["tessera_concat"] = _concat_filter
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


def bomb_problems(source: str) -> list[tuple[int, str]]:
    """(line, why) of each resource bomb the template spells out (none if it does not parse)."""
    try:
        return limits.static_problems(ENV.parse(source))
    except TemplateError:
        return []


# Filters that take another filter's or test's name as an argument (its position): `map("nope")`,
# `select("nope")`, `selectattr("x", "nope")` look the name up only as they render.
_NAMED_BY_ARGUMENT = {"map": ("filter", 0), "select": ("test", 0), "reject": ("test", 0)}
_NAMED_BY_ARGUMENT |= {"selectattr": ("test", 1), "rejectattr": ("test", 1)}


def _named_argument(node: nodes.Filter) -> tuple[str, str] | None:
    """(kind, name) of the filter or test a `map`/`select`/... names by a constant, or None."""
    kind, position = _NAMED_BY_ARGUMENT.get(node.name, (None, 0))
    if kind is None or len(node.args) <= position or any(k.key == "attribute" for k in node.kwargs):
        return None
    name = node.args[position]
    return (kind, name.value) if isinstance(name, nodes.Const) and isinstance(name.value, str) else None


def unknown_filters_and_tests(tree: nodes.Node) -> list[tuple[int, str]]:
    """(line, why) of each filter or test that does not exist. Compiling finds them only outside
    an `if`: inside one Jinja defers them to the render (`x is defined and x is nope`), so a
    template with `{% if x is nope %}` passed every check and failed on the first ticket; one
    named as an argument (`map("nope")`, `select("nope")`) is looked up only by the render."""
    found = []
    for node in tree.find_all((nodes.Filter, nodes.Test)):
        kind, known = ("filter", ENV.filters) if isinstance(node, nodes.Filter) else ("test", ENV.tests)
        if node.name not in known:
            found.append((node.lineno, f"No {kind} named {node.name!r}."))
        elif isinstance(node, nodes.Filter) and (named := _named_argument(node)) is not None:
            kind, name = named
            if name not in (ENV.filters if kind == "filter" else ENV.tests):
                found.append((node.lineno, f"No {kind} named {name!r}."))
    return found


def check_template(source: str) -> None:
    try:
        tree = ENV.parse(source)
    except TemplateError as exc:
        raise InvalidInput(f"template does not parse: {reason(exc)}") from None
    for line, why in limits.static_problems(tree)[:1]:
        raise InvalidInput(f"template refused, line {line}: {why}")
    for line, why in unknown_filters_and_tests(tree)[:1]:
        raise InvalidInput(f"template does not compile: line {line}: {why}")
    try:
        # A filter or test that does not exist is found by compiling, not by the parse. From the
        # source: compiling optimises (folds constants in) the tree it is given.
        ENV.compile(source)
    except TemplateError as exc:
        raise InvalidInput(f"template does not compile: {reason(exc)}") from None


def check_expression(source: str) -> None:
    try:
        ENV.compile_expression(source)
    except TemplateError as exc:
        raise InvalidInput(f"expression does not parse: {reason(exc)}") from None
    for _, why in bomb_problems("{{ (" + source + ") }}")[:1]:
        raise InvalidInput(f"expression refused: {why}")
    for _, why in unknown_filters_and_tests(ENV.parse("{{ (" + source + ") }}"))[:1]:
        raise InvalidInput(f"expression does not parse: {why}")


def render(source: str, variables: dict[str, Any]) -> str:
    """The template rendered within the bounds of `limits` (TemplateLimit past them)."""
    with limits.budget():
        template = _template_cache.get(source)
        if template is None:
            template = ENV.from_string(source)
            if len(_template_cache) > 512:
                _template_cache.clear()
            _template_cache[source] = template
        return template.render(variables)


def evaluate(expression: str, variables: dict[str, Any]) -> Any:
    with limits.budget():
        compiled = _expression_cache.get(expression)
        if compiled is None:
            compiled = ENV.compile_expression(expression, undefined_to_none=False)
            if len(_expression_cache) > 512:
                _expression_cache.clear()
            _expression_cache[expression] = compiled
        return compiled(**variables)
