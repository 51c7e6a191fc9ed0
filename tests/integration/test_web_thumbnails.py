"""Thumbnails of the images citizens attach (issue 13, phase 2), against the real pahtweb and
libvips: a JPEG and an iPhone's HEIC photo get a JPEG thumbnail, made once on the first request
for it and kept beside the attachment (0600); hostile files (a truncated JPEG, a decompression
bomb PNG of 30000x30000 pixels, an SVG named .jpg, a PDF) get none, and pahtweb goes on
serving. tests/images/ holds the photos (made by libvips: photo.jpg 640x480, photo.heic the
same in HEVC); the hostile files are made here."""
import os
import re
import stat
import struct
import zlib
import unittest

import webtest

IMAGES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "images")


def read_image(name):
    with open(os.path.join(IMAGES, name), "rb") as f:
        return f.read()


def png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))


def bomb_png(side=30000):
    """A 1-bit grey PNG of SIDE x SIDE pixels, all black: 900 million pixels in ~100 KB."""
    row = b"\x00" * (1 + (side + 7) // 8)
    z = zlib.compressobj(9)
    data = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    return (b"\x89PNG\r\n\x1a\n"
            + png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
            + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b""))


def jpeg_size(data):
    """(width, height) from a JPEG's SOF marker."""
    i = 2
    while i < len(data):
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xc0, 0xc1, 0xc2):
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        i += 2 + length
    raise AssertionError("no SOF marker")


FILES = [  # (name, type the mail says, bytes, gets a thumbnail)
    ("anh.jpg", "image/jpeg", read_image("photo.jpg"), True),
    ("IMG_0001.HEIC", "image/heic", read_image("photo.heic"), True),
    ("cut.jpg", "image/jpeg", read_image("photo.jpg")[:4000], False),
    ("bomb.png", "image/png", bomb_png(), False),
    ("ve.jpg", "image/jpeg", b"<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'>"
                             b"<rect width='10' height='10'/></svg>", False),
    ("van-ban.pdf", "application/pdf", b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\n", False),
]


class WebThumbnails(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack, cls.gw, cls.console = webtest.console_with_users({"ioc": "ioc"})
        mail = webtest.report_mail(cls.gw, "Ảnh hiện trường",
                                   attachments=[(n, t, d) for n, t, d, _ in FILES])
        [cls.code] = webtest.ingest(cls.gw, mail)
        cls.paths = [p for (p,) in cls.console.query(
            "SELECT a.path FROM attachment a JOIN report r ON r.id = a.report_id"
            " WHERE r.code = ? ORDER BY a.id", cls.code)]
        assert len(cls.paths) == len(FILES), cls.paths
        cls.console.start()
        cls.ioc = cls.console.login("ioc")

    def thumbs_on_page(self):
        page = self.ioc.get(f"/reports/{self.code}").text
        return re.findall(r'<img class="thumb" src="/reports/[^/]+/attachments/(\d+)/thumb"',
                          page)

    def test_1_photos_get_a_thumbnail_made_once_and_kept_beside_them(self):
        # every raster or HEIC file is offered one before it is tried; never SVG or PDF
        self.assertEqual(self.thumbs_on_page(), ["1", "2", "3", "4"])
        for n in (1, 2):
            r = self.ioc.get(f"/reports/{self.code}/attachments/{n}/thumb")
            self.assertEqual(r.status, 200, n)
            self.assertEqual(r.header("Content-Type"), "image/jpeg")
            self.assertEqual(r.body[:3], b"\xff\xd8\xff")
            self.assertEqual(jpeg_size(r.body), (320, 240), n)  # 640x480 within 320x320
            kept = self.paths[n - 1] + ".thumb.jpg"
            st = os.stat(kept)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
            with open(kept, "rb") as f:
                self.assertEqual(f.read(), r.body)
            # made once: a second request serves the same file, untouched
            again = self.ioc.get(f"/reports/{self.code}/attachments/{n}/thumb")
            self.assertEqual(again.body, r.body)
            self.assertEqual(os.stat(kept).st_mtime_ns, st.st_mtime_ns)
        # the HEIC file itself is a download: browsers cannot show it
        heic = self.ioc.get(f"/reports/{self.code}/attachments/2")
        self.assertTrue(heic.header("Content-Disposition").startswith("attachment;"))

    def test_2_hostile_files_get_none_and_pahtweb_goes_on(self):
        for n in (3, 4, 5, 6):
            r = self.ioc.get(f"/reports/{self.code}/attachments/{n}/thumb")
            self.assertEqual(r.status, 404, n)
            self.assertFalse(os.path.exists(self.paths[n - 1] + ".thumb.jpg"), n)
        self.assertIsNone(self.console.proc.poll())  # still running
        self.assertEqual(self.ioc.get(f"/reports/{self.code}/attachments/1/thumb").status, 200)
        # what libvips refused is remembered: the page offers no thumbnail for it any more
        for n in (3, 4):
            self.assertTrue(os.path.exists(self.paths[n - 1] + ".thumb.none"), n)
        self.assertEqual(self.thumbs_on_page(), ["1", "2"])
        log = self.console.log()
        self.assertIn("no thumbnail for attachment", log)
        self.assertIn("more than 64000000", log)  # the bomb, refused on its header
        for name, _, _, _ in FILES:
            self.assertNotIn(name, log)


if __name__ == "__main__":
    unittest.main()
