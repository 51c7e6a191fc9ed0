"""Mail built to blow up memory through its headers (issue 11, item 3; issue 18's memory
figure): 150,000 To: addresses in 3.2 MB, and an 8 MB Subject. GMime holds every header it
reads (the To: one alone took 125 MB), so the gateway refuses a header block over 256 KiB
before GMime sees it. Shared by tests/integration/test_daemon_header_bomb.py and bench/run."""


def to_bomb(frm, to):
    """150,000 addresses in one folded To: header (to is not used: the header is the bomb)."""
    head = [f"From: {frm}", "Subject: Thông báo", "Message-ID: <to-bomb@example.test>",
            "To: " + ",\r\n ".join(f"nguoi{i}@example.vn" for i in range(150000)),
            "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "", "Xem thư."]
    return "\r\n".join(head).encode() + b"\r\n"


def subject_bomb(frm, to):
    """An 8 MB Subject in Vietnamese."""
    subject = "Phản ánh " * (8 * 1024 * 1024 // len("Phản ánh ".encode()))
    head = [f"From: {frm}", f"To: {to}", f"Subject: {subject}",
            "Message-ID: <subject-bomb@example.test>", "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8", "", "Xem thư."]
    return "\r\n".join(head).encode() + b"\r\n"


def both(frm, to):
    return [to_bomb(frm, to), subject_bomb(frm, to)]
