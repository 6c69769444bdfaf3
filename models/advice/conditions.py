"""A small, safe condition language for the knowledge base (no eval of Python).

A condition is YAML data:

    all: [cond, ...]            every one holds
    any: [cond, ...]            at least one holds
    not: cond                   negation
    missing: VAR                the variable has no value
    present: VAR                the variable has a value
    fired: RULE-ID              an earlier rule fired (rules are evaluated in file order)
    VAR: true | false | "text"  equality shorthand
    VAR: {lt|le|gt|ge|eq|ne: value, in|not_in: [values]}   comparisons, all must hold

A comparison on a variable with no value is false (so `not` of it is true): rules that
must not fire on missing data say `present: VAR` explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from models.advice.variables import VARIABLES, Scalar, Var

_NUMERIC_OPS: dict[str, Callable[[float, float], bool]] = {
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}
_ALL_OPS = frozenset({*_NUMERIC_OPS, "eq", "ne", "in", "not_in"})


class ConditionError(ValueError):
    """The knowledge base holds a condition this language cannot express."""


@dataclass(frozen=True)
class Outcome:
    holds: bool
    used: frozenset[str]  # variables that made it hold (for facts_used)


class Condition:
    def evaluate(self, env: Mapping[str, Var], fired: frozenset[str]) -> Outcome:
        raise NotImplementedError

    def variables(self) -> frozenset[str]:
        raise NotImplementedError

    def rule_refs(self) -> frozenset[str]:
        return frozenset()


@dataclass(frozen=True)
class All(Condition):
    children: tuple[Condition, ...]

    def evaluate(self, env: Mapping[str, Var], fired: frozenset[str]) -> Outcome:
        used: set[str] = set()
        for c in self.children:
            o = c.evaluate(env, fired)
            if not o.holds:
                return Outcome(False, frozenset())
            used |= o.used
        return Outcome(True, frozenset(used))

    def variables(self) -> frozenset[str]:
        return frozenset().union(*(c.variables() for c in self.children))

    def rule_refs(self) -> frozenset[str]:
        return frozenset().union(*(c.rule_refs() for c in self.children))


@dataclass(frozen=True)
class AnyOf(Condition):
    children: tuple[Condition, ...]

    def evaluate(self, env: Mapping[str, Var], fired: frozenset[str]) -> Outcome:
        outcomes = [c.evaluate(env, fired) for c in self.children]
        true = [o for o in outcomes if o.holds]
        return Outcome(bool(true), frozenset().union(*(o.used for o in true)))

    def variables(self) -> frozenset[str]:
        return frozenset().union(*(c.variables() for c in self.children))

    def rule_refs(self) -> frozenset[str]:
        return frozenset().union(*(c.rule_refs() for c in self.children))


@dataclass(frozen=True)
class Not(Condition):
    child: Condition

    def evaluate(self, env: Mapping[str, Var], fired: frozenset[str]) -> Outcome:
        o = self.child.evaluate(env, fired)
        used = frozenset(v for v in self.child.variables() if v in env)
        return Outcome(not o.holds, used if not o.holds else frozenset())

    def variables(self) -> frozenset[str]:
        return self.child.variables()

    def rule_refs(self) -> frozenset[str]:
        return self.child.rule_refs()


@dataclass(frozen=True)
class Presence(Condition):
    var: str
    want_present: bool

    def evaluate(self, env: Mapping[str, Var], fired: frozenset[str]) -> Outcome:
        present = self.var in env
        holds = present == self.want_present
        return Outcome(holds, frozenset({self.var}) if holds and present else frozenset())

    def variables(self) -> frozenset[str]:
        return frozenset({self.var})


@dataclass(frozen=True)
class Fired(Condition):
    rule_id: str

    def evaluate(self, env: Mapping[str, Var], fired: frozenset[str]) -> Outcome:
        return Outcome(self.rule_id in fired, frozenset())

    def variables(self) -> frozenset[str]:
        return frozenset()

    def rule_refs(self) -> frozenset[str]:
        return frozenset({self.rule_id})


@dataclass(frozen=True)
class Compare(Condition):
    var: str
    op: str
    operand: Scalar | tuple[Scalar, ...]

    def evaluate(self, env: Mapping[str, Var], fired: frozenset[str]) -> Outcome:
        v = env.get(self.var)
        if v is None:
            return Outcome(False, frozenset())
        holds = _compare(v.value, self.op, self.operand)
        return Outcome(holds, frozenset({self.var}) if holds else frozenset())

    def variables(self) -> frozenset[str]:
        return frozenset({self.var})


def _compare(value: Scalar, op: str, operand: Scalar | tuple[Scalar, ...]) -> bool:
    if op in _NUMERIC_OPS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        assert isinstance(operand, int | float)
        return _NUMERIC_OPS[op](float(value), float(operand))
    if op == "eq":
        return value == operand
    if op == "ne":
        return value != operand
    assert isinstance(operand, tuple)
    return (value in operand) if op == "in" else (value not in operand)


def parse_condition(raw: Any, where: str) -> Condition:
    """YAML data -> Condition, with an error naming `where` on anything unexpected."""
    if not isinstance(raw, dict) or not raw:
        raise ConditionError(f"{where}: a condition must be a non-empty mapping")
    if len(raw) == 1:
        ((key, val),) = raw.items()
        return _parse_one(str(key), val, where)
    # Several keys in one mapping: an implicit `all`.
    return All(tuple(_parse_one(str(k), v, where) for k, v in raw.items()))


def _parse_one(key: str, val: Any, where: str) -> Condition:
    if key in ("all", "any"):
        if not isinstance(val, list) or not val:
            raise ConditionError(f"{where}: `{key}` needs a non-empty list")
        kids = tuple(parse_condition(v, f"{where}.{key}[{i}]") for i, v in enumerate(val))
        return All(kids) if key == "all" else AnyOf(kids)
    if key == "not":
        return Not(parse_condition(val, f"{where}.not"))
    if key in ("missing", "present"):
        _check_var(str(val), where)
        return Presence(str(val), want_present=key == "present")
    if key == "fired":
        return Fired(str(val))
    _check_var(key, where)
    kind = VARIABLES[key]
    if not isinstance(val, dict):
        _check_operand(kind, "eq", val, f"{where}.{key}")
        return Compare(key, "eq", val)
    parts: list[Condition] = []
    for op, operand in val.items():
        if op not in _ALL_OPS:
            raise ConditionError(f"{where}.{key}: unknown operator `{op}`")
        if op in ("in", "not_in"):
            if not isinstance(operand, list) or not operand:
                raise ConditionError(f"{where}.{key}.{op}: needs a non-empty list")
            for o in operand:
                _check_operand(kind, "eq", o, f"{where}.{key}.{op}")
            parts.append(Compare(key, op, tuple(operand)))
        else:
            _check_operand(kind, op, operand, f"{where}.{key}.{op}")
            parts.append(Compare(key, op, operand))
    if not parts:
        raise ConditionError(f"{where}.{key}: no operator given")
    return parts[0] if len(parts) == 1 else All(tuple(parts))


def _check_var(name: str, where: str) -> None:
    if name not in VARIABLES:
        raise ConditionError(f"{where}: unknown variable `{name}`")


def _check_operand(kind: str, op: str, operand: Any, where: str) -> None:
    if op in _NUMERIC_OPS and kind != "number":
        raise ConditionError(f"{where}: `{op}` needs a numeric variable")
    ok = {
        "number": isinstance(operand, int | float) and not isinstance(operand, bool),
        "bool": isinstance(operand, bool),
        "str": isinstance(operand, str),
    }[kind]
    if not ok:
        raise ConditionError(f"{where}: operand {operand!r} does not fit a {kind} variable")
