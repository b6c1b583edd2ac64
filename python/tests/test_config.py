"""Configurations: every source, every error as one ConfigError with the C messages."""

from __future__ import annotations

import warnings

import pytest

import synthpix


def test_default_config_loads_and_resolves_every_key():
    cfg = synthpix.Config()
    assert "batch_size: 8" in cfg.yaml
    assert 'scheduler_class: "analytic"' in cfg.yaml
    assert "analytic_flow" in synthpix.default_config_yaml()


def test_dict_file_and_yaml_text_give_the_same_configuration(small, tmp_path):
    from_dict = synthpix.Config(small())
    path = tmp_path / "c.yaml"
    path.write_text(from_dict.yaml)
    from_file = synthpix.Config(path)
    from_text = synthpix.Config.from_yaml(from_dict.yaml)
    def body(c):  # the resolved keys, without the header naming the source
        return c.yaml.split("\n", 1)[1]

    assert body(from_file) == body(from_dict) == body(from_text)
    assert str(path) in from_file.source


def test_config_error_is_a_value_error_naming_every_key_and_position(small, tmp_path):
    with pytest.raises(synthpix.ConfigError) as e:
        synthpix.Config(small(batch_size=0, dt=-1))
    assert isinstance(e.value, ValueError)
    assert "batch_size" in str(e.value) and "dt" in str(e.value)
    assert "<dict>" in str(e.value)
    keys = {d["key"] for d in e.value.diagnostics if d["level"] == "error"}
    assert {"batch_size", "dt"} <= keys
    # From a file: the file name and the line of the value.
    path = tmp_path / "bad.yaml"
    path.write_text(synthpix.Config(small()).yaml.replace("batch_size: 4", "batch_size: -3"))
    with pytest.raises(synthpix.ConfigError) as e:
        synthpix.Config(path)
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if t.startswith("batch_size"))
    assert f"bad.yaml:{line}:" in str(e.value) and "-3" in str(e.value)


def test_unknown_key_warns_with_the_nearest_key(small):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        synthpix.Config(small(batch_sise=4))
    msgs = [str(x.message) for x in w if issubclass(x.category, synthpix.ConfigWarning)]
    assert any("batch_size" in m for m in msgs), msgs


def test_missing_file_and_wrong_types():
    with pytest.raises(FileNotFoundError, match="no-such.yaml"):
        synthpix.Config("no-such.yaml")
    with pytest.raises(TypeError):
        synthpix.Config(5)  # type: ignore[arg-type]
