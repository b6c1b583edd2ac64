"""The generation loop: batches, their array contract, errors, episodes, shards."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

import synthpix
from conftest import npy_config, write_flow

ARRAYS = ("images1", "images2", "flow_fields", "params", "keys", "seeds", "epoch", "mask", "records")


def same_batch(a: synthpix.Batch, b: synthpix.Batch) -> bool:
    return (
        all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ARRAYS)
        and a.files == b.files
        and (a.batch_index, a.first_pair, a.repetition, a.timestep) == (b.batch_index, b.first_pair, b.repetition, b.timestep)
    )


def test_batch_shapes_dtypes_and_fields(small):
    with synthpix.make(small()) as s:
        b = next(s)
        assert s.batch_size == 4 and s.image_shape == (64, 64) and s.flow_shape == (64, 64, 2)
    assert b.images1.shape == b.images2.shape == (4, 64, 64) and b.images1.dtype == np.float32
    assert b.flow_fields.shape == (4, 64, 64, 2) and b.flow_fields.dtype == np.float32
    assert b.params.dtype == synthpix.PARAMS_DTYPE and b.params["diameter_range"].shape == (4, 2)
    assert b.keys.shape == (4, 2) and b.keys.dtype == np.uint32
    assert b.mask.dtype == np.bool_ and b.mask.all()
    assert b.seeds.dtype == np.uint32 and b.epoch.dtype == np.int32 and b.records.dtype == np.uint64
    assert len(b.files) == 4 and all(f.startswith("analytic://") for f in b.files)
    assert b.done is None and b.timestep is None and b.batch_index == 0 and b.first_pair == 0
    assert 0 < b.images1.max() <= 255 and (b.params["particles"] > 0).all()


def test_stream_is_deterministic_and_independent_of_threads(small):
    with synthpix.make(small(), threads=1) as a, synthpix.make(small(), threads=2) as b:
        for _ in range(3):
            assert same_batch(next(a), next(b))


def test_batches_equal_what_the_cli_writes(small, tmp_path, cli):
    """The binding adds nothing and drops nothing: pair n of the Python stream is the pair
    n that `synthpix generate --format npy` writes, bit for bit."""
    cfg = synthpix.Config(small())
    path = tmp_path / "c.yaml"
    path.write_text(cfg.yaml)
    out = tmp_path / "out"
    subprocess.run([cli, "generate", "-c", str(path), "-n", "8", "--format", "npy", "-o", str(out)],
                   check=True, capture_output=True)
    with synthpix.make(cfg) as s:
        batches = [next(s), next(s)]
    for n in range(8):
        b, k = batches[n // 4], n % 4
        assert np.array_equal(np.load(out / f"pair_{n:06d}_img1.npy"), b.images1[k])
        assert np.array_equal(np.load(out / f"pair_{n:06d}_img2.npy"), b.images2[k])
        assert np.array_equal(np.load(out / f"pair_{n:06d}_flow.npy"), b.flow_fields[k])


def test_batches_own_their_arrays(small):
    """The contract (docs/python.md): each batch's arrays are its own, valid forever and
    writable; the next batch never changes them, and writing them changes nothing else."""
    with synthpix.make(small()) as s:
        first = next(s)
        kept = {k: getattr(first, k).copy() for k in ARRAYS}
        for k in ARRAYS:
            a = getattr(first, k)
            assert a.flags.writeable and a.flags.c_contiguous
        first.images1[:] = -1
        second = next(s)
    assert all(np.array_equal(getattr(first, k), kept[k]) for k in ARRAYS if k != "images1")
    with synthpix.make(small()) as fresh:
        next(fresh)
        assert same_batch(next(fresh), second)
    assert not np.shares_memory(first.images1, second.images1)


def test_dropped_batches_memory_is_reused_and_kept_batches_are_never_touched(small):
    """Frames and flows live in recycled blocks: a dropped batch's blocks serve a later batch
    (no fresh pages), a kept batch's never do. 40 batches, a random half kept; at the end every
    kept batch still equals the same batch from a second sampler, and no two live batches
    share memory; arrays stay valid after the sampler is closed."""
    rng = np.random.default_rng(5)
    kept = []
    reused = 0
    with synthpix.make(small()) as s, synthpix.make(small()) as ref:
        seen = set()
        for i in range(40):
            b = next(s)
            addr = b.images1.__array_interface__["data"][0]
            reused += addr in seen
            seen.add(addr)
            r = next(ref)
            if rng.random() < 0.5:
                kept.append((b, r))
            del b
        last = kept[-1][0]
    assert reused > 0, "no block of a dropped batch was reused"
    for b, r in kept:
        assert same_batch(b, r)
    live = [a for b, _ in kept for a in (b.images1, b.images2, b.flow_fields)]
    for i in range(len(live)):
        for j in range(i + 1, len(live)):
            assert not np.shares_memory(live[i], live[j])
    last.images1[:] = 1.0  # still writable memory after close
    assert float(last.images1.sum()) == last.images1.size


def test_next_out_reuses_the_arrays_of_a_batch(small):
    with synthpix.make(small()) as s, synthpix.make(small()) as ref:
        b = s.next()
        arrays = {k: getattr(b, k) for k in ARRAYS}
        b2 = s.next(out=b)
        next(ref)
        assert same_batch(b2, next(ref))
        assert all(getattr(b2, k) is arrays[k] for k in ARRAYS)
        with pytest.raises(ValueError, match="images1"):
            s.next(out=synthpix.Batch(**{**b2.__dict__, "images1": np.zeros((4, 64, 64), np.float64)}))


def test_frames_and_light_sheet_params(small, tmp_path, cli):
    """frames: K gives K (B, H, W) frames per batch (the first two are images1 and images2),
    the same arrays the CLI writes as img1 .. imgK; params carries the light sheet."""
    cfg = synthpix.Config(small(frames=3, sheet_profile="gaussian", sheet_thickness=0.01,
                                out_of_plane_range=[-0.5, 0.5]))
    with synthpix.make(cfg) as s:
        assert s.frames == 3
        b = next(s)
        again = s.next(out=b)
    assert again.images[2] is b.images[2]
    assert b.frames == 3 and len(b.images) == 3 and b.images[0] is b.images1 and b.images[1] is b.images2
    assert all(a.shape == (4, 64, 64) and a.dtype == np.float32 and a.flags.writeable for a in b.images)
    assert not any(np.shares_memory(b.images[i], b.images[j]) for i in range(3) for j in range(i + 1, 3))
    assert b.stacked().shape == (4, 3, 64, 64) and np.array_equal(b.stacked()[:, 2], b.images[2])
    p = b.params
    assert (p["sheet_profile"] == 1).all() and np.allclose(p["sheet_thickness"], 0.01)
    assert ((p["w"] >= -0.5) & (p["w"] <= 0.5)).all() and len(set(p["w"].tolist())) == 4
    assert p["lost"].shape == (4, 15) and (p["in_sheet"][:, :3] > 0).all() and (p["in_sheet"][:, 3:] == 0).all()
    assert ((p["lost"][:, :2] >= 0) & (p["lost"][:, :2] <= 1)).all() and (p["lost"][:, 2:] == 0).all()
    path = tmp_path / "c.yaml"
    path.write_text(cfg.yaml)
    out = tmp_path / "out"
    subprocess.run([cli, "generate", "-c", str(path), "-n", "4", "--format", "npy", "-o", str(out)],
                   check=True, capture_output=True)
    with synthpix.make(cfg) as s:
        first = next(s)
    for k in range(4):
        for f in range(3):
            assert np.array_equal(np.load(out / f"pair_{k:06d}_img{f + 1}.npy"), first.images[f][k])
    assert not (out / "pair_000000_img4.npy").exists()


def test_image_pairs_have_two_frames(small):
    with synthpix.make(small()) as s:
        b = next(s)
        assert s.frames == 2 and b.frames == 2 and b.images == (b.images1, b.images2)
        assert (b.params["sheet_profile"] == 0).all() and (b.params["lost"] == 0).all()


def test_finite_stream_pads_then_stops_and_reset_restarts(small):
    cfg = small(loop=False, analytic_num_examples=6, batches_per_flow_batch=1, randomize=False)
    with synthpix.make(cfg) as s:
        batches = list(s)
        assert len(batches) == 3  # 6 records, F = 2 per batch
        assert [b.mask.tolist() for b in batches] == [[True] * 4] * 3
        with pytest.raises(StopIteration):
            next(s)
        s.reset()
        assert same_batch(next(s), batches[0])


def test_flow_file_errors_are_os_errors_naming_the_file(flow_files, tmp_path):
    missing = tmp_path / "gone" / "flow.npy"
    with pytest.raises(synthpix.FlowFileError) as e:
        synthpix.make(npy_config([missing]))
    assert isinstance(e.value, OSError) and "flow.npy" in str(e.value) and e.value.status == "SP_ERR_NOTFOUND"
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not numpy")
    with pytest.raises(synthpix.FlowFileError, match="bad.npy"):
        synthpix.make(npy_config([bad]))
    # A file damaged after the start is named at the batch that reads it.
    with synthpix.make(npy_config(flow_files, loop=False)) as s:
        flow_files[3].write_bytes(b"damaged")
        with pytest.raises(synthpix.FlowFileError, match="flow_3.npy"):
            for _ in s:
                pass


def test_geometry_errors_are_config_errors(small):
    with pytest.raises(synthpix.ConfigError, match="flow_field_size"):
        synthpix.make(small(flow_field_size=[0.2, 0.2]))


def test_episodes_end_with_episode_end_error_until_next_episode(tmp_path):
    files = []
    for seq in range(3):
        d = tmp_path / f"seq{seq}"
        d.mkdir()
        for t in range(4):
            write_flow(d / f"t{t}.npy", shift=0.1 * t)
            files.append(d / f"t{t}.npy")
    with synthpix.make(npy_config(files, episode_length=3, batch_size=2, flow_fields_per_batch=2)) as s:
        assert s.episode_length == 3
        steps = [next(s) for _ in range(3)]
        assert [b.timestep for b in steps] == [0, 1, 2]
        assert [b.done.tolist() for b in steps] == [[False, False], [False, False], [True, True]]
        with pytest.raises(synthpix.EpisodeEndError):
            next(s)
        s.next_episode()
        assert next(s).timestep == 0
    with synthpix.make(npy_config(files)) as s, pytest.raises(AttributeError):
        s.next_episode()


def test_shards_are_disjoint_and_cover_the_epoch(flow_files):
    cfg = npy_config(flow_files, loop=False, randomize=True, batches_per_flow_batch=1)
    seen = []
    for index in range(2):
        with synthpix.make(cfg, shard=(index, 2)) as s:
            seen.append({int(r) for b in s for r, m in zip(b.records, b.mask) if m})
    assert not seen[0] & seen[1] and seen[0] | seen[1] == set(range(5))


def test_closed_sampler_and_one_thread_per_sampler(small):
    s = synthpix.make(small())
    errors = []

    def run():
        try:
            for _ in range(10):
                next(s)
        except RuntimeError as e:  # the other thread held the sampler
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all("in use by another thread" in str(e) for e in errors)
    s.close()
    assert s.closed
    with pytest.raises(ValueError, match="closed"):
        next(s)


def test_properties(small):
    with synthpix.make(small()) as s:
        assert s.records == 1000
        g = s.geometry
        assert g["image_shape"] == (64, 64) and g["resolution"] == 200.0
        assert "batch_size: 4" in s.config_yaml
    assert synthpix.__version__.count(".") == 2
    assert set(synthpix.features()) >= {"matio", "hdf5"}


def test_flow_files_read_or_mapped_give_the_same_bytes(flow_files):
    """Mapped flow files (docs/durability.md) give the bytes of read ones; a wrong mode is a
    ValueError naming the keyword."""
    cfg = npy_config(flow_files)
    streams = []
    for mode in ("read", "map", "auto"):
        with synthpix.Sampler(cfg, threads=2, flow_files=mode) as s:
            streams.append([s.next() for _ in range(4)])
    for other in streams[1:]:
        for a, b in zip(streams[0], other):
            for name in ("images1", "images2", "flow_fields"):
                assert np.array_equal(getattr(a, name), getattr(b, name)), name
    with pytest.raises(ValueError, match="flow_files"):
        synthpix.Sampler(cfg, flow_files="mmap")
