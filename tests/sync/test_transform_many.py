"""A page's property transforms in one crossing into JS per property (core.sync.transform.transform_many): the same
targets and the same per-record errors as one call per record, and scripts that reach the host stay per record."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.sync.mapping import SyncConfig
from core.sync.scriptenv import ScriptEnv
from core.sync.scripts import ScriptEngine, ScriptError
from core.sync.transform import apply_properties, transform_many


def mapping(tmp_path: Path, alias: str, *, condition: bool = False):
    prop = {"target": "Alias", "source": "givenName", "transform": {"type": "text/javascript", "source": alias}}
    if condition:
        prop["condition"] = {"type": "text/javascript", "source": "object.givenName !== 'Skip'"}
    return SyncConfig.from_data({"mappings": [{
        "name": "out", "source": "managed/user", "target": "managed/account",
        "properties": [{"target": "Username", "source": "userName"}, prop,
                       {"target": "Whole", "source": "", "transform": {"type": "text/javascript",
                                                                         "source": "source.userName + '!'"}},
                       {"target": "Locale", "default": "en_US"}]}]}, path=tmp_path / "sync.json").mappings[0]


SOURCES = [{"userName": "ada", "givenName": "Augusta Ada"}, {"userName": "bob", "givenName": None},
           {"userName": "cy", "givenName": "Cy"}]


def test_the_batch_gives_what_one_call_per_record_gives(tmp_path):
    m = mapping(tmp_path, "source === null ? null : source.substring(0, 8)")
    engine = ScriptEngine()
    batch = transform_many(m, engine, SOURCES)
    assert set(batch[0]) == {1, 2}  # the two transforms, by property index
    for source, done in zip(SOURCES, batch, strict=True):
        assert apply_properties(m, engine, source, {"x": 1}, transformed=done) == \
            apply_properties(m, engine, source, {"x": 1})
    assert apply_properties(m, engine, SOURCES[0], None, transformed=batch[0]) == {
        "Username": "ada", "Alias": "Augusta ", "Whole": "ada!", "Locale": "en_US"}


def test_a_record_whose_transform_throws_fails_alone_with_the_same_message(tmp_path):
    m = mapping(tmp_path, "source.substring(0, 8)")  # throws for bob (givenName null)
    engine = ScriptEngine()
    batch = transform_many(m, engine, SOURCES)
    with pytest.raises(ScriptError) as one:
        apply_properties(m, engine, SOURCES[1], None)
    with pytest.raises(ScriptError) as batched:
        apply_properties(m, engine, SOURCES[1], None, transformed=batch[1])
    assert str(batched.value) == str(one.value)
    assert "cannot read property 'substring' of null" in str(one.value)
    assert apply_properties(m, engine, SOURCES[2], None, transformed=batch[2])["Alias"] == "Cy"


def test_conditional_and_host_scripts_are_left_to_the_record(tmp_path):
    engine = ScriptEngine(env=ScriptEnv())
    assert 1 not in transform_many(mapping(tmp_path, "source", condition=True), engine, SOURCES)[0]
    assert 1 not in transform_many(mapping(tmp_path, "logger.info('x'); source"), engine, SOURCES)[0]
