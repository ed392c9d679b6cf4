"""Parse TicketSQL into a small tree, with errors that point at a column.

Grammar (RT's, with SQL's precedence: AND binds tighter than OR, where RT silently takes the last
connective of a bracket level):

    query      := [ or ] [ ORDER BY key [ASC|DESC] { , key [ASC|DESC] } ]
    or         := and { OR and }
    and        := term { AND term }
    term       := '(' or ')' | FIELD OP VALUE
    OP         := = | != | <> | < | <= | > | >= | LIKE | NOT LIKE | STARTSWITH | ENDSWITH
                  | IS | IS NOT | (NOT) STARTSWITH | (NOT) ENDSWITH
    VALUE      := 'single' | "double" | number | NULL | bare-word
    FIELD      := Name | Name.Sub | CF.Name | CF.{Any Name} | any of these in quotes (RT's builder
                  writes 'CF.{Severity}')

The trailing ORDER BY is a convenience for people who type SQL; RT keeps sort keys beside the
query, and so does `--order-by` (which wins when both are given).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from tessera.core.errors import InvalidInput

GRAMMAR = r"""
start: or_expr? order_clause?
order_clause: ORDER BY order_key ("," order_key)*
order_key: MINUS? FIELD DIRECTION?
?or_expr: and_expr (OR and_expr)*
?and_expr: term (AND term)*
?term: "(" or_expr ")"
     | comparison
comparison: FIELD op value
op: EQ | NE | LE | GE | LT | GT | LIKE | NOT LIKE -> not_like | STARTSWITH | NOT STARTSWITH -> not_startswith
  | ENDSWITH | NOT ENDSWITH -> not_endswith | IS NOT -> is_not | IS
value: STRING_SQ | STRING_DQ | NUMBER | NULL | WORD

AND.3: /and\b/i
OR.3: /or\b/i
NOT.3: /not\b/i
LIKE.3: /like\b/i
STARTSWITH.3: /startswith\b/i
ENDSWITH.3: /endswith\b/i
IS.3: /is\b/i
NULL.3: /null\b/i
ORDER.3: /order\b/i
BY.3: /by\b/i
DIRECTION.3: /(asc|desc)\b/i
MINUS: "-"
EQ: "="
NE: "!=" | "<>"
LE: "<="
GE: ">="
LT: "<"
GT: ">"
FIELD.2: /(?:CF|CustomField)\.\{[^}]*\}/i
       | /'(?:CF|CustomField)\.\{[^}']*\}'/i | /"(?:CF|CustomField)\.\{[^}"]*\}"/i
       | /(?!(?:and|or|not|like|is|null|order)\b)[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/i
       | /'[A-Za-z_][A-Za-z0-9_.]*'/ | /"[A-Za-z_][A-Za-z0-9_.]*"/
STRING_SQ: /'(?:[^'\\]|\\.)*'/
STRING_DQ: /"(?:[^"\\]|\\.)*"/
NUMBER.2: /-?\d+(?![^\s()'"=!<>])/
WORD: /[^\s()'"=!<>]+/

%import common.WS
%ignore WS
"""

OPERATORS = (
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "LIKE",
    "NOT LIKE",
    "STARTSWITH",
    "NOT STARTSWITH",
    "ENDSWITH",
    "NOT ENDSWITH",
    "IS",
    "IS NOT",
)


MAX_LENGTH = 10_000
# Brackets nest at most this deep (RT's query builder writes two or three levels). Deeper queries
# are refused at the bracket that goes past it: the tree, its compilation and SQLAlchemy's SQL
# writer all recurse once or more per level, and a few hundred levels exhausted Python's stack.
MAX_DEPTH = 32
# Longer runs of digits are no number PostgreSQL holds; kept as text, refused where it matters.
_MAX_DIGITS = 20


class SearchError(InvalidInput):
    """A query that cannot be run; the message names the token and its column."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.column = column


@dataclass(frozen=True)
class Comparison:
    field: str
    op: str
    value: str | int | None
    value_kind: str  # string | number | null | word
    column: int
    value_column: int


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND | OR
    items: tuple[Node, ...]


Node = Comparison | BoolOp


@dataclass(frozen=True)
class Ordering:
    keys: str  # "Priority DESC, Created", as `--order-by` takes them


def _unquote(text: str) -> str:
    body = text[1:-1]
    out, escaped = [], False
    for ch in body:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        else:
            out.append(ch)
    return "".join(out)


class _ToTree(Transformer[Token, tuple["Node | None", str]]):
    @v_args(inline=True)
    def comparison(
        self, field: Token, op: tuple[str, int], value: tuple[str | int | None, str, int]
    ) -> Comparison:
        name = str(field)
        if name[:1] in ("'", '"'):
            name = name[1:-1]
        return Comparison(name, op[0], value[0], value[1], field.column or 1, value[2])

    def op(self, items: list[Token]) -> tuple[str, int]:
        return (" ".join(str(t).upper() for t in items).replace("<>", "!="), items[0].column or 1)

    def not_like(self, items: list[Token]) -> tuple[str, int]:
        return ("NOT LIKE", items[0].column or 1)

    def not_startswith(self, items: list[Token]) -> tuple[str, int]:
        return ("NOT STARTSWITH", items[0].column or 1)

    def not_endswith(self, items: list[Token]) -> tuple[str, int]:
        return ("NOT ENDSWITH", items[0].column or 1)

    def is_not(self, items: list[Token]) -> tuple[str, int]:
        return ("IS NOT", items[0].column or 1)

    @v_args(inline=True)
    def value(self, token: Token) -> tuple[str | int | None, str, int]:
        col = token.column or 1
        if token.type in ("STRING_SQ", "STRING_DQ"):
            return (_unquote(str(token)), "string", col)
        if token.type == "NUMBER":
            text = str(token)
            if len(text.lstrip("-").lstrip("0")) > _MAX_DIGITS:  # int() refuses past 4,300 digits
                return (text, "number", col)
            return (int(text), "number", col)
        if token.type == "NULL":
            return (None, "null", col)
        return (str(token), "word", col)

    def and_expr(self, items: list[Node]) -> BoolOp:
        return BoolOp("AND", tuple(i for i in items if not isinstance(i, Token)))

    def or_expr(self, items: list[Node]) -> BoolOp:
        return BoolOp("OR", tuple(i for i in items if not isinstance(i, Token)))

    def order_key(self, items: list[Token]) -> str:
        words = [str(i) for i in items if i.type != "MINUS"]
        name, direction = words[0].strip("'\""), (words[1].upper() if len(words) > 1 else "")
        if len(words) < len(items):  # RT's -Priority
            direction = "DESC"
        return f"{name} {direction}".strip()

    def order_clause(self, items: list[Token | str]) -> Ordering:
        return Ordering(", ".join(i for i in items if not isinstance(i, Token)))  # the keys, not ORDER BY

    def start(self, items: list[Node | Ordering]) -> tuple[Node | None, str]:
        node = next((i for i in items if not isinstance(i, Ordering)), None)
        order = next((i.keys for i in items if isinstance(i, Ordering)), "")
        return node, order


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", maybe_placeholders=False)


_EXPECT_WORDS = {
    "FIELD": "a field",
    "EQ": "an operator",
    "NE": "an operator",
    "LIKE": "an operator",
    "IS": "an operator",
    "STRING_SQ": "a value",
    "STRING_DQ": "a value",
    "NUMBER": "a value",
    "WORD": "a value",
    "NULL": "a value",
    "AND": "AND or OR",
    "OR": "AND or OR",
    "RPAR": "')'",
    "LPAR": "'('",
    "ORDER": "ORDER BY",
    "BY": "BY",
    "DIRECTION": "ASC or DESC",
    "COMMA": "','",
    "$END": "the end of the query",
}


def _expected(expected: set[str]) -> str:
    words: list[str] = []
    for name in sorted(expected):
        word = _EXPECT_WORDS.get(name)
        if word and word not in words:
            words.append(word)
    return " or ".join(words) if words else "something else"


def parse(query: str) -> Node | None:
    """The query's tree; None for an empty query. Raises SearchError pointing into the text."""
    return parse_with_order(query)[0]


def shown(text: str, limit: int = 40) -> str:
    """`text` as an error message quotes it: repr'd, and cut short past `limit` characters."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def check_text(query: str) -> None:
    """Refuse what no query may hold, at its column: a NUL (PostgreSQL's text cannot hold one),
    text that was not UTF-8 (undecodable bytes arrive as lone surrogates), brackets deeper than
    MAX_DEPTH. Quoted values and `CF.{...}` names are skipped for brackets, not for the rest."""
    depth = 0
    closer = ""  # the quote or brace that ends the literal being read, if any
    escaped = False
    for column, ch in enumerate(query, 1):
        if ch == "\x00":
            raise SearchError(f"a NUL character at column {column}: no text on the desk can hold one", column)
        if "\ud800" <= ch <= "\udfff":
            raise SearchError(f"text that is not UTF-8 at column {column}", column)
        if closer:
            if escaped:
                escaped = False
            elif ch == "\\" and closer != "}":
                escaped = True
            elif ch == closer:
                closer = ""
        elif ch in "'\"":
            closer = ch
        elif ch == "{":
            closer = "}"
        elif ch == "(":
            depth += 1
            if depth > MAX_DEPTH:
                raise SearchError(
                    f"brackets nested deeper than {MAX_DEPTH} levels at column {column}", column
                )
        elif ch == ")":
            depth = max(0, depth - 1)


def parse_with_order(query: str) -> tuple[Node | None, str]:
    """The query's tree and the sort keys of a trailing ORDER BY ("" when there is none)."""
    if len(query) > MAX_LENGTH:
        raise SearchError(f"query is longer than {MAX_LENGTH:,} characters")
    check_text(query)
    try:
        tree = _parser().parse(query)
    except UnexpectedEOF as exc:
        raise SearchError(f"query ends too early: expected {_expected(set(exc.expected))}") from None
    except UnexpectedToken as exc:
        token = exc.token
        if token.type == "$END":
            raise SearchError(f"query ends too early: expected {_expected(set(exc.expected))}") from None
        expected = _expected(set(exc.expected))
        raise SearchError(
            f"unexpected {shown(str(token))} at column {token.column}: expected {expected}", token.column
        ) from None
    except UnexpectedCharacters as exc:
        # lark declares `pos_in_stream = None` on the base class; this subclass sets the lexer's int
        pos = cast(int, exc.pos_in_stream)
        bad = query[pos] if pos < len(query) else ""
        if bad in "'\"":
            hint = " (unclosed quote?)"
        else:
            word = re.match(r"[^\s()'\"]+", query[pos:])
            bad = word.group(0) if word else bad
            hint = f": expected {_expected(set(exc.allowed or ()))}"
        raise SearchError(f"unexpected {shown(bad)} at column {exc.column}{hint}", exc.column) from None
    except UnexpectedInput as exc:  # pragma: no cover - lark's other input errors
        raise SearchError(f"cannot read the query at column {exc.column}", exc.column) from None
    try:
        return _ToTree().transform(tree)
    except VisitError as exc:  # lark wraps what a callback raised
        if isinstance(exc.orig_exc, SearchError):
            raise exc.orig_exc from None
        raise SearchError(f"cannot read the query ({type(exc.orig_exc).__name__})") from None
