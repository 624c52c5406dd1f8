"""IDM query filters (``_queryFilter``): a tokenizer, a recursive-descent parser, a renderer, and SQL.

The grammar is ForgeRock CREST's (``idm-sync-semantics.md`` §3.3)::

    Expr        = OrExpr
    OrExpr      = AndExpr ('or' AndExpr)*
    AndExpr     = NotExpr ('and' NotExpr)*
    NotExpr     = '!' PrimaryExpr | PrimaryExpr
    PrimaryExpr = '(' Expr ')' | Pointer OpName Value | Pointer 'pr' | 'true' | 'false'
    OpName      = eq | co | sw | lt | le | gt | ge
    Value       = NUMBER | true | false | "string" | 'string'   (backslash escapes as in JSON)

Pointers are JSON pointers (``/userName``, ``/preferences/updates``; the leading slash may be omitted).
Keywords and operators are case-insensitive. :func:`to_sql` turns the tree into a WHERE clause whose
values are all bound parameters: user text never becomes SQL text. String comparisons are
case-insensitive for ASCII letters (SQLite ``NOCASE``), as IDM's DS and MySQL repositories answer them.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from core.repo.errors import FilterSyntaxError

Value = str | int | float | bool
Pointer = tuple[str, ...]

OPERATORS = ("eq", "co", "sw", "lt", "le", "gt", "ge")


@dataclass(frozen=True)
class Literal:
    """``true`` (every object) or ``false`` (none)."""

    value: bool


@dataclass(frozen=True)
class Comparison:
    """``pointer op value``, e.g. ``/mail co "@example.com"``."""

    op: str
    pointer: Pointer
    value: Value


@dataclass(frozen=True)
class Presence:
    """``pointer pr``: the field is present and not null."""

    pointer: Pointer


@dataclass(frozen=True)
class And:
    operands: tuple[Filter, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Filter, ...]


@dataclass(frozen=True)
class Not:
    operand: Filter


Filter = Literal | Comparison | Presence | And | Or | Not


# ---------------------------------------------------------------------------------------------- tokens

@dataclass(frozen=True)
class _Token:
    kind: str  # "(" ")" "!" "string" "number" "word" "end"
    text: str
    value: Value | None
    pos: int


_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_WORD_END = re.compile(r"[\s()\"']")
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(_Token(ch, ch, None, i))
            i += 1
        elif ch == "!":
            tokens.append(_Token("!", ch, None, i))
            i += 1
        elif ch in "\"'":
            value, end = _read_string(text, i)
            tokens.append(_Token("string", text[i:end], value, i))
            i = end
        else:
            m = _NUMBER.match(text, i)
            end_m = _WORD_END.search(text, i)
            word_end = end_m.start() if end_m else n
            if m and m.end() == word_end:
                raw = m.group()
                number: Value = float(raw) if any(c in raw for c in ".eE") else int(raw)
                if isinstance(number, int) and not -2**63 <= number < 2**63:
                    number = float(number)  # as JSON's numbers are (SQLite cannot bind a larger int)
                tokens.append(_Token("number", raw, number, i))
            else:
                tokens.append(_Token("word", text[i:word_end], None, i))
            i = word_end
    tokens.append(_Token("end", "", None, n))
    return tokens


def _hex4(text: str, i: int) -> int:
    """The code unit of the ``\\uXXXX`` escape at ``i``."""
    digits = text[i + 2:i + 6]
    if len(digits) != 4 or not all(c in "0123456789abcdefABCDEF" for c in digits):
        raise FilterSyntaxError("bad \\u escape in string", text=text, position=i)
    return int(digits, 16)


def _read_string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\\":
            if i + 1 >= len(text):
                break
            esc = text[i + 1]
            if esc == "u":
                code = _hex4(text, i)
                i += 6
                if 0xD800 <= code < 0xDC00 and text[i:i + 2] == "\\u":  # a UTF-16 pair, as JSON encoders write
                    low = _hex4(text, i)
                    if 0xDC00 <= low < 0xE000:
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                if 0xD800 <= code < 0xE000:
                    raise FilterSyntaxError("unpaired surrogate in \\u escape", text=text, position=i - 6)
                out.append(chr(code))
                continue
            if esc not in _ESCAPES:
                raise FilterSyntaxError(f"unknown escape \\{esc} in string", text=text, position=i)
            out.append(_ESCAPES[esc])
            i += 2
            continue
        out.append(ch)
        i += 1
    raise FilterSyntaxError("unterminated string", text=text, position=start)


# ---------------------------------------------------------------------------------------------- parser

def _shown(tok: _Token) -> str:
    return repr(tok.text) if tok.kind != "end" else "the end"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def fail(self, reason: str, tok: _Token) -> FilterSyntaxError:
        return FilterSyntaxError(reason, text=self.text, position=tok.pos)

    def is_word(self, tok: _Token, *words: str) -> bool:
        return tok.kind == "word" and tok.text.lower() in words

    def parse(self) -> Filter:
        if self.peek().kind == "end":
            raise self.fail("empty filter", self.peek())
        expr = self.parse_or()
        tok = self.peek()
        if tok.kind != "end":
            raise self.fail(f"expected 'and', 'or' or the end, found {_shown(tok)}", tok)
        return expr

    def parse_or(self) -> Filter:
        operands = [self.parse_and()]
        while self.is_word(self.peek(), "or"):
            self.take()
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def parse_and(self) -> Filter:
        operands = [self.parse_not()]
        while self.is_word(self.peek(), "and"):
            self.take()
            operands.append(self.parse_not())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def parse_not(self) -> Filter:
        if self.peek().kind == "!":
            self.take()
            return Not(self.parse_primary())
        return self.parse_primary()

    def parse_primary(self) -> Filter:
        tok = self.take()
        if tok.kind == "(":
            expr = self.parse_or()
            close = self.take()
            if close.kind != ")":
                raise self.fail(f"expected ')', found {_shown(close)}", close)
            return expr
        if tok.kind == "word" and tok.text.lower() in ("true", "false") and not self._starts_comparison():
            return Literal(tok.text.lower() == "true")
        if tok.kind != "word":
            raise self.fail(f"expected a field, '(' , '!', true or false, found {_shown(tok)}", tok)
        if tok.text.lower() in ("and", "or"):
            raise self.fail(f"expected a field before {tok.text!r}", tok)
        pointer = parse_pointer(tok.text, text=self.text, position=tok.pos)
        op_tok = self.take()
        if op_tok.kind != "word":
            raise self.fail(f"expected an operator after {tok.text!r}, found {_shown(op_tok)}", op_tok)
        op = op_tok.text.lower()
        if op == "pr":
            return Presence(pointer)
        if op not in OPERATORS:
            raise self.fail(f"unknown operator {op_tok.text!r} (use eq co sw lt le gt ge pr)", op_tok)
        val_tok = self.take()
        if val_tok.kind in ("string", "number"):
            assert val_tok.value is not None
            return Comparison(op, pointer, val_tok.value)
        if val_tok.kind == "word" and val_tok.text.lower() in ("true", "false"):
            return Comparison(op, pointer, val_tok.text.lower() == "true")
        raise self.fail(f"expected a value after {op_tok.text!r} (a \"string\", number, true or false), "
                        f"found {_shown(val_tok)}", val_tok)

    def _starts_comparison(self) -> bool:
        """``true`` followed by an operator is a field named ``true``, not the literal."""
        nxt = self.peek()
        return nxt.kind == "word" and nxt.text.lower() in (*OPERATORS, "pr")


def parse_pointer(raw: str, *, text: str | None = None, position: int = 0) -> Pointer:
    """``/a/b`` or ``a/b`` -> ``("a", "b")`` with ``~1`` -> ``/`` and ``~0`` -> ``~`` (RFC 6901)."""
    body = raw[1:] if raw.startswith("/") else raw
    parts = body.split("/")
    if not body or any(p == "" for p in parts):
        raise FilterSyntaxError(f"bad field pointer {raw!r}", text=text if text is not None else raw,
                                position=position)
    return tuple(p.replace("~1", "/").replace("~0", "~") for p in parts)


_SURROGATE = re.compile("[\ud800-\udfff]")


@functools.lru_cache(maxsize=256)
def parse(text: str) -> Filter:
    """Parse an IDM ``_queryFilter``; a fault raises :class:`FilterSyntaxError` naming its position.

    The trees are immutable, so the answers are cached: a REST reader or a paging screen sends the same few
    filters again and again (parsing was ~5% of ``sfsync serve``'s CPU under load)."""
    bad = _SURROGATE.search(text)  # not text (a broken UTF-16 decode): it could not reach SQLite either
    if bad:
        raise FilterSyntaxError("unpaired surrogate character", text=text.encode("utf-8", "replace").decode(),
                                position=bad.start())
    return _Parser(text).parse()


# ---------------------------------------------------------------------------------------------- render

def render_pointer(pointer: Pointer) -> str:
    """``/a/b``; a name with whitespace, parentheses or quotes has no spelling in the grammar (ValueError)."""
    for part in pointer:
        if not part or _WORD_END.search(part):
            raise ValueError(f"field name {part!r} cannot be written in a query filter")
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in pointer)


def render_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def render(filt: Filter) -> str:
    """The canonical text of a filter; ``parse(render(f)) == f``."""
    if isinstance(filt, Literal):
        return "true" if filt.value else "false"
    if isinstance(filt, Comparison):
        return f"{render_pointer(filt.pointer)} {filt.op} {render_value(filt.value)}"
    if isinstance(filt, Presence):
        return f"{render_pointer(filt.pointer)} pr"
    if isinstance(filt, Not):
        return f"!({render(filt.operand)})"
    word = " and " if isinstance(filt, And) else " or "
    return word.join(f"({render(o)})" if isinstance(o, And | Or) else render(o) for o in filt.operands)


# ---------------------------------------------------------------------------------------------- SQL

def json_path(pointer: Pointer) -> str:
    """The SQLite JSON path of a pointer (``$."a"."b"``, array indexes as ``[n]``); bound, never inlined."""
    out = ["$"]
    for part in pointer:
        if part.isdigit():
            out.append(f"[{part}]")
        elif '"' in part or "\\" in part:
            raise ValueError(f"field name {part!r} cannot be queried")
        else:
            out.append(f'."{part}"')
    return "".join(out)


#: maps a pointer to a trusted SQL expression (an indexed column), or None for json_extract over the data
ColumnResolver = Callable[[Pointer], str | None]

_SQL_OPS = {"eq": "=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class _SqlBuilder:
    def __init__(self, resolve: ColumnResolver, data_column: str) -> None:
        self.resolve = resolve
        self.data = data_column
        self.params: list[object] = []

    def bind(self, value: object) -> str:
        self.params.append(value)
        return "?"

    def expr(self, pointer: Pointer) -> str:
        column = self.resolve(pointer)
        if column is not None:
            return column
        try:
            path = json_path(pointer)
        except ValueError as exc:
            raise FilterSyntaxError(str(exc), text=render_pointer(pointer), position=0) from None
        return f"(json_extract({self.data}, {self.bind(path)}) COLLATE NOCASE)"

    def json_type(self, pointer: Pointer) -> str:
        column = self.resolve(pointer)
        if column is not None and pointer[0] in ("_id", "_rev"):
            return "'text'"
        return f"json_type({self.data}, {self.bind(json_path(pointer))})"

    def build(self, filt: Filter) -> str:
        if isinstance(filt, Literal):
            return "1" if filt.value else "0"
        if isinstance(filt, Presence):
            return f"{self.expr(filt.pointer)} IS NOT NULL"
        if isinstance(filt, Not):
            # NOT over SQL NULL is NULL; IDM's "!" is true whenever the operand is not true
            return f"NOT coalesce(({self.build(filt.operand)}), 0)"
        if isinstance(filt, And | Or):
            word = " AND " if isinstance(filt, And) else " OR "
            return "(" + word.join(self.build(o) for o in filt.operands) + ")"
        return self.comparison(filt)

    def comparison(self, c: Comparison) -> str:
        if isinstance(c.value, bool):
            if c.op != "eq":
                return "0"  # IDM: ordering and substring operators never match booleans
            return f"{self.json_type(c.pointer)} = {self.bind('true' if c.value else 'false')}"
        if c.op in ("co", "sw"):
            text = str(c.value)
            pattern = _like_escape(text) + "%" if c.op == "sw" else "%" + _like_escape(text) + "%"
            like = f"{self.expr(c.pointer)} LIKE {self.bind(pattern)} ESCAPE '\\'"
            return f"({like} AND typeof({self.expr(c.pointer)}) = 'text')"  # substrings of strings only
        return f"{self.expr(c.pointer)} {_SQL_OPS[c.op]} {self.bind(c.value)}"


def to_sql(filt: Filter, resolve: ColumnResolver | None = None, *, data_column: str = "data",
           ) -> tuple[str, list[object]]:
    """``(where_sql, params)`` for a parsed filter: identifiers come from ``resolve``, values are parameters."""
    builder = _SqlBuilder(resolve or (lambda p: None), data_column)
    return builder.build(filt), builder.params
