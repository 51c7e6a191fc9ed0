"""The console's pages are the province's to edit (issue 13): pahtweb keeps the templates and
labels.ini it has read (the letters' template cache) and must still show an edit at the very
next request, whether the file is written over in place or a new file is renamed into place
(as editors and configuration tools do), without a restart."""
import os
import shutil
import tempfile
import unittest

import pahttest
import webtest


def write_in_place(path, text):
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def rename_into_place(path, text):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)


class EditedPagesShowAtTheNextRequest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.templates = tempfile.mkdtemp(prefix="paht-web-templates-")
        shutil.copytree(os.environ["PAHT_TEMPLATES_DIR"], cls.templates, dirs_exist_ok=True)
        cls.stack = pahttest.shared_stack()
        cls.gw = pahttest.Gateway(cls.stack, pahttest.unique("webtpl"))
        cls.gw.config["gateway"]["templates_dir"] = cls.templates
        cls.console = webtest.Console(cls.gw)
        cls.console.user("ioc", "ioc")
        cls.console.start()
        cls.ioc = cls.console.login("ioc")

    @classmethod
    def tearDownClass(cls):
        cls.console.stop()
        shutil.rmtree(cls.templates, ignore_errors=True)

    def page_file(self, name):
        return os.path.join(self.templates, "web", name)

    def edit(self, name, old, new, how):
        path = self.page_file(name)
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        self.assertIn(old, text)
        how(path, text.replace(old, new, 1))

    def queue(self):
        r = self.ioc.get("/")
        self.assertEqual(r.status, 200, r.text[:300])
        return r.text

    def test_a_page_written_over_in_place_shows_at_the_next_request(self):
        self.assertIn("Hàng chờ của Trung tâm IOC", self.queue())  # read and kept
        # the same size, so that only the file's times tell the edit
        self.edit("queue.html", "Hàng chờ của Trung tâm IOC", "Hàng chờ của Trung tâm ioc",
                  write_in_place)
        page = self.queue()
        self.assertIn("Hàng chờ của Trung tâm ioc", page)
        self.assertNotIn("Hàng chờ của Trung tâm IOC", page)

    def test_the_layout_renamed_into_place_shows_at_the_next_request(self):
        self.assertNotIn("<title>Sửa đổi: ", self.queue())
        self.edit("layout.html", "<title>{{title}}", "<title>Sửa đổi: {{title}}",
                  rename_into_place)
        self.assertIn("<title>Sửa đổi: ", self.queue())

    def test_edited_labels_show_at_the_next_request(self):
        self.assertIn("Hàng chờ xử lý – ", self.queue())
        self.edit("labels.ini", "queue = Hàng chờ xử lý", "queue = Phản ánh chờ xử lý",
                  rename_into_place)
        self.assertIn("Phản ánh chờ xử lý", self.queue())
        self.edit("labels.ini", "queue = Phản ánh chờ xử lý", "queue = Phản ánh đang chờ",
                  write_in_place)
        self.assertIn("Phản ánh đang chờ", self.queue())


if __name__ == "__main__":
    unittest.main()
