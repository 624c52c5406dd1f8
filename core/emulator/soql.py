"""A SOQL parser for the subset sync needs: a tokenizer and a recursive-descent parser producing an AST.

Grammar (keywords case-insensitive)::

    query      := SELECT select FROM name [WHERE or] [ORDER BY order (, order)*] [LIMIT int] [OFFSET int]
    select     := COUNT() | FIELDS(STANDARD) | item (, item)*       item := path | COUNT(path) [alias]
    or         := and (OR and)*          -- SOQL refuses AND and OR mixed without parentheses
    and        := not (AND not)*
    not        := NOT not | ( or ) | path op value | path [NOT] IN ( value, ... ) | path LIKE string
    value      := string | number | TRUE | FALSE | NULL | datetime | date | TODAY | LAST_N_DAYS:n | ...

Errors are :class:`SoqlError` carrying Salesforce's code and the position, rendered by the caller in the
``ERROR at Row:1:Column:N`` form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

KEYWORDS = {"select", "from", "where", "order", "by", "limit", "offset", "and", "or", "not", "in", "like",
            "asc", "desc", "nulls", "first", "last", "null", "true", "false", "count", "group", "having",
            "includes", "excludes", "with", "for", "using", "fields"}
DATE_CONSTANTS = {"today", "yesterday", "tomorrow", "last_n_days", "next_n_days", "this_month", "last_month"}

_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\dT]))
  | (?P<number>[+-]?\d+(?:\.\d+)?)
  | (?P<string>')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),.:])
""", re.VERBOSE)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\",
            "%": "\x00%", "_": "\x00_"}


class SoqlError(Exception):
    """A query Salesforce would refuse: ``code`` (MALFORMED_QUERY, INVALID_FIELD, …) at ``pos``."""

    def __init__(self, code: str, message: str, pos: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.pos = pos

    def render(self, text: str) -> str:
        """Salesforce's message: the query line, a caret, ``ERROR at Row:R:Column:C`` and the reason."""
        before = text[:self.pos]
        row = before.count("\n") + 1
        line_start = before.rfind("\n") + 1
        line_end = text.find("\n", self.pos)
        line = text[line_start:line_end if line_end >= 0 else len(text)]
        col = self.pos - line_start + 1
        return f"\n{line}\n{' ' * (col - 1)}^\nERROR at Row:{row}:Column:{col}\n{self.message}"


@dataclass(frozen=True)
class Token:
    kind: str          # name, string, number, datetime, date, op, punct, eof
    value: str
    pos: int

    def is_kw(self, *words: str) -> bool:
        return self.kind == "name" and self.value.lower() in words


def tokenize(text: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{text[pos]}'", pos)
        kind = m.lastgroup or ""
        if kind == "string":
            value, pos2 = _read_string(text, pos)
            out.append(Token("string", value, pos))
            pos = pos2
            continue
        if kind != "ws":
            out.append(Token(kind, m.group(), pos))
        pos = m.end()
    out.append(Token("eof", "", len(text)))
    return out


def _read_string(text: str, start: int) -> tuple[str, int]:
    """A quoted literal; escaped ``%`` and ``_`` are kept as NUL + character so LIKE can tell them from
    wildcards (other operators drop the NUL)."""
    chars: list[str] = []
    pos = start + 1
    while pos < len(text):
        ch = text[pos]
        if ch == "\\":
            nxt = text[pos + 1:pos + 2]
            if nxt not in _ESCAPES:
                raise SoqlError("MALFORMED_QUERY", "Invalid string literal '" + text[start:pos + 2] +
                                "'. Illegal character sequence '\\" + nxt + "' in string literal.", pos)
            chars.append(_ESCAPES[nxt])
            pos += 2
            continue
        if ch == "'":
            return "".join(chars), pos + 1
        chars.append(ch)
        pos += 1
    raise SoqlError("MALFORMED_QUERY", f"line 1:{start} no viable alternative at character \'''", start)


# ------------------------------------------------------------------------------------------------ AST
@dataclass(frozen=True)
class Path:
    parts: tuple[str, ...]
    pos: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Literal:
    kind: str          # string, number, bool, null, datetime, date, constant
    value: object
    pos: int


@dataclass(frozen=True)
class Compare:
    path: Path
    op: str            # = != < <= > >= like in notin
    value: Literal | tuple[Literal, ...]


@dataclass(frozen=True)
class BoolOp:
    op: str            # and, or
    items: tuple


@dataclass(frozen=True)
class Not:
    item: object


@dataclass(frozen=True)
class OrderItem:
    path: Path
    descending: bool
    nulls_last: bool


@dataclass
class Query:
    sobject: str
    sobject_pos: int
    fields: list[Path] = field(default_factory=list)
    count_only: bool = False                  # SELECT COUNT()
    aggregates: list[tuple[Path, str]] = field(default_factory=list)   # COUNT(field) [alias]
    standard_fields: bool = False             # FIELDS(STANDARD)
    where: object | None = None
    order: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def unexpected(self, tok: Token | None = None) -> SoqlError:
        tok = tok or self.tok
        if tok.kind == "eof":
            return SoqlError("MALFORMED_QUERY", "unexpected token: <EOF>", tok.pos)
        shown = tok.value if tok.kind != "string" else f"'{tok.value}'"
        return SoqlError("MALFORMED_QUERY", f"unexpected token: '{shown}'", tok.pos)

    def expect_kw(self, word: str) -> Token:
        if not self.tok.is_kw(word):
            raise self.unexpected()
        return self.advance()

    def expect_punct(self, ch: str) -> Token:
        if not (self.tok.kind == "punct" and self.tok.value == ch):
            raise self.unexpected()
        return self.advance()

    def at_punct(self, ch: str) -> bool:
        return self.tok.kind == "punct" and self.tok.value == ch

    # ----------------------------------------------------------------------------------- clauses
    def parse(self) -> Query:
        self.expect_kw("select")
        q = Query("", 0)
        self._select(q)
        self.expect_kw("from")
        if self.tok.kind != "name" or self.tok.value.lower() in KEYWORDS:
            raise self.unexpected()
        obj = self.advance()
        q.sobject, q.sobject_pos = obj.value, obj.pos
        if self.tok.is_kw("where"):
            self.advance()
            q.where = self._or()
        if self.tok.is_kw("group", "having", "with", "for", "using"):
            raise self.unexpected()
        if self.tok.is_kw("order"):
            self.advance()
            self.expect_kw("by")
            q.order.append(self._order_item())
            while self.at_punct(","):
                self.advance()
                q.order.append(self._order_item())
        if self.tok.is_kw("limit"):
            self.advance()
            q.limit = self._int()
        if self.tok.is_kw("offset"):
            self.advance()
            q.offset = self._int()
        if self.tok.kind != "eof":
            raise self.unexpected()
        return q

    def _select(self, q: Query) -> None:
        if self.tok.is_kw("count") and self.tokens[self.i + 1].value == "(" and self.tokens[self.i + 2].value == ")":
            self.i += 3
            q.count_only = True
            return
        while True:
            if self.tok.is_kw("fields") and self.tokens[self.i + 1].value == "(":
                self.i += 2
                kind = self.advance()
                if not kind.is_kw("standard"):
                    raise SoqlError("MALFORMED_QUERY", f"FIELDS({kind.value}) is not supported here; use FIELDS(STANDARD)",
                                    kind.pos)
                self.expect_punct(")")
                q.standard_fields = True
            elif self.tok.is_kw("count") and self.tokens[self.i + 1].value == "(":
                self.i += 2
                path = self._path()
                self.expect_punct(")")
                alias = None
                if self.tok.kind == "name" and self.tok.value.lower() not in KEYWORDS:
                    alias = self.advance().value
                q.aggregates.append((path, alias or f"expr{len(q.aggregates)}"))
            else:
                if self.tok.kind != "name" or self.tok.value.lower() in ("from",):
                    raise self.unexpected()
                q.fields.append(self._path())
            if not self.at_punct(","):
                break
            self.advance()
        if q.aggregates and q.fields:
            raise SoqlError("MALFORMED_QUERY", f"Field must be grouped or aggregated: {q.fields[0].text}",
                            q.fields[0].pos)

    def _path(self) -> Path:
        tok = self.tok
        if tok.kind != "name":
            raise self.unexpected()
        parts = [self.advance().value]
        while self.at_punct("."):
            self.advance()
            if self.tok.kind != "name":
                raise self.unexpected()
            parts.append(self.advance().value)
        return Path(tuple(parts), tok.pos)

    def _int(self) -> int:
        tok = self.advance()
        if tok.kind != "number" or not tok.value.isdigit():
            raise self.unexpected(tok)
        return int(tok.value)

    def _order_item(self) -> OrderItem:
        path = self._path()
        desc = False
        if self.tok.is_kw("asc", "desc"):
            desc = self.advance().value.lower() == "desc"
        nulls_last = desc
        if self.tok.is_kw("nulls"):
            self.advance()
            if not self.tok.is_kw("first", "last"):
                raise self.unexpected()
            nulls_last = self.advance().value.lower() == "last"
        return OrderItem(path, desc, nulls_last)

    # ------------------------------------------------------------------------------- conditions
    def _or(self):
        items = [self._and()]
        while self.tok.is_kw("or"):
            self.advance()
            items.append(self._and())
            if self.tok.is_kw("and"):
                raise self.unexpected()     # a AND b OR c needs parentheses in SOQL
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def _and(self):
        items = [self._not()]
        while self.tok.is_kw("and"):
            self.advance()
            items.append(self._not())
            if self.tok.is_kw("or"):
                raise self.unexpected()
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def _not(self):
        if self.tok.is_kw("not"):
            self.advance()
            return Not(self._not())
        if self.at_punct("("):
            self.advance()
            inner = self._or()
            self.expect_punct(")")
            return inner
        return self._compare()

    def _compare(self) -> Compare:
        path = self._path()
        tok = self.tok
        if tok.kind == "op":
            self.advance()
            op = {"<>": "!="}.get(tok.value, tok.value)
            return Compare(path, op, self._value())
        if tok.is_kw("like"):
            self.advance()
            value = self._value()
            if value.kind != "string":
                raise SoqlError("MALFORMED_QUERY", "LIKE needs a string value", value.pos)
            return Compare(path, "like", value)
        negate = False
        if tok.is_kw("not"):
            self.advance()
            negate = True
        if self.tok.is_kw("in"):
            self.advance()
            self.expect_punct("(")
            values = [self._value()]
            while self.at_punct(","):
                self.advance()
                values.append(self._value())
            self.expect_punct(")")
            return Compare(path, "notin" if negate else "in", tuple(values))
        raise self.unexpected()

    def _value(self) -> Literal:
        tok = self.advance()
        if tok.kind == "string":
            return Literal("string", tok.value, tok.pos)
        if tok.kind == "number":
            return Literal("number", float(tok.value) if "." in tok.value else int(tok.value), tok.pos)
        if tok.kind in ("datetime", "date"):
            return Literal(tok.kind, tok.value, tok.pos)
        if tok.kind == "name":
            word = tok.value.lower()
            if word in ("true", "false"):
                return Literal("bool", word == "true", tok.pos)
            if word == "null":
                return Literal("null", None, tok.pos)
            if word in DATE_CONSTANTS:
                n = None
                if word.endswith("_n_days"):
                    self.expect_punct(":")
                    n = self._int()
                return Literal("constant", (word, n), tok.pos)
        raise self.unexpected(tok)


def parse(text: str) -> Query:
    """Parse a SOQL statement; raises :class:`SoqlError`."""
    return Parser(text).parse()
