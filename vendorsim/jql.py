"""A JQL subset: project/key/id/status/labels/summary/created/updated clauses, AND/OR/NOT, ORDER BY."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Callable

from vendorsim.store import Item, Snapshot
from vendorsim.timeutil import parse_jql_date

Predicate = Callable[[Item, Snapshot], bool]
TOKEN = re.compile(r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<op>>=|<=|!=|!~|=|>|<|~)"""
                   r"""|(?P<punct>[(),])|(?P<word>[^\s()=<>!~,"']+)|(?P<bad>["']))""")
KEYWORDS = {"AND", "OR", "NOT", "IN", "IS", "EMPTY", "NULL", "ORDER", "BY", "ASC", "DESC"}
ALIASES = {"issuekey": "key", "updateddate": "updated", "createddate": "created", "text": "summary"}
DATE_FORMATS = ("Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', "
                "or a period format e.g. '-5d', '4w 2d'.")
SORTS: dict[str, Callable[[Item, Snapshot], Any]] = {
    "updated": lambda item, snap: snap.updated, "created": lambda item, snap: item.created,
    "key": lambda item, snap: (item.group, snap.body["_seq"]), "id": lambda item, snap: item.num,
    "project": lambda item, snap: item.group, "summary": lambda item, snap: snap.body["summary"].lower(),
}


class JqlError(ValueError):
    """An invalid query; the messages are what Jira puts in errorMessages (one per problem)."""

    def __init__(self, *messages: str) -> None:
        """Keep every message; str() is the first."""
        super().__init__(messages[0] if messages else "")
        self.messages = list(messages)


Exists = Callable[[str], bool]  # is there an issue with this id or key (that the user can see)?


@dataclass
class Jql:
    """A parsed query: where-predicate (None = unbounded), ORDER BY list and the projects it names."""

    where: Predicate | None
    order: list[tuple[str, bool]]
    projects: list[str]

    def sort(self, rows: list[tuple[Item, Snapshot]]) -> None:
        """Sort rows in place by the ORDER BY clause (default key DESC), ties by id ASC."""
        rows.sort(key=lambda row: row[0].num)
        for name, desc in reversed(self.order or [("key", True)]):
            rows.sort(key=lambda row, fn=SORTS[name]: fn(*row), reverse=desc)

    def sort_key(self, row: tuple[Item, Snapshot]) -> tuple[Any, ...]:
        """What the ORDER BY clause compares: rows equal here are ties Jira may return in any order."""
        return tuple(SORTS[name](*row) for name, _ in self.order or [("key", True)])


def tokenize(text: str) -> list[tuple[str, str]]:
    """Split JQL into (kind, text) tokens."""
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if match is None or match.lastgroup == "bad":
            raise JqlError(f"Error in the JQL Query: The quoted string '{text[pos:].strip()}' has not been completed."
                           f" (line 1, character {pos + 1})")
        kind = match.lastgroup or "word"
        value = match.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        elif kind == "word" and value.upper() in KEYWORDS:
            kind, value = "kw", value.upper()
        tokens.append((kind, value))
        pos = match.end()
    return tokens


class Parser:
    """Recursive-descent parser producing a Jql."""

    def __init__(self, text: str, projects: dict[str, str], zone: tzinfo, now: datetime,
                 exists: Exists | None = None) -> None:
        """Prepare tokens; projects maps lower-cased key/name/id to the project key; with `exists`, an id/key
        comparison naming no issue is an error, as Jira makes it."""
        self.tokens = tokenize(text)
        self.pos = 0
        self.projects, self.zone, self.now, self.exists = projects, zone, now, exists
        self.named: list[str] = []

    def parse(self) -> Jql:
        """Parse the whole query."""
        where = None if self._at("kw", "ORDER") or not self.tokens else self._or()
        order: list[tuple[str, bool]] = []
        if self._at("kw", "ORDER"):
            self._next()
            self._expect("kw", "BY")
            order = self._order()
        if self.pos < len(self.tokens):
            got = self.tokens[self.pos][1]
            raise JqlError(f"Error in the JQL Query: Expecting either 'OR' or 'AND' but got '{got}'.")
        return Jql(where, order, self.named)

    def _at(self, kind: str, value: str | None = None) -> bool:
        """True when the next token has this kind (and value)."""
        if self.pos >= len(self.tokens):
            return False
        tkind, tvalue = self.tokens[self.pos]
        return tkind == kind and (value is None or tvalue == value)

    def _next(self) -> tuple[str, str]:
        """Consume one token."""
        if self.pos >= len(self.tokens):
            raise JqlError("Error in the JQL Query: Expecting a field name, operator or value but reached the end.")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def _expect(self, kind: str, value: str) -> None:
        """Consume a required token."""
        if not self._at(kind, value):
            raise JqlError(f"Error in the JQL Query: Expecting '{value}' (line 1).")
        self.pos += 1

    def _or(self) -> Predicate:
        """expr := conj (OR conj)*."""
        left = self._and()
        while self._at("kw", "OR"):
            self._next()
            right, first = self._and(), left
            left = lambda item, snap, a=first, b=right: a(item, snap) or b(item, snap)  # noqa: E731
        return left

    def _and(self) -> Predicate:
        """conj := unary (AND unary)*."""
        left = self._unary()
        while self._at("kw", "AND"):
            self._next()
            right, first = self._unary(), left
            left = lambda item, snap, a=first, b=right: a(item, snap) and b(item, snap)  # noqa: E731
        return left

    def _unary(self) -> Predicate:
        """unary := NOT unary | '(' expr ')' | clause."""
        if self._at("kw", "NOT"):
            self._next()
            inner = self._unary()
            return lambda item, snap: not inner(item, snap)
        if self._at("punct", "("):
            self._next()
            inner = self._or()
            self._expect("punct", ")")
            return inner
        return self._clause()

    def _clause(self) -> Predicate:
        """clause := field op value | field [NOT] IN (values) | field IS [NOT] EMPTY."""
        kind, name = self._next()
        if kind not in ("word", "str"):
            raise JqlError(f"Error in the JQL Query: Expecting a field name but got '{name}'.")
        field = ALIASES.get(name.lower(), name.lower())
        if self._at("kw", "IS"):
            self._next()
            negate = self._at("kw", "NOT") and bool(self._next())
            if not (self._at("kw", "EMPTY") or self._at("kw", "NULL")):
                raise JqlError("Error in the JQL Query: Expecting 'EMPTY' or 'NULL' after 'IS'.")
            self._next()
            getter = FIELD_VALUE.get(field) or _unknown(field)
            return lambda item, snap: negate != (not getter(item, snap))
        if self._at("kw", "NOT") or self._at("kw", "IN"):
            negate = self._at("kw", "NOT") and bool(self._next())
            self._expect("kw", "IN")
            return self._compile(field, "not in" if negate else "in", self._list())
        kind, op = self._next()
        if kind != "op":
            raise JqlError(f"Error in the JQL Query: Expecting operator but got '{op}'.")
        kind, value = self._next()
        return self._compile(field, op, [value])

    def _list(self) -> list[str]:
        """( value, value, ... )."""
        self._expect("punct", "(")
        values = []
        while not self._at("punct", ")"):
            values.append(self._next()[1])
            if self._at("punct", ","):
                self._next()
        self._next()
        return values

    def _order(self) -> list[tuple[str, bool]]:
        """ORDER BY field [ASC|DESC], ... (at most 7)."""
        order = []
        while True:
            raw = self._next()[1].lower()
            name = ALIASES.get(raw, raw)
            if name not in SORTS:
                raise JqlError(f"Not able to sort using field '{name}'.")
            desc = self._at("kw", "DESC")
            if self._at("kw", "ASC") or desc:
                self._next()
            order.append((name, desc))
            if not self._at("punct", ","):
                break
            self._next()
        if len(order) > 7:
            raise JqlError("The ORDER BY clause can contain a maximum of 7 fields.")
        return order

    def _compile(self, field: str, op: str, values: list[str]) -> Predicate:
        """Turn one clause into a predicate."""
        if field in ("updated", "created"):
            return _date_clause(field, op, [self._date(field, value) for value in values])
        if field == "project":
            values = [self._project(value) for value in values]
        if field in ("id", "key") and self.exists is not None:
            missing = [value for value in values if not self.exists(value)]
            if missing:
                raise JqlError(*[f"An issue with key '{value}' does not exist for field '{field}'."
                                 for value in missing])
        getter = FIELD_VALUE.get(field) or _unknown(field)
        wanted = {value.lower() for value in values}
        if op in ("=", "in"):
            return lambda item, snap: _has(getter(item, snap), wanted)
        if op in ("!=", "not in"):
            return lambda item, snap: not _has(getter(item, snap), wanted)
        if op in ("~", "!~"):
            return lambda item, snap: (values[0].lower() in str(getter(item, snap)).lower()) == (op == "~")
        if field == "id":
            return _date_clause("id", op, [int(values[0])]) if values[0].isdigit() else _unknown("id")
        raise JqlError(f"The operator '{op}' is not supported by the '{field}' field.")

    def _date(self, field: str, value: str) -> datetime:
        """Resolve a date operand (user timezone for literals, absolute for epoch ms)."""
        moment = parse_jql_date(value, self.zone, self.now)
        if moment is None:
            raise JqlError(f"Date value '{value}' for field '{field}' is invalid. {DATE_FORMATS}")
        return moment

    def _project(self, value: str) -> str:
        """Resolve a project key, name or id; unknown values are an error like Jira's."""
        key = self.projects.get(value.lower())
        if key is None:
            raise JqlError(f"The value '{value}' does not exist for the field 'project'.")
        self.named.append(key)
        return key.lower()


def _has(actual: Any, wanted: set[str]) -> bool:
    """Case-insensitive membership that also handles list fields such as labels."""
    if isinstance(actual, list):
        return any(str(value).lower() in wanted for value in actual)
    return actual is not None and str(actual).lower() in wanted


def _unknown(field: str) -> Any:
    """Raise the error Jira gives for an unknown field."""
    raise JqlError(f"Field '{field}' does not exist or you do not have permission to view it.")


def _date_clause(field: str, op: str, values: list[Any]) -> Predicate:
    """Comparison on updated/created/id."""
    getter = FIELD_VALUE[field]
    compare = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
               "<": lambda a, b: a < b, "=": lambda a, b: a == b, "!=": lambda a, b: a != b}.get(op)
    if compare is None or len(values) != 1:
        raise JqlError(f"The operator '{op}' is not supported by the '{field}' field.")
    return lambda item, snap: compare(getter(item, snap), values[0])


FIELD_VALUE: dict[str, Callable[[Item, Snapshot], Any]] = {
    "project": lambda item, snap: item.group,
    "key": lambda item, snap: [item.ext_id, *snap.body.get("_old_keys", ())],  # a moved issue keeps its old keys
    "id": lambda item, snap: item.num, "updated": lambda item, snap: snap.updated,
    "created": lambda item, snap: item.created, "status": lambda item, snap: snap.body["_status"][1],
    "statuscategory": lambda item, snap: snap.body["_status"][2], "labels": lambda item, snap: snap.body["labels"],
    "summary": lambda item, snap: snap.body["summary"],
    "assignee": lambda item, snap: (snap.body["_assignee"] or {}).get("accountId"),
}


def parse(text: str, projects: dict[str, str], zone: tzinfo, now: datetime, exists: Exists | None = None) -> Jql:
    """Parse JQL into a Jql or raise JqlError."""
    return Parser(text or "", projects, zone, now, exists).parse()
