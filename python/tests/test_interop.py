"""One on-disk format for C and Python: pipeline checkpoints resume across the two, a
Python-written root verifies with the CLI, a CLI-written root restores in Python, and the
seed's SynthPix loop (make, train, save_checkpoint, make(load_from)) continues byte for
byte, also in a new process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import synthpix
from test_sampler import same_batch


@pytest.fixture
def tool() -> str:
    path = os.environ.get("SP_RESUME_TOOL", "")
    if not os.access(path, os.X_OK):
        pytest.skip("the C resume tool of this build is not available (SP_RESUME_TOOL)")
    return path


def config_file(small, tmp_path: Path) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(synthpix.Config(small()).yaml)
    return path


def batch_bytes(b: synthpix.Batch) -> bytes:
    return b.images1.tobytes() + b.images2.tobytes() + b.flow_fields.tobytes()


def test_python_checkpoint_resumes_in_c_and_c_checkpoint_in_python(small, tmp_path, tool):
    cfg = config_file(small, tmp_path)
    with synthpix.make(cfg) as ref:
        reference = [next(ref) for _ in range(6)]
    # Python saves after 3 batches; the C API restores and renders batch 3.
    with synthpix.make(cfg) as s:
        for _ in range(3):
            next(s)
        synthpix.save_checkpoint(checkpoint_dir=tmp_path / "py", sampler=s, step=3, max_to_keep=3)
    subprocess.run([tool, "next", str(cfg), str(tmp_path / "py"), str(tmp_path / "c.bin")], check=True)
    assert (tmp_path / "c.bin").read_bytes() == batch_bytes(reference[3])
    # C saves after 5 batches; Python restores and renders batch 5.
    subprocess.run([tool, "save", str(cfg), str(tmp_path / "c"), "5", "5"], check=True)
    with synthpix.make(cfg, load_from=tmp_path / "c") as s:
        assert s.restored_step == 5 and same_batch(next(s), reference[5])


def test_python_root_verifies_with_the_cli_and_cli_root_restores_in_python(small, tmp_path, cli):
    with synthpix.checkpoint.CheckpointManager(tmp_path / "py") as mgr:
        mgr.save(0, {"w": np.arange(10.0), "meta": {"lr": 0.1}})
    out = subprocess.run([cli, "ckpt", "verify", str(tmp_path / "py")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    inspect = subprocess.run([cli, "ckpt", "inspect", str(tmp_path / "py")], capture_output=True, text=True,
                             check=True).stdout
    assert "w" in inspect and "float64" in inspect
    # A root written by `synthpix generate --checkpoint-dir`.
    cfg = config_file(small, tmp_path)
    subprocess.run([cli, "generate", "-c", str(cfg), "-n", "12", "-o", str(tmp_path / "data"), "--checkpoint-dir",
                    str(tmp_path / "gen.ckpt"), "--checkpoint-every", "1"], check=True, capture_output=True)
    opts = synthpix.checkpoint.CheckpointManagerOptions(read_only=True, detect_naming=True)
    with synthpix.checkpoint.CheckpointManager(tmp_path / "gen.ckpt", options=opts) as mgr:
        tree = mgr.restore()
        assert mgr.verify() == []
    assert tree["loader"]["seed"] == 7 and "user" in tree
    with synthpix.make(cfg, load_from=tmp_path / "gen.ckpt") as s:  # the stream the CLI was writing
        b = next(s)
    with synthpix.make(cfg) as ref:
        ref.skip(b.batch_index)
        assert same_batch(b, next(ref))


SEED_LOOP = """
import sys, numpy as np, synthpix
config_path, ckpt, phase = sys.argv[1], sys.argv[2], sys.argv[3]
sampler = synthpix.make(config_path, load_from=ckpt if phase == "resume" else None)
for step, batch in zip(range(3), sampler):
    np.save(f"{ckpt}.{phase}.{step}.npy", np.concatenate([batch.images1.ravel(), batch.flow_fields.ravel()]))
    if phase == "first" and step == 1:
        synthpix.save_checkpoint(checkpoint_dir=ckpt, sampler=sampler, step=step, max_to_keep=3)
"""


def test_seed_loop_resumes_in_a_new_process(small, tmp_path):
    """The seed's loop: make(config_path), a training-style loop that saves at step 1 with
    save_checkpoint(checkpoint_dir=..., sampler=..., step=..., max_to_keep=3), then a new
    process that makes the sampler with load_from: its batches are the first run's next
    ones, byte for byte."""
    cfg = config_file(small, tmp_path)
    ckpt = str(tmp_path / "ckpt")
    for phase in ("first", "resume"):
        subprocess.run([sys.executable, "-c", SEED_LOOP, str(cfg), ckpt, phase], check=True)
    with synthpix.make(cfg) as ref:
        want = [np.concatenate([b.images1.ravel(), b.flow_fields.ravel()]) for b in [next(ref) for _ in range(5)]]
    for step in range(3):
        assert np.array_equal(np.load(f"{ckpt}.first.{step}.npy"), want[step])
        assert np.array_equal(np.load(f"{ckpt}.resume.{step}.npy"), want[2 + step])


def test_yaml_text_and_bad_input_writes_nothing(small, tmp_path):
    text = synthpix.Config(small()).yaml
    with synthpix.make(text) as a, synthpix.make(small()) as b:
        assert same_batch(next(a), next(b))
    with pytest.raises(synthpix.ConfigError, match="batch_size"):
        synthpix.make(text.replace("batch_size: 4", "batch_size: -1"), load_from=tmp_path / "never")
    with pytest.raises(synthpix.CheckpointError):
        with synthpix.make(small()) as s:
            synthpix.save_checkpoint(tmp_path / "file", s, -1)
    with pytest.raises(TypeError, match="object"):
        synthpix.checkpoint.CheckpointManager(tmp_path / "m").save(0, {"x": object()})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"] and not any(
        p.name[0].isdigit() for p in (tmp_path / "m").iterdir())


def test_generate_writes_what_the_cli_writes_and_resumes(small, tmp_path, cli):
    cfg = config_file(small, tmp_path)
    subprocess.run([cli, "generate", "-c", str(cfg), "-n", "10", "--format", "npy", "-o", str(tmp_path / "cli")],
                   check=True, capture_output=True)
    r = synthpix.generate(cfg, tmp_path / "py", 10, format="npy", checkpoint_dir=tmp_path / "py.ckpt",
                          checkpoint_every=1)
    assert r["pairs_written"] == 10 and r["pairs_this_run"] == 10 and not r["already_complete"]
    names = sorted(p.name for p in (tmp_path / "cli").iterdir() if p.name.startswith("pair_"))
    assert len(names) == 30 and names == sorted(p.name for p in (tmp_path / "py").iterdir() if p.name.startswith("pair_"))
    for name in names + ["params.jsonl"]:
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "py" / name).read_bytes(), name
    again = synthpix.generate(cfg, tmp_path / "py", 10, format="npy", checkpoint_dir=tmp_path / "py.ckpt",
                              checkpoint_every=1, resume=True)
    assert again["already_complete"] and again["pairs_this_run"] == 0
    with pytest.raises(synthpix.DatasetError, match="already holds checkpoints") as e:
        synthpix.generate(cfg, tmp_path / "py", 10, format="npy", checkpoint_dir=tmp_path / "py.ckpt")
    assert isinstance(e.value, OSError)
    with pytest.raises(synthpix.ConfigError, match="batch_size"):
        synthpix.generate(small(batch_size=0), tmp_path / "never", 4)
    with pytest.raises(ValueError, match="format"):
        synthpix.generate(cfg, tmp_path / "never", 4, format="gif")
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("layout, extra", [("cai", ["--split", "0.5", "--case", "run"]), ("pykitpiv", []),
                                           ("liteflownet", ["--split", "0.5"])])
def test_generate_layouts_write_what_the_cli_writes(small, tmp_path, cli, layout, extra):
    if layout != "cai" and not synthpix.features()["hdf5"]:
        pytest.skip("built without libhdf5")
    cfg = config_file(small, tmp_path)
    subprocess.run([cli, "generate", "-c", str(cfg), "-n", "10", "--layout", layout, "-o", str(tmp_path / "cli")] + extra,
                   check=True, capture_output=True)
    kw = {"split": 0.5} if layout != "pykitpiv" else {}
    if layout == "cai":
        kw["case"] = "run"
    r = synthpix.generate(cfg, tmp_path / "py", 10, layout=layout, **kw)
    assert r["pairs_written"] == 10
    names = sorted(p.name for p in (tmp_path / "cli").iterdir() if not p.name.startswith("."))
    assert names == sorted(p.name for p in (tmp_path / "py").iterdir() if not p.name.startswith("."))
    for name in names:
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "py" / name).read_bytes(), name


def test_generate_layout_arguments_are_checked(small, tmp_path):
    cfg = config_file(small, tmp_path)
    with pytest.raises(ValueError, match="layout 'foo': expected synthpix, cai, pykitpiv or liteflownet"):
        synthpix.generate(cfg, tmp_path / "never", 4, layout="foo")
    with pytest.raises(ValueError, match="split does not apply to the pykitpiv layout"):
        synthpix.generate(cfg, tmp_path / "never", 4, layout="pykitpiv", split=0.2)
    with pytest.raises(ValueError, match="format does not apply to the cai layout"):
        synthpix.generate(cfg, tmp_path / "never", 4, layout="cai", format="tiff")
    with pytest.raises(ValueError, match="case does not apply to the liteflownet layout"):
        synthpix.generate(cfg, tmp_path / "never", 4, layout="liteflownet", case="x")
    with pytest.raises(ValueError, match=r"split 2 is not in \[0, 1\]"):
        synthpix.generate(cfg, tmp_path / "never", 4, layout="cai", split=2)
    with pytest.raises(synthpix.ConfigError, match="case name 'a b' is not 1 to 64 characters"):
        synthpix.generate(cfg, tmp_path / "never", 4, layout="cai", case="a b")
    assert not (tmp_path / "never").exists()
