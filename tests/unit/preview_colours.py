"""preview_colours.py: checks the colours of a `synthpix preview` sheet of a uniform flow
against an independent NumPy implementation of the Middlebury flow colour coding (Baker et
al.'s wheel of 55 colours, written here from its definition as the `colorcode` program and
the flow_vis package compute it). Run by tests/unit/test_preview.c.

    preview_colours.py SHEET.png LAYOUT.json U V MAX_PX

U, V: the uniform flow's direction (u to the right, v down; any units); MAX_PX: its length
in pixels per pair. Checks that every pixel of the flow panel has the wheel's colour of the
direction (normalised as flow_vis does, by the largest radius plus 1e-5), that the layout
reports MAX_PX, and that the key's wheel, at 0.8 of its radius in the flow's direction, has
the colour the wheel gives there.
Prints "colours-ok" and exits 0, or fails with an assertion naming what differs.
"""
import json
import sys

import numpy as np
from PIL import Image


def colour_wheel():
    ry, yg, gc, cb, bm, mr = 15, 6, 4, 11, 13, 6
    wheel = np.zeros((ry + yg + gc + cb + bm + mr, 3))
    col = 0
    wheel[0:ry, 0] = 255
    wheel[0:ry, 1] = np.floor(255 * np.arange(ry) / ry)
    col += ry
    wheel[col:col + yg, 0] = 255 - np.floor(255 * np.arange(yg) / yg)
    wheel[col:col + yg, 1] = 255
    col += yg
    wheel[col:col + gc, 1] = 255
    wheel[col:col + gc, 2] = np.floor(255 * np.arange(gc) / gc)
    col += gc
    wheel[col:col + cb, 1] = 255 - np.floor(255 * np.arange(cb) / cb)
    wheel[col:col + cb, 2] = 255
    col += cb
    wheel[col:col + bm, 2] = 255
    wheel[col:col + bm, 0] = np.floor(255 * np.arange(bm) / bm)
    col += bm
    wheel[col:col + mr, 2] = 255 - np.floor(255 * np.arange(mr) / mr)
    wheel[col:col + mr, 0] = 255
    return wheel


def uv_colours(u, v):
    """Colours of normalised displacements u, v (arrays of one shape) as uint8 RGB."""
    wheel = colour_wheel()
    n = wheel.shape[0]
    rad = np.sqrt(np.square(u) + np.square(v))
    a = np.arctan2(-v, -u) / np.pi
    fk = (a + 1) / 2 * (n - 1)
    k0 = np.floor(fk).astype(np.int32)
    k1 = k0 + 1
    k1[k1 == n] = 0
    f = fk - k0
    out = np.zeros(u.shape + (3,), np.uint8)
    for i in range(3):
        c0 = wheel[k0, i] / 255.0
        c1 = wheel[k1, i] / 255.0
        col = (1 - f) * c0 + f * c1
        inside = rad <= 1
        col[inside] = 1 - rad[inside] * (1 - col[inside])
        col[~inside] = col[~inside] * 0.75
        out[..., i] = np.floor(255 * col)
    return out


def main():
    sheet, layout_path, u, v, max_px = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    img = Image.open(sheet)
    layout = json.load(open(layout_path))
    assert img.size == (layout["width"], layout["height"]), (img.size, layout["width"], layout["height"])
    rgb = np.asarray(img.convert("RGB")).astype(np.int32)
    assert abs(layout["max_displacement_px"] - max_px) <= 1e-4 * max_px, (layout["max_displacement_px"], max_px)

    r = layout["panels"]["flow"]
    panel = rgb[r["y"]:r["y"] + r["h"], r["x"]:r["x"] + r["w"]]
    u_px, v_px = u / np.hypot(u, v) * max_px, v / np.hypot(u, v) * max_px
    norm = max_px + 1e-5  # flow_vis: the flow in pixels over the largest radius + 1e-5
    want = uv_colours(np.array([u_px / norm]), np.array([v_px / norm]))[0].astype(np.int32)
    diff = np.abs(panel - want).max()
    assert panel.size > 0 and diff <= 2, ("flow panel", want.tolist(), panel.reshape(-1, 3)[0].tolist(), int(diff))

    w = layout["panels"]["wheel"]
    radius = w["w"] / 2.0
    d = np.array([u, v]) / np.hypot(u, v) * 0.8 * radius
    col, row = int(np.floor(w["x"] + radius + d[0])), int(np.floor(w["y"] + radius + d[1]))
    du = (col - w["x"] + 0.5 - radius) / radius
    dv = (row - w["y"] + 0.5 - radius) / radius
    key = uv_colours(np.array([du]), np.array([dv]))[0].astype(np.int32)
    got = rgb[row, col]
    assert np.abs(got - key).max() <= 2, ("wheel", key.tolist(), got.tolist())
    print("colours-ok", want.tolist())


if __name__ == "__main__":
    main()
