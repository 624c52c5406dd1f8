"""The codec's NaN/Infinity check: orjson writes them as null, so a value holding one is written by json."""

from __future__ import annotations

import json

import pytest

from core.repo.jsoncodec import _has_non_finite, encode, encode_any


class Num(float):
    pass


class Doc(dict):
    pass


@pytest.mark.parametrize(("value", "expected"), [
    (float("nan"), True), (1.5, False), (None, False), ("nan", False), (True, False),
    ([1, {"a": (2.0, [float("-inf")])}], True), ({"a": None, "b": "x", "c": [1, 2]}, False),
    (Doc(x=Num("inf")), True), ([Num(1.5)], False), ({"k": [[[float("inf")]]]}, True),
    ([{"a": None}] * 3 + [{"b": [float("nan")]}], True),
])
def test_non_finite_floats_are_found_at_any_depth(value, expected):
    assert _has_non_finite(value) is expected


def test_a_value_with_nan_is_written_as_json_writes_it():
    value = {"a": None, "b": [1.0, float("nan")], "c": float("inf")}
    assert encode(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    assert encode_any(value) == '{"a":null,"b":[1.0,NaN],"c":Infinity}'
    assert encode({"a": None, "b": 1.0}) == '{"a":null,"b":1.0}'
