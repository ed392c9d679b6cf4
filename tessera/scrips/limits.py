"""What a template or a condition expression may cost: time, size, integers.

Jinja's sandbox keeps templates away from Python's internals, not from the machine: nested
`range(99999)` loops, `10 ** (10 ** 10)`, `'a' * 10 ** 9` or a `%`-format width of 10**9 run for
seconds or take gigabytes, and a template renders while its ticket is locked. So every render and
every expression runs under a budget, and the sandbox (`sandbox.ScripSandbox`) asks this module
before each operator, call, filter, loop iteration, attribute read and output chunk:

* time: `TEMPLATE_SECONDS` (1 s) for a render or an expression, and `UNIT_SECONDS` (2 s) for all
  those of one unit of work (the scrips of one change, `unit()`): the ticket's lock is never held
  longer than that by templates;
* size: no string, list or output past `MAX_VALUE` (1,000,000 characters or items, counted deep),
  refused before it is built where it can be told (repetition, padding, joins, replacements,
  formats, indents), and at most `MAX_WORK` characters made in all by one render;
* integers: at most `MAX_INT_BITS` (4096) bits, told before `**` and `*` compute them.

Past a bound, `TemplateLimit` (a SecurityError: "refused by the sandbox: ...") ends the render; the
engine records it in the trace like any failing template and the change goes on. `static_problems`
finds, in the parsed template alone, the bombs written as constants (`10 ** 10 ** 10`,
`'x'|center(10 ** 9)`, nested constant loops past the time bound), so a save can refuse them.
"""

from __future__ import annotations

import operator
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import MAX_RANGE

MAX_VALUE = 1_000_000
MAX_WORK = 20_000_000
MAX_INT_BITS = 4096
MAX_ROUND_DIGITS = 1300  # 4096 bits hold about 1233 decimal digits
MAX_JSON_INDENT = 100
TEMPLATE_SECONDS = 1.0
UNIT_SECONDS = 2.0
# Nested loops over constant ranges past this many iterations cannot finish in TEMPLATE_SECONDS.
MAX_STATIC_ITERATIONS = 20_000_000


class TemplateLimit(SecurityError):
    """A template or an expression went past one of the bounds."""


@dataclass
class Budget:
    deadline: float
    why: str
    work: int = 0


_budget: ContextVar[Budget | None] = ContextVar("tessera_template_budget", default=None)
_unit_deadline: ContextVar[float | None] = ContextVar("tessera_template_unit", default=None)


@contextmanager
def unit() -> Iterator[None]:
    """The renders and expressions inside share UNIT_SECONDS (the outermost unit counts)."""
    if _unit_deadline.get() is not None:
        yield
        return
    token = _unit_deadline.set(time.monotonic() + UNIT_SECONDS)
    try:
        yield
    finally:
        _unit_deadline.reset(token)


@contextmanager
def budget() -> Iterator[Budget]:
    """One render or expression: TEMPLATE_SECONDS, or what is left of the unit's time."""
    outer = _budget.get()
    if outer is not None:  # an expression inside a render: one budget
        yield outer
        return
    now = time.monotonic()
    deadline, why = now + TEMPLATE_SECONDS, f"ran past its time limit ({TEMPLATE_SECONDS:g} s)"
    unit_deadline = _unit_deadline.get()
    if unit_deadline is not None and unit_deadline < deadline:
        deadline = unit_deadline
        why = f"the templates of this change ran past their time limit ({UNIT_SECONDS:g} s in all)"
        if deadline <= now:
            raise TemplateLimit(why)
    mine = Budget(deadline, why)
    token = _budget.set(mine)
    try:
        yield mine
    finally:
        _budget.reset(token)


_steps = 0


def tick() -> None:
    """Called at every step a template takes (the clock is read every 16th: a step is bounded in
    size, so the time bound is overshot by milliseconds at most)."""
    global _steps
    _steps += 1
    if _steps & 15:
        return
    current = _budget.get()
    if current is not None and time.monotonic() > current.deadline:
        raise TemplateLimit(current.why)


# -- sizes --------------------------------------------------------------------------------------


_CONTAINERS = (list, tuple, set, frozenset, dict)


def weight(value: Any, _depth: int = 0) -> int:
    """Characters and items a value holds, counted deep (a list of one string a million times over
    weighs a million times that string): about what printing or joining it can produce. Counting
    stops a little past MAX_VALUE: past it, a value is refused whatever its exact weight."""
    if isinstance(value, (str, bytes, bytearray)):
        return len(value)
    if not isinstance(value, _CONTAINERS):
        return 1
    total = len(value)
    if total > MAX_VALUE or _depth > 50:
        return max(total, MAX_VALUE + 1)
    known: dict[int, int] = {}
    parts = [*value.keys(), *value.values()] if isinstance(value, dict) else value
    for part in parts:
        if type(part) is str:
            total += len(part)
        elif isinstance(part, (bytes, bytearray, *_CONTAINERS)):
            found = known.get(id(part))
            if found is None:
                found = known[id(part)] = weight(part, _depth + 1)
            total += found
        if total > MAX_VALUE:
            return total
    return total


def _too_big(size: int, what: str) -> TemplateLimit:
    return TemplateLimit(f"{what} would be {size:,} characters or items or more; at most {MAX_VALUE:,}")


def refuse_over(size: int, what: str) -> None:
    if size > MAX_VALUE:
        raise _too_big(size, what)


def charge(value: Any, what: str = "a value") -> Any:
    """Check a value a template made (size, integer bits) and count it against the budget."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > MAX_INT_BITS:
            raise TemplateLimit(
                f"{what} is an integer of {value.bit_length():,} bits; at most {MAX_INT_BITS}"
            )
        return value
    size = weight(value)
    if size > 1:
        refuse_over(size, what)
        current = _budget.get()
        if current is not None:
            current.work += size
            if current.work > MAX_WORK:
                raise TemplateLimit(f"made more than {MAX_WORK:,} characters in all")
    return value


def concat(parts: Iterable[Any]) -> str:
    """Jinja's `concat` (the whole output, a macro's, a `{% set %}` block's), bounded as it grows."""
    out: list[str] = []
    size = 0
    for part in parts:  # each part comes from a step that ticked, or from the template's own text
        size += len(part)
        if size > MAX_VALUE:
            raise TemplateLimit(f"template output is over {MAX_VALUE:,} characters")
        out.append(part)
    text = "".join(out)
    charge(text, "the output")
    return text


def join_values(values: list[Any]) -> str:
    """The `~` operator."""
    tick()
    parts = [v if isinstance(v, str) else str(v) for v in values]
    refuse_over(sum(map(len, parts)), "a ~ concatenation")
    text = "".join(parts)
    charge(text)
    return text


def loop(iterable: Iterable[Any]) -> Iterator[Any]:
    """What a `{% for %}` iterates: one tick per item."""
    for item in iterable:
        tick()
        yield item


# -- operators ----------------------------------------------------------------------------------

_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
}
INTERCEPTED_BINOPS = frozenset(_BINOPS)
_SEQUENCES = (str, bytes, list, tuple)


def _int(value: Any) -> bool:
    return isinstance(value, int)


def binop(op: str, left: Any, right: Any) -> Any:
    """An arithmetic operator, refused before it computes something past the bounds."""
    tick()
    if op == "**" and _int(left) and _int(right) and right > 0 and abs(left) > 1:
        bits = right * (abs(left).bit_length() - 1) + 1
        if bits > MAX_INT_BITS:
            raise TemplateLimit(f"{left} ** {right} has about {bits:,} bits; at most {MAX_INT_BITS}")
    elif op == "*":
        if _int(left) and _int(right):
            if left.bit_length() + right.bit_length() > MAX_INT_BITS + 1:
                raise TemplateLimit(f"a product of more than {MAX_INT_BITS} bits")
        else:
            sequence, times = (left, right) if _int(right) else (right, left)
            if isinstance(sequence, _SEQUENCES) and _int(times) and times > 0:
                refuse_over(weight(sequence) * times, "a repetition")
    elif op == "+" and isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        refuse_over(weight(left) + weight(right), "a sum")
    elif op == "%" and isinstance(left, str):
        check_percent_format(left, right)
    return charge(_BINOPS[op](left, right), f"the result of {op}")


_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[diouxXeEfFgGcrsab%]")


def _printed(value: Any) -> int:
    """About how long a value is once printed."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, int):
        return value.bit_length() * 31 // 100 + 2
    if isinstance(value, float):
        return 32
    return weight(value) * 10 + 32


def _longest(values: Iterable[Any]) -> int:
    return max((_printed(v) for v in values), default=0)


def check_percent_format(template: str, args: Any) -> None:
    """`'%5d' % x`, `'%*d' % (w, x)` and the `format` filter: widths, and how big it can get."""
    if isinstance(args, dict):
        values = list(args.values())
    else:
        values = list(args) if isinstance(args, tuple) else [args]
    specs = _PERCENT.findall(template)
    position = 0  # which argument each `*` takes (dict formats take none)
    for width, precision in specs:
        for number in (width, precision):
            if number.isdigit():
                refuse_over(int(number), "a %-format width")
            elif number == "*" and not isinstance(args, dict):
                if position < len(values) and _int(values[position]):
                    refuse_over(abs(values[position]), "a %-format width")
                position += 1
        position += 1
    refuse_over(len(template) + len(specs) * _longest(values), "a %-format")


def check_str_format(template: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """`'{:>10}'.format(x)`: widths in the template and from the arguments, and the size."""
    fields = 0
    nested = False
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return  # str.format will say what is wrong
    for _, field, spec, _ in parsed:
        if field is None:
            continue
        fields += 1
        nested = nested or "{" in (spec or "")
        for number in re.findall(r"\d+", spec or ""):
            refuse_over(int(number), "a format width")
    if nested:  # `{:{}}`: a width from the arguments
        for value in (*args, *kwargs.values()):
            if _int(value):
                refuse_over(abs(value), "a format width")
    refuse_over(len(template) + fields * _longest((*args, *kwargs.values())), "a format")


# -- calls: methods of str and bytes, and filters -----------------------------------------------


def _width(value: Any, what: str) -> None:
    if _int(value):
        refuse_over(value, what)


def _expandtabs(s: Any, tabsize: int = 8) -> None:
    if _int(tabsize) and tabsize > 0:
        refuse_over(len(s) + s.count("\t" if isinstance(s, str) else b"\t") * tabsize, "expandtabs")


def _replace(s: Any, old: Any, new: Any, count: int | None = -1) -> None:
    if not isinstance(old, (str, bytes)) or not isinstance(new, (str, bytes)):
        return
    found = (len(s) + 1) if not old else s.count(old)
    if _int(count) and count is not None and count >= 0:
        found = min(found, count)
    refuse_over(len(s) + found * max(0, len(new) - len(old)), "a replacement")


def _join(separator: Any, items: list[Any]) -> None:
    sep = len(separator) if isinstance(separator, (str, bytes)) else 0
    refuse_over(weight(items) + sep * max(0, len(items) - 1), "a join")


def _translate(s: Any, table: Any) -> None:
    if isinstance(table, dict):
        longest = max((len(v) for v in table.values() if isinstance(v, (str, bytes))), default=1)
        refuse_over(len(s) * longest, "a translation")


def _lines(s: Any) -> int:
    return (s.count("\n") + 1) if isinstance(s, str) else 1


def check_method(target: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Before a method of a str, bytes or int runs; returns the arguments to call it with (an
    iterable given to join is read once, here)."""
    if isinstance(target, (str, bytes, bytearray)):
        if name in ("center", "ljust", "rjust", "zfill") and args:
            _width(args[0], f"{name}()")
        elif name == "expandtabs":
            _expandtabs(target, *args, **kwargs)
        elif name == "replace" and len(args) >= 2:
            _replace(target, *args, **kwargs)
        elif name == "join" and args:
            items = list(loop(args[0]))
            _join(target, items)
            return (items, *args[1:])
        elif name == "translate" and args:
            _translate(target, args[0])
    elif isinstance(target, int) and name == "to_bytes":
        length = args[0] if args else kwargs.get("length", 1)
        _width(length, "to_bytes()")
    return args


def _filter_join(value: Any, d: str = "", attribute: Any = None) -> dict[str, Any]:
    items = list(loop(value))
    _join(d, items)
    return {"value": items}


def _filter_indent(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> None:
    prefix = len(width) if isinstance(width, str) else width if _int(width) else 0
    refuse_over(len(str(s)) + _lines(str(s)) * prefix, "an indent")


def _filter_wordwrap(
    s: Any,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: Any = None,
    break_on_hyphens: bool = True,
) -> None:
    extra = len(wrapstring) if isinstance(wrapstring, str) else 1
    refuse_over(len(str(s)) * (1 + extra), "a wordwrap")


def _filter_urlize(value: Any, *args: Any, **kwargs: Any) -> None:
    extra = sum(len(v) for v in (*args, *kwargs.values()) if isinstance(v, str))
    refuse_over(len(str(value)) * (1 + extra), "urlize")


def _filter_round(value: Any, precision: Any = 0, method: str = "common") -> None:
    if _int(precision) and abs(precision) > MAX_ROUND_DIGITS:
        raise TemplateLimit(f"round to {precision} digits; at most {MAX_ROUND_DIGITS}")


def _filter_tojson(value: Any, indent: Any = None) -> None:
    if _int(indent) and indent > MAX_JSON_INDENT:
        raise TemplateLimit(f"tojson indent of {indent}; at most {MAX_JSON_INDENT}")


def _filter_slice(value: Any, slices: Any, fill_with: Any = None) -> None:
    if _int(slices) and slices > MAX_RANGE:
        raise TemplateLimit(f"slice into {slices:,} parts; at most {MAX_RANGE:,}")


def _filter_quote(text: Any, prefix: Any = "> ") -> None:
    if text is not None and not isinstance(text, str):
        text = getattr(text, "content", text)  # quote(transaction) quotes its content
    refuse_over(len(str(text or "")) + _lines(str(text or "")) * len(str(prefix)), "a quote")


# name -> check(value, *args, **kwargs); a check may return {"value": ...} to replace the value it
# read (an iterator joined is consumed by the check).
FILTER_CHECKS: dict[str, Callable[..., Any]] = {
    "center": lambda value, width=80: _width(width, "center"),
    "batch": lambda value, linecount, fill_with=None: _width(linecount, "batch"),
    "slice": _filter_slice,
    "indent": _filter_indent,
    "wordwrap": _filter_wordwrap,
    "urlize": _filter_urlize,
    "replace": lambda s, old, new, count=None: _replace(str(s), str(old), str(new), count),
    "join": _filter_join,
    "format": lambda value, *args, **kwargs: check_percent_format(str(value), kwargs or args),
    "round": _filter_round,
    "tojson": _filter_tojson,
    "quote": _filter_quote,
}


# -- what can be told before running ------------------------------------------------------------


class _NotConstant(Exception):
    pass


_NODE_OPS = {
    nodes.Add: "+",
    nodes.Sub: "-",
    nodes.Mul: "*",
    nodes.Div: "/",
    nodes.FloorDiv: "//",
    nodes.Mod: "%",
    nodes.Pow: "**",
}


def _const(node: nodes.Node) -> Any:
    """The value of a constant expression, computed under the bounds (TemplateLimit if past)."""
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, (nodes.List, nodes.Tuple)):
        items = [_const(item) for item in node.items]
        return items if isinstance(node, nodes.List) else tuple(items)
    if isinstance(node, nodes.Neg):
        return -_const(node.node)
    if isinstance(node, nodes.Pos):
        return +_const(node.node)
    if isinstance(node, nodes.BinExpr) and type(node) in _NODE_OPS:
        return binop(_NODE_OPS[type(node)], _const(node.left), _const(node.right))
    if isinstance(node, nodes.Concat):
        return join_values([_const(n) for n in node.nodes])
    raise _NotConstant


def _maybe_const(node: nodes.Node | None) -> Any:
    if node is None:
        raise _NotConstant
    return _const(node)


def _arguments(node: nodes.Filter | nodes.Call) -> tuple[list[Any], dict[str, Any]] | None:
    try:
        args = [_const(a) for a in node.args]
        kwargs = {str(k.key): _const(k.value) for k in node.kwargs}
    except (_NotConstant, TemplateLimit):
        return None
    if node.dyn_args is not None or node.dyn_kwargs is not None:
        return None
    return args, kwargs


_UNKNOWN = object()


def _static_filter(node: nodes.Filter) -> None:
    check = FILTER_CHECKS.get(node.name)
    found = _arguments(node)
    if check is None or found is None:
        return
    args, kwargs = found
    try:
        value = _maybe_const(node.node)
    except (_NotConstant, TemplateLimit):
        value = _UNKNOWN
    if value is _UNKNOWN:
        # Only what the arguments alone tell: widths and counts.
        if node.name in ("center", "batch", "slice", "round", "tojson"):
            try:
                check("", *args, **kwargs)
            except TypeError:
                return
        return
    try:
        check(value, *args, **kwargs)
    except TypeError:
        return


def _static_call(node: nodes.Call) -> None:
    if not isinstance(node.node, nodes.Getattr):
        return
    found = _arguments(node)
    if found is None:
        return
    args, kwargs = found
    try:
        target = _const(node.node.node)
    except (_NotConstant, TemplateLimit):
        target = "" if node.node.attr in ("center", "ljust", "rjust", "zfill") else None
    if target is None:
        return
    if node.node.attr in ("format", "format_map") and isinstance(target, str):
        if node.node.attr == "format":
            check_str_format(target, tuple(args), kwargs)
        return
    try:
        check_method(target, node.node.attr, tuple(args), kwargs)
    except TypeError:
        return


def _range_length(node: nodes.Node) -> int | None:
    if not (isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name == "range"):
        return None
    found = _arguments(node)
    if found is None or found[1] or not all(_int(a) for a in found[0]):
        return None
    try:
        return len(range(*found[0]))
    except (TypeError, ValueError, OverflowError):
        return None


def _loops(node: nodes.Node, outer: int, problems: list[tuple[int, str]]) -> None:
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.For):
            size = _range_length(child.iter)
            total = outer * (size if size is not None else 1)
            if size is not None and size > MAX_RANGE:
                problems.append((child.lineno, f"range of {size:,} items; at most {MAX_RANGE:,}"))
            elif total > MAX_STATIC_ITERATIONS:
                problems.append(
                    (
                        child.lineno,
                        f"nested loops of {total:,} iterations cannot finish in the time a template "
                        f"has ({TEMPLATE_SECONDS:g} s)",
                    )
                )
                continue
            _loops(child, total, problems)
        else:
            _loops(child, outer, problems)


def static_problems(tree: nodes.Node) -> list[tuple[int, str]]:
    """(line, why) for each resource bomb the template spells out with constants."""
    problems: list[tuple[int, str]] = []
    outermost = [n for n in tree.find_all(nodes.Expr) if type(n) in _NODE_OPS or isinstance(n, nodes.Concat)]
    for node in outermost:
        try:
            _const(node)
        except TemplateLimit as exc:
            problems.append((node.lineno, str(exc)))
        except (_NotConstant, ArithmeticError, TypeError, ValueError):
            pass
    for node in tree.find_all(nodes.Filter):
        try:
            _static_filter(node)
        except TemplateLimit as exc:
            problems.append((node.lineno, str(exc)))
    for node in tree.find_all(nodes.Call):
        try:
            _static_call(node)
        except TemplateLimit as exc:
            problems.append((node.lineno, str(exc)))
    _loops(tree, 1, problems)
    seen: set[tuple[int, str]] = set()
    unique = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            unique.append(problem)
    return sorted(unique)


__all__ = [
    "MAX_INT_BITS",
    "MAX_VALUE",
    "MAX_WORK",
    "TEMPLATE_SECONDS",
    "UNIT_SECONDS",
    "TemplateLimit",
    "budget",
    "static_problems",
    "unit",
]
