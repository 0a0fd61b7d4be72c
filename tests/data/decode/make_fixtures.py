#!/usr/bin/python3
"""Regenerates the decode fixtures and manifest.json with Debian's Pillow 9.4.0 as the oracle.

Run from this directory with /usr/bin/python3 (numpy + Pillow 9.4.0). JPEG variants Pillow
cannot write (YCCK, 4:1:1, arithmetic coding, restart markers) come from tools/jpegenc.cpp,
built on the fly with g++ -ljpeg. The manifest records, per file, what Pillow gives:
np.array(Image.open(f)) (mode, shape, dtype, sha256 of the raw bytes), np.array(im.convert("RGB"))
and transformers' load_image (ImageOps.exif_transpose, then convert("RGB")), or the fact that
Pillow refuses the file. convert_cases/transpose_cases are arrays the tests build from formulas.
"""
import hashlib, io, json, os, struct, subprocess, tempfile, zlib
import numpy as np
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = HERE
rng = np.random.default_rng(20240501)


def content(w, h):
    """Deterministic picture-like RGB content: gradients, a disc, a stripe and mild noise."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * xx / max(1, w - 1)
    g = 255 * yy / max(1, h - 1)
    b = 128 + 100 * np.sin(xx / 3.0) * np.cos(yy / 4.0)
    disc = (xx - w * 0.6) ** 2 + (yy - h * 0.4) ** 2 < (min(w, h) * 0.3) ** 2
    r[disc], g[disc], b[disc] = 250, 40, 30
    stripe = (xx + yy) % 11 < 2
    b[stripe] = 20
    a = np.stack([r, g, b], -1) + rng.normal(0, 6, (h, w, 3))
    return np.clip(a, 0, 255).astype(np.uint8)


def desc(a):
    a = np.ascontiguousarray(a)
    return {"shape": list(a.shape), "dtype": str(a.dtype), "sha256": hashlib.sha256(a.tobytes()).hexdigest()}


def pil_expect(path):
    r = {}
    try:
        im = Image.open(path)
        im.load()
        r.update(format=im.format, mode=im.mode, np_array=desc(np.array(im)),
                 convert_rgb=desc(np.array(im.convert("RGB"))))
        o = Image.open(path).getexif().get(0x0112)
        r["exif_orientation"] = o if o in (2, 3, 4, 5, 6, 7, 8) else 1
        r["load_image"] = desc(np.array(ImageOps.exif_transpose(Image.open(path)).convert("RGB")))
    except Exception as e:  # Pillow refuses the file
        return {"error": f"{type(e).__name__}: {e}"}
    return r


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


# ------------------------------------------------------------------------------------- JPEG
jpegenc = os.path.join(tempfile.mkdtemp(), "jpegenc")
subprocess.run(["g++", "-O2", os.path.join(HERE, "tools", "jpegenc.cpp"), "-ljpeg", "-o", jpegenc], check=True)


def libjpeg(name, arr, *args):
    comps = 1 if arr.ndim == 2 else arr.shape[2]
    raw = jpegenc + ".raw"
    np.ascontiguousarray(arr).tofile(raw)
    subprocess.run([jpegenc, raw, str(arr.shape[1]), str(arr.shape[0]), str(comps), os.path.join(OUT, name)] + list(args), check=True)


def strip_marker(d, code):
    out, i = d[:2], 2
    while i < len(d) and d[i] == 0xFF and d[i + 1] != 0xDA:
        n = struct.unpack(">H", d[i + 2:i + 4])[0]
        if d[i + 1] != code:
            out += d[i:i + 2 + n]
        i += 2 + n
    return out + d[i:]


pic = Image.fromarray(content(37, 23))
pic.save(os.path.join(OUT, "jpeg_rgb_420.jpg"), quality=90, subsampling=2)
pic.save(os.path.join(OUT, "jpeg_rgb_444_q100.jpg"), quality=100, subsampling=0)
pic.save(os.path.join(OUT, "jpeg_rgb_422_progressive.jpg"), quality=75, subsampling=1, progressive=True)
pic.convert("L").save(os.path.join(OUT, "jpeg_gray.jpg"), quality=85)
pic.convert("CMYK").save(os.path.join(OUT, "jpeg_cmyk_adobe.jpg"), quality=85)
write("jpeg_cmyk_no_adobe.jpg", strip_marker(open(os.path.join(OUT, "jpeg_cmyk_adobe.jpg"), "rb").read(), 0xEE))
cmyk = np.concatenate([content(29, 19), content(29, 19)[..., :1]], -1)
libjpeg("jpeg_ycck.jpg", cmyk, "cs=ycck", "samp=2x2,1x1,1x1,2x2")
libjpeg("jpeg_411.jpg", content(45, 17), "samp=4x1,1x1,1x1", "q=80")
libjpeg("jpeg_440_restart.jpg", content(33, 31), "samp=1x2,1x1,1x1", "restart=1")
libjpeg("jpeg_arith_progressive.jpg", content(31, 22), "arith=1", "prog=1")
libjpeg("jpeg_rgb_no_transform.jpg", content(21, 13), "cs=rgb")
libjpeg("jpeg_1x1.jpg", content(1, 1))
# An arithmetic-coded JPEG above 64 KiB: Pillow feeds libjpeg 64 KiB at a time and the
# arithmetic decoder cannot suspend, so Pillow refuses it.
libjpeg("jpeg_arith_over_64k.jpg", rng.integers(0, 256, (180, 180, 3), dtype=np.uint8), "arith=1", "q=100", "samp=1x1,1x1,1x1")
small = Image.fromarray(content(13, 7))
for o in range(1, 9):
    ex = Image.Exif()
    ex[0x0112] = o
    small.save(os.path.join(OUT, f"jpeg_orientation_{o}.jpg"), exif=ex.tobytes(), quality=90)
small.convert("L").save(os.path.join(OUT, "jpeg_gray_orientation_5.jpg"), exif=(lambda e: (e.__setitem__(0x0112, 5), e)[1])(Image.Exif()).tobytes())
frames = [Image.fromarray(content(16, 8)), Image.fromarray(content(16, 8)[::-1])]
frames[0].save(os.path.join(OUT, "jpeg_mpo.mpo"), "MPO", save_all=True, append_images=frames[1:])
good = open(os.path.join(OUT, "jpeg_rgb_420.jpg"), "rb").read()
write("jpeg_missing_eoi.jpg", good[:-2])
write("jpeg_trailing_garbage.jpg", good + b"not image data" * 4)
write("jpeg_truncated.jpg", good[: len(good) * 2 // 3])
write("jpeg_header_only.jpg", good[:200])
write("jpeg_no_sof.jpg", strip_marker(good, 0xC0))
# A 60000x60000 frame header with no data behind it: must be refused before allocation.
sof = good.index(b"\xff\xc0")
write("jpeg_huge_declared.jpg", good[:sof + 5] + struct.pack(">HH", 60000, 60000) + good[sof + 9:])

# -------------------------------------------------------------------------------------- PNG
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)


def png_rows(w, h, depth, ctype, interlace):
    """Random filtered scanlines: any bytes after a filter byte 0..4 form a valid image."""
    bits = depth * CHANNELS[ctype]
    out = bytearray()
    for x0, y0, dx, dy in (ADAM7 if interlace else [(0, 0, 1, 1)]):
        pw = (w - x0 + dx - 1) // dx if w > x0 else 0
        ph = (h - y0 + dy - 1) // dy if h > y0 else 0
        for _ in range(ph if pw else 0):
            out.append(int(rng.integers(0, 5)))
            out += rng.integers(0, 256, (pw * bits + 7) // 8, dtype=np.uint8).tobytes()
    return bytes(out)


def png(w, h, depth, ctype, interlace=0, before=(), after=(), plte=None, split=None, rows=None, iend=True):
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace))
    for t, d in before:
        out += chunk(t, d)
    if plte is not None:
        out += chunk(b"PLTE", plte)
    z = zlib.compress(rows if rows is not None else png_rows(w, h, depth, ctype, interlace), 9)
    for i in range(0, len(z), split or len(z)):
        out += chunk(b"IDAT", z[i:i + (split or len(z))])
    for t, d in after:
        out += chunk(t, d)
    return out + (chunk(b"IEND", b"") if iend else b"")


def palette(n):
    return rng.integers(0, 256, 3 * n, dtype=np.uint8).tobytes()


for depth, ctype in [(1, 0), (2, 0), (4, 0), (8, 0), (16, 0), (8, 2), (16, 2), (1, 3), (2, 3), (4, 3), (8, 3),
                     (8, 4), (16, 4), (8, 6), (16, 6)]:
    plte = palette(1 << depth) if ctype == 3 else None
    write(f"png_c{ctype}_b{depth}.png", png(7, 5, depth, ctype, plte=plte))
    write(f"png_c{ctype}_b{depth}_interlaced.png", png(11, 9, depth, ctype, interlace=1, plte=plte))


def exif_blob(o, endian="<"):
    head = (b"II*\x00" if endian == "<" else b"MM\x00*") + struct.pack(endian + "I", 8)
    return head + struct.pack(endian + "HHHIHHI", 1, 0x112, 3, 1, o, 0, 0)


rows8 = bytes([0] + list(range(0, 256, 16))) * 3
write("png_palette_short.png", png(16, 3, 8, 3, rows=rows8, plte=palette(5)))
write("png_palette_missing.png", png(16, 3, 8, 3, rows=rows8))
write("png_palette_257.png", png(16, 3, 8, 3, rows=rows8, plte=palette(257)))
write("png_palette_trns.png", png(9, 4, 4, 3, plte=palette(16), before=[(b"tRNS", b"\x00\x80\xff")]))
write("png_multi_idat.png", png(23, 13, 8, 6, split=17))
write("png_exif_before_idat_8.png", png(9, 6, 8, 2, before=[(b"eXIf", exif_blob(8, ">"))]))
write("png_exif_after_idat_6.png", png(9, 6, 8, 2, after=[(b"eXIf", exif_blob(6))]))
hexdump = (b"Exif\x00\x00" + exif_blob(3)).hex()
write("png_raw_profile_exif_3.png", png(9, 6, 8, 0, before=[(b"zTXt", b"Raw profile type exif\x00\x00" + zlib.compress(
    f"\nexif\n{len(hexdump) // 2:8d}\n{hexdump}\n".encode()))]))
write("png_xmp_orientation_7.png", png(9, 6, 8, 4, before=[(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00"
                                                          b'<rdf:Description tiff:Orientation="7"/>')]))
write("png_no_iend.png", png(10, 4, 8, 2, iend=False))
good = png(10, 4, 8, 2)
ihdr_crc = 8 + 8 + 13
write("png_bad_ihdr_crc.png", good[:ihdr_crc] + bytes([good[ihdr_crc] ^ 0xFF]) + good[ihdr_crc + 1:])
idat_crc = good.index(b"IEND") - 8
write("png_bad_idat_crc.png", good[:idat_crc] + bytes([good[idat_crc] ^ 0xFF]) + good[idat_crc + 1:])
write("png_truncated.png", good[: good.index(b"IDAT") + 20])
write("png_bad_filter.png", png(6, 2, 8, 0, rows=b"\x07" + bytes(6) + b"\x00" + bytes(6)))
write("png_huge_declared.png", png(100000, 100000, 8, 2, rows=b"\x00" * 10))
Image.fromarray(content(19, 11)).convert("P", palette=Image.ADAPTIVE, colors=12).save(os.path.join(OUT, "png_pil_palette.png"))
Image.fromarray((content(19, 11)[..., 0].astype(np.uint16) * 257 + 3)).save(os.path.join(OUT, "png_pil_16bit_gray.png"))

# ------------------------------------------------------------------------------------- WebP
wpic = Image.fromarray(content(27, 15))
wpic.save(os.path.join(OUT, "webp_lossy.webp"), quality=80)
rgba = np.concatenate([content(27, 15), rng.integers(0, 256, (15, 27, 1), dtype=np.uint8)], -1)
Image.fromarray(rgba, "RGBA").save(os.path.join(OUT, "webp_lossy_alpha.webp"), quality=70)
Image.fromarray(rgba, "RGBA").save(os.path.join(OUT, "webp_lossless_alpha.webp"), lossless=True)
wpic.save(os.path.join(OUT, "webp_lossless.webp"), lossless=True)
ex = Image.Exif()
ex[0x0112] = 6
wpic.save(os.path.join(OUT, "webp_orientation_6.webp"), quality=60, exif=ex.tobytes())
wframes = [Image.fromarray(content(12, 10)), Image.fromarray(content(12, 10)[::-1].copy())]
wframes[0].save(os.path.join(OUT, "webp_animated.webp"), save_all=True, append_images=wframes[1:], duration=40)
d = open(os.path.join(OUT, "webp_lossy.webp"), "rb").read()
write("webp_truncated.webp", d[: len(d) // 2])

# -------------------------------------------------------------------------------------- BMP
def bmp(w, h, bits, rows, pal=b"", header=40, compression=0, masks=None, topdown=False, colors=0):
    if header == 12:
        info = struct.pack("<IHHHH", 12, w, h, 1, bits)
    else:
        info = struct.pack("<IiiHHIIiiII", header, w, -h if topdown else h, 1, bits, compression, len(rows), 2835, 2835, colors, 0)
        if header > 40:
            info += struct.pack("<IIII", *(masks or (0, 0, 0, 0))) + bytes(header - 56)
    data = info + pal + rows
    return b"BM" + struct.pack("<IHHI", 14 + len(data), 0, 0, 14 + len(info) + len(pal)) + data


def bmp_rows(w, h, bits):
    return rng.integers(0, 256, (((w * bits + 31) >> 3) & ~3) * h, dtype=np.uint8).tobytes()


bpic = Image.fromarray(content(13, 6))
bpic.save(os.path.join(OUT, "bmp_24.bmp"))
bpic.convert("P", palette=Image.ADAPTIVE, colors=20).save(os.path.join(OUT, "bmp_8_palette.bmp"))
bpic.convert("L").save(os.path.join(OUT, "bmp_8_grey.bmp"))
bpic.convert("1").save(os.path.join(OUT, "bmp_1_bw.bmp"))
write("bmp_32_bgrx.bmp", bmp(7, 3, 32, bmp_rows(7, 3, 32)))
write("bmp_32_bitfields_rgba.bmp", bmp(7, 3, 32, bmp_rows(7, 3, 32), header=108, compression=3, masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000)))
write("bmp_16_565.bmp", bmp(9, 4, 16, bmp_rows(9, 4, 16), header=108, compression=3, masks=(0xF800, 0x7E0, 0x1F, 0)))
write("bmp_16_555.bmp", bmp(9, 4, 16, bmp_rows(9, 4, 16)))
write("bmp_1_palette.bmp", bmp(19, 3, 1, bmp_rows(19, 3, 1), pal=b"\x10\x80\xf0\x00\xff\x20\x00\x00"))
write("bmp_4_palette_topdown.bmp", bmp(9, 5, 4, bmp_rows(9, 5, 4), pal=rng.integers(0, 256, 64, dtype=np.uint8).tobytes(), topdown=True))
write("bmp_os2_8.bmp", bmp(6, 4, 8, bmp_rows(6, 4, 8), pal=rng.integers(0, 256, 768, dtype=np.uint8).tobytes(), header=12))
rle8 = b"\x03\x05\x00\x04\x01\x02\x03\x04\x02\x09\x00\x00" + b"\x09\x07\x00\x00" + b"\x05\x06\x00\x00" + b"\x0c\x08" + b"\x00\x01"
rle8_pal = rng.integers(0, 256, 1024, dtype=np.uint8).tobytes()
write("bmp_rle8.bmp", bmp(9, 4, 8, rle8, pal=rle8_pal, compression=1))
# Pillow 9.4 reads a delta escape's offsets from the two bytes *after* the pair it skips.
rle8_delta = b"\x03\x05" + b"\x00\x02\x07\x07\x02\x00" + b"\x04\x06\x00\x00" + b"\x09\x0a\x00\x00" * 3 + b"\x00\x01"
write("bmp_rle8_delta.bmp", bmp(9, 4, 8, rle8_delta, pal=rle8_pal, compression=1))
rle4 = b"\x05\x12\x00\x03\x34\x50\x00\x00" + b"\x08\xab\x00\x00" + b"\x03\xcd\x00\x05\x12\x34\x50\x00\x00\x00" + b"\x00\x01"
write("bmp_rle4.bmp", bmp(8, 3, 4, rle4, pal=rng.integers(0, 256, 64, dtype=np.uint8).tobytes(), compression=2))
write("bmp_rle8_short.bmp", bmp(9, 4, 8, b"\x03\x05\x00\x01", pal=rng.integers(0, 256, 1024, dtype=np.uint8).tobytes(), compression=1))
b24 = open(os.path.join(OUT, "bmp_24.bmp"), "rb").read()
write("bmp_truncated.bmp", b24[:-20])
write("bmp_huge_declared.bmp", bmp(70000, 70000, 24, b"\x00" * 64))

# ----------------------------------------------------------------------------------- other
write("empty.jpg", b"")
write("not_an_image.txt", b"This is a text file, not an image.\n")
write("gif_image.gif", b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

# --------------------------------------------------------------------------------- manifest
files = {}
for name in sorted(os.listdir(OUT)):
    path = os.path.join(OUT, name)
    if os.path.isfile(path) and not name.endswith((".py", ".json")):
        files[name] = pil_expect(path)


# Mode conversions and transposes on arrays built from formulas (same formulas in the tests).
def grid(h, w, f):
    y, x = np.mgrid[0:h, 0:w].astype(np.int64)
    return f(y, x)


convert_cases = {}
cmyk = np.stack(grid(256, 256, lambda y, x: [y, x, (y * 7 + x * 3) % 256, (y * 13 + x * 5) % 256]), -1).astype(np.uint8)
convert_cases["CMYK"] = desc(np.array(Image.fromarray(cmyk, "CMYK").convert("RGB")))
ck = np.stack(grid(256, 256, lambda y, x: [y, x, x, y * 0 + x]), -1).astype(np.uint8)  # (c, m, y, k) = (y, x, x, x)
convert_cases["CMYK_ck"] = desc(np.array(Image.fromarray(ck, "CMYK").convert("RGB")))
ivals = grid(64, 64, lambda y, x: (y * 64 + x) * 37 - 70000).astype(np.int32)
convert_cases["I"] = desc(np.array(Image.fromarray(ivals, "I").convert("RGB")))
la = np.stack(grid(16, 16, lambda y, x: [y * 16 + x, 255 - x]), -1).astype(np.uint8)
convert_cases["LA"] = desc(np.array(Image.fromarray(la, "LA").convert("RGB")))
l8 = grid(16, 16, lambda y, x: y * 16 + x).astype(np.uint8)
convert_cases["L"] = desc(np.array(Image.fromarray(l8, "L").convert("RGB")))
rgba = np.stack(grid(16, 16, lambda y, x: [y * 16 + x, x * 3, y * 5, (x * y) % 256]), -1).astype(np.uint8)
convert_cases["RGBA"] = desc(np.array(Image.fromarray(rgba, "RGBA").convert("RGB")))
bits = grid(9, 13, lambda y, x: (x * 3 + y) % 5 == 0)
convert_cases["1"] = desc(np.array(Image.fromarray(bits).convert("RGB")))
pim = Image.fromarray(l8, "L").convert("P")
pal = grid(1, 256, lambda y, x: x).ravel()
pim.putpalette([int(v) for i in range(256) for v in ((i * 5) % 256, (i * 11) % 256, (255 - i))])
convert_cases["P"] = desc(np.array(pim.convert("RGB")))

transpose_cases = {}
base = np.stack(grid(5, 7, lambda y, x: [y * 7 + x, 100 + y, 200 + x]), -1).astype(np.uint8)
for o, method in {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
                  5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                  8: Image.Transpose.ROTATE_90}.items():
    transpose_cases[str(o)] = {
        "RGB": desc(np.array(Image.fromarray(base, "RGB").transpose(method))),
        "I": desc(np.array(Image.fromarray(ivals[:5, :7], "I").transpose(method))),
        "1": desc(np.array(Image.fromarray(bits).transpose(method))),
    }

with open(os.path.join(OUT, "manifest.json"), "w") as f:
    json.dump({"pillow": Image.__version__, "files": files, "convert_cases": convert_cases,
               "transpose_cases": transpose_cases}, f, indent=1, sort_keys=True)
print(len(files), "fixtures,", sum(os.path.getsize(os.path.join(OUT, n)) for n in files), "bytes")
