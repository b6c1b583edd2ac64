"""layout_readers.py: reads a dataset written with `synthpix generate --layout L` the way the
other projects' loaders do, from their public conventions only, and compares every image and
flow with `--format npy` of the same configuration and seed (tests/unit/test_layouts.c).

    layout_readers.py cai         DIR NPY_DIR TEST_INDICES CASE
    layout_readers.py pykitpiv    DIR NPY_DIR
    layout_readers.py liteflownet DIR NPY_DIR TEST_INDICES

TEST_INDICES is a file with the 0-based pair indices the split rule sends to the test (val)
part, one per line, as the C test computed them with sp_dataset_split_is_test. The images are
compared after the documented value mapping (docs/formats.md, "Dataset layouts"): cai and
liteflownet quantise to 8 bits (clamp to [0, 255], add 0.5, truncate, in float32);
pykitpiv scales by 257 in float32. Flows must be equal bit for bit.

Exit status 0 and "ok ..." on stdout when everything matches; 1 and the first difference
otherwise.
"""
import glob
import os
import re
import struct
import sys

import numpy as np


def fail(msg):
    print("MISMATCH: " + msg)
    sys.exit(1)


def npy_pairs(npy_dir):
    """The reference: {index: (img1, img2, flow)} from pair_NNNNNN_*.npy."""
    out = {}
    for path in sorted(glob.glob(os.path.join(npy_dir, "pair_*_img1.npy"))):
        n = int(os.path.basename(path)[5:11])
        base = os.path.join(npy_dir, "pair_%06d_" % n)
        out[n] = (np.load(base + "img1.npy"), np.load(base + "img2.npy"), np.load(base + "flow.npy"))
    if not out:
        fail("no npy pairs in " + npy_dir)
    return out


def u8(img):
    """8-bit quantisation: clamp to [0, 255], + 0.5, truncate, in float32."""
    c = np.clip(img.astype(np.float32), np.float32(0), np.float32(255))
    return (c + np.float32(0.5)).astype(np.uint8)


def read_test_indices(path):
    with open(path) as f:
        return [int(line) for line in f if line.strip()]


def same(what, got, want):
    if got.shape != want.shape or got.dtype != want.dtype:
        fail("%s: shape/dtype %s %s, want %s %s" % (what, got.shape, got.dtype, want.shape, want.dtype))
    if not np.array_equal(got, want):
        bad = np.argwhere(got != want)[0]
        fail("%s: differs at %s: %r vs %r" % (what, tuple(bad), got[tuple(bad)], want[tuple(bad)]))


# ---- cai: TIFF + Middlebury .flo + FlowData_*.list ----------------------------------------


def read_flo(path):
    """Middlebury .flo: float32 202021.25 ('PIEH'), int32 width, int32 height, then
    height * width * 2 float32 (u, v) row-major, all little-endian."""
    with open(path, "rb") as f:
        data = f.read()
    tag, w, h = struct.unpack("<fii", data[:12])
    if tag != 202021.25:
        fail(path + ": bad .flo tag %r" % tag)
    if len(data) != 12 + w * h * 8:
        fail(path + ": %d bytes for %dx%d" % (len(data), w, h))
    return np.frombuffer(data, dtype="<f4", offset=12).reshape(h, w, 2)


def read_list(path):
    """One pair per line: image 1, image 2 and flow paths separated by tabs."""
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                fail("%s: line %r has %d fields" % (path, line, len(parts)))
            rows.append(parts)
    return rows


def check_cai(root, ref, test_indices, case):
    from PIL import Image

    names = sorted(glob.glob(os.path.join(root, case + "_*_img1.tif")))
    pattern = re.compile(re.escape(case) + r"_(\d{5,})_img1\.tif$")
    numbers = [int(pattern.match(os.path.basename(p)).group(1)) for p in names]
    if numbers != [n + 1 for n in sorted(ref)]:
        fail("cai numbers %s, want %s" % (numbers[:8], [n + 1 for n in sorted(ref)][:8]))
    train = read_list(os.path.join(root, "FlowData_train.list"))
    test = read_list(os.path.join(root, "FlowData_test.list"))
    seen = {}
    for part, rows in (("train", train), ("test", test)):
        for img1, img2, flo in rows:
            n = int(pattern.match(img1).group(1)) - 1
            if img2 != img1.replace("_img1.tif", "_img2.tif") or flo != img1.replace("_img1.tif", "_flow.flo"):
                fail("cai list row %r %r %r" % (img1, img2, flo))
            seen[n] = part
            im1 = np.array(Image.open(os.path.join(root, img1)))
            im2 = np.array(Image.open(os.path.join(root, img2)))
            same("cai %s image 1" % img1, im1, u8(ref[n][0]))
            same("cai %s image 2" % img2, im2, u8(ref[n][1]))
            same("cai %s flow" % flo, read_flo(os.path.join(root, flo)), ref[n][2])
    if sorted(seen) != sorted(ref):
        fail("the lists hold pairs %s, want %s" % (sorted(seen)[:8], sorted(ref)[:8]))
    if sorted(n for n, p in seen.items() if p == "test") != sorted(test_indices):
        fail("test pairs differ from the split rule's")
    for rows in (train, test):
        order = [int(pattern.match(r[0]).group(1)) for r in rows]
        if order != sorted(order):
            fail("a list is not in pair order")
    return "%d pairs, %d test" % (len(seen), len(test))


# ---- pykitpiv: I and targets (N, 2, H, W) -----------------------------------------------------


def check_pykitpiv(root, ref):
    import h5py

    with h5py.File(os.path.join(root, "pykitpiv.h5"), "r") as f:
        I = np.array(f["I"])
        targets = np.array(f["targets"])
    keys = sorted(ref)
    if I.shape[0] != len(keys) or I.shape[1] != 2 or targets.shape != I.shape:
        fail("pykitpiv shapes %s %s for %d pairs" % (I.shape, targets.shape, len(keys)))
    for row, n in enumerate(keys):
        img1, img2, flow = ref[n]
        for k, img in enumerate((img1, img2)):
            want = np.clip(img.astype(np.float32), np.float32(0), np.float32(255)) * np.float32(257)
            same("pykitpiv I[%d, %d]" % (row, k), I[row, k], want)
        same("pykitpiv targets[%d, 0] (u)" % row, targets[row, 0], flow[:, :, 0])
        same("pykitpiv targets[%d, 1] (v)" % row, targets[row, 1], flow[:, :, 1])
    if I.min() < 0 or I.max() > 65535:
        fail("pykitpiv I outside [0, 65535]")
    # As pykitPIV's PIVDataset loads the file: float32, and v multiplied by -1.
    data, target = I.astype("float32"), targets.astype("float32")
    target[:, 1, :, :] = -target[:, 1, :, :]
    for row, n in enumerate(keys):
        same("PIVDataset data[%d]" % row, data[row, 1], I[row, 1])
        same("PIVDataset target[%d, 1] (-v)" % row, target[row, 1], -ref[n][2][:, :, 1])
    return "%d pairs" % len(keys)


# ---- liteflownet: train/ and val/ with data1, data2, label ---------------------------------------


def check_liteflownet(root, ref, test_indices):
    import h5py

    test = set(test_indices)
    parts = {"train": [n for n in sorted(ref) if n not in test], "val": [n for n in sorted(ref) if n in test]}
    with h5py.File(os.path.join(root, "liteflownet.h5"), "r") as f:
        for group, indices in parts.items():
            g = f[group]
            d1, d2, label = np.array(g["data1"]), np.array(g["data2"]), np.array(g["label"])
            if d1.shape[0] != len(indices) or label.shape[0] != len(indices):
                fail("liteflownet %s: %d rows, want %d" % (group, d1.shape[0], len(indices)))
            for row, n in enumerate(indices):
                img1, img2, flow = ref[n]
                for c in range(3):
                    same("liteflownet %s/data1[%d][..., %d]" % (group, row, c), d1[row, :, :, c], u8(img1))
                    same("liteflownet %s/data2[%d][..., %d]" % (group, row, c), d2[row, :, :, c], u8(img2))
                same("liteflownet %s/label[%d]" % (group, row), label[row], flow)
        emulate_pivh5(f, parts)
    return "%d train, %d val" % (len(parts["train"]), len(parts["val"]))


def emulate_pivh5(f, parts):
    """As PIV-LiteFlowNet's PIVH5 walks a mode's group: every dataset read whole and
    iterated along its first axis, each of data1 and data2 turned into an RGB image."""
    for mode, indices in parts.items():
        items = {}
        for dname, dset in f[mode].items():
            items[dname] = [ds for ds in dset[()]]
        if sorted(items) != ["data1", "data2", "label"]:
            fail("liteflownet %s holds %s" % (mode, sorted(items)))
        if not len(items["data1"]) == len(items["data2"]) == len(items["label"]) == len(indices):
            fail("liteflownet %s: data1, data2 and label lengths differ" % mode)
        try:
            from PIL import Image
        except ImportError:
            continue
        for ds in items["data1"] + items["data2"]:
            if Image.fromarray(ds).convert("RGB").size != (ds.shape[1], ds.shape[0]):
                fail("liteflownet %s: an image does not convert to RGB" % mode)


def main(argv):
    layout, root, npy_dir = argv[1], argv[2], argv[3]
    ref = npy_pairs(npy_dir)
    if layout == "cai":
        what = check_cai(root, ref, read_test_indices(argv[4]), argv[5])
    elif layout == "pykitpiv":
        what = check_pykitpiv(root, ref)
    elif layout == "liteflownet":
        what = check_liteflownet(root, ref, read_test_indices(argv[4]))
    else:
        fail("unknown layout " + layout)
    print("ok %s: %s" % (layout, what))


if __name__ == "__main__":
    main(sys.argv)
