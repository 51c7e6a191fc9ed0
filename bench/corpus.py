#!/usr/bin/python3
"""corpus: the benchmark's deterministic mail corpus (Python 3 standard library only).

What a province's mailbox holds on a morning after a holiday: citizens' field reports
(phản ánh hiện trường) in Vietnamese, about 20 KB each, a fifth of them with phone photos
(200 KB - 2 MB in total per mail), some written in Outlook's windows-1258, some HTML-only,
some forwarded as message/rfc822, some replies that quote the gateway's letter.

Message i depends only on (seed, i): the quick corpus is a prefix of the full one, and two
runs on two machines read the same bytes. Files have LF line ends, as Maildir stores them.

    corpus.py DIR N [--seed S] [--domain D]    writes DIR/00001.eml ... and DIR/manifest.json
    corpus.py --big FILE MiB                    one mail of that size (a video attachment)

As a module: write_corpus(), message(), big_message(), small_message().
"""

import base64
import datetime
import email.header
import email.utils
import hashlib
import json
import os
import quopri
import random
import sys
import unicodedata

VERSION = 1  # bump when the bytes change: cached corpora are keyed by it

GIVEN_FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Thạch", "Lâm", "Sơn", "Kim",
                "Đặng", "Dương", "Lý", "Triệu", "Quách", "Tăng"]
GIVEN_MIDDLE = ["Văn", "Thị", "Hoàng", "Ngọc", "Minh", "Quốc", "Kim", "Thành", "Hữu", "Bích"]
GIVEN_NAME = ["Sang", "Thảo", "Phước", "Nhựt", "Diễm", "Khải", "Sóc", "Huệ", "Lợi", "Thuận",
              "Tài", "Vy", "Khương", "Trúc", "Đạt", "Hằng", "Ánh", "Lộc", "Nhân", "Tươi"]
STREETS = ["Hùng Vương", "Trần Hưng Đạo", "Lê Hồng Phong", "Phú Lợi", "Nguyễn Văn Linh",
           "Lê Lợi", "Hai Bà Trưng", "Mạc Đĩnh Chi", "Tôn Đức Thắng", "Điện Biên Phủ"]
PLACES = ["Phường 1, TP. Sóc Trăng", "Phường 2, TP. Sóc Trăng", "Phường 4, TP. Sóc Trăng",
          "Phường 7, TP. Sóc Trăng", "thị trấn Mỹ Xuyên, huyện Mỹ Xuyên",
          "xã An Hiệp, huyện Châu Thành", "thị trấn Kế Sách, huyện Kế Sách",
          "xã Lịch Hội Thượng, huyện Trần Đề", "phường Vĩnh Phước, thị xã Vĩnh Châu",
          "xã An Thạnh 1, huyện Cù Lao Dung", "phường 1, thị xã Ngã Năm",
          "thị trấn Huỳnh Hữu Nghĩa, huyện Mỹ Tú"]
TOPICS = [
    ("Phản ánh tình trạng ngập nước kéo dài", "nước ngập sâu gần nửa mét sau mỗi cơn mưa, "
     "cống thoát nước bị rác bít kín"),
    ("Đèn chiếu sáng công cộng bị hư", "cả dãy đèn đường tắt từ tuần trước, ban đêm tối om, "
     "người đi đường dễ gặp tai nạn"),
    ("Rác thải tồn đọng nhiều ngày", "rác sinh hoạt chất thành đống bên lề đường, bốc mùi "
     "hôi thối, ruồi nhặng nhiều"),
    ("Lấn chiếm vỉa hè, lòng đường", "các hộ kinh doanh bày hàng ra hết vỉa hè, người đi bộ "
     "phải đi xuống lòng đường"),
    ("Mặt đường xuống cấp, nhiều ổ gà", "mặt đường bị bong tróc, nhiều ổ gà lớn, xe hai bánh "
     "thường xuyên té ngã"),
    ("Cây xanh có nguy cơ ngã đổ", "cây dầu lớn bị nghiêng, rễ bật lên khỏi mặt đất, mùa mưa "
     "bão rất nguy hiểm"),
    ("Tiếng ồn karaoke về đêm", "quán karaoke mở nhạc rất lớn đến quá nửa đêm, ảnh hưởng giấc "
     "ngủ của người già và trẻ nhỏ"),
    ("Nước sinh hoạt có mùi lạ", "nước máy có màu vàng đục và mùi tanh, gia đình không dám "
     "dùng để nấu ăn"),
    ("Khói bụi từ lò đốt trấu", "lò đốt trấu thải khói đen dày đặc mỗi chiều, bụi bám đầy nhà"),
    ("Xả nước thải ra kênh", "cơ sở chế biến xả nước thải chưa xử lý thẳng ra kênh, cá chết "
     "nổi trắng"),
]
SENTENCES = [
    "Kính gửi Trung tâm IOC tỉnh Sóc Trăng, tôi xin phản ánh sự việc sau đây.",
    "Tình trạng này đã kéo dài nhiều tuần nhưng chưa được cơ quan chức năng xử lý dứt điểm.",
    "Bà con trong xóm đã nhiều lần báo với ấp và xã nhưng đến nay vẫn chưa có chuyển biến.",
    "Đặc biệt vào giờ tan học, các cháu học sinh đi ngang qua rất nguy hiểm.",
    "Gia đình tôi cam đoan thông tin phản ánh là đúng sự thật và chịu trách nhiệm trước pháp luật.",
    "Kính đề nghị cơ quan có thẩm quyền kiểm tra thực tế và có biện pháp khắc phục kịp thời.",
    "Tôi xin gửi kèm hình ảnh chụp tại hiện trường để quý cơ quan tiện theo dõi.",
    "Người dân khu vực rất bức xúc và mong sớm nhận được phản hồi.",
    "Theo tôi được biết, công trình này do Ban quản lý dự án của huyện làm chủ đầu tư.",
    "Nếu cần thêm thông tin, quý cơ quan vui lòng liên hệ theo số điện thoại bên dưới.",
    "Xin chân thành cảm ơn quý cơ quan đã quan tâm giải quyết.",
    "Mỗi lần mưa xuống là cả đoạn đường biến thành sông, xe máy chết máy hàng loạt.",
]
DOMAINS = ["gmail.com", "yahoo.com.vn", "outlook.com", "vnpt.vn", "fpt.vn", "hotmail.com"]
MAILERS = [("X-Mailer", "Microsoft Outlook 16.0"), ("User-Agent", "Mozilla Thunderbird"),
           ("X-Mailer", "iPhone Mail (21F90)"), ("X-Mailer", "Zimbra 8.8.15_GA"),
           (None, None), (None, None)]

SECTION_GATEWAY = "paht@soctrang.gov.vn"
BASE_TIME = 1795816800  # 2026-11-28T05:00:00+07:00, a Saturday: the backlog of a weekend


def _ascii(text):
    """Vietnamese without diacritics, as people type on phones without a Vietnamese keyboard."""
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


VN = datetime.timezone(datetime.timedelta(hours=7))


def _date(t):
    """An RFC 5322 date in Vietnam's offset, as local mail clients write it."""
    return email.utils.format_datetime(datetime.datetime.fromtimestamp(t, VN))


def _b64_lines(data):
    s = base64.b64encode(data).decode("ascii")
    return "\n".join(s[i:i + 76] for i in range(0, len(s), 76))


def _qp(text, charset="utf-8"):
    return quopri.encodestring(text.encode(charset)).decode("ascii").replace("\r\n", "\n")


def _word(name, value):
    """An RFC 2047 header value, folded, as mail clients write it."""
    return email.header.Header(value, "utf-8", header_name=name).encode(linesep="\n")


def _cp1258(text):
    """text in windows-1258: that code page has few precomposed Vietnamese letters, so Outlook
    writes a base letter (with its circumflex, breve or horn) and a combining tone mark."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", ch)
        base, marks = parts[0], parts[1:]
        if marks and marks[0] in "\u0302\u0306\u031b":  # circumflex, breve, horn: in the base
            base, marks = unicodedata.normalize("NFC", base + marks[0]), marks[1:]
        out += (base + marks).encode("cp1258", "replace")
    return bytes(out)


def _jpeg(rng, size):
    """Incompressible bytes between real JPEG markers: a photo's size and entropy."""
    head = b"\xff\xd8\xff\xe1\x00\x16Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x00\x00\x00"
    size = max(size, len(head) + 2)
    return head + rng.randbytes(size - len(head) - 2) + b"\xff\xd9"


class _Person:
    def __init__(self, rng, i, domain):
        family, middle, given = (rng.choice(GIVEN_FAMILY), rng.choice(GIVEN_MIDDLE),
                                 rng.choice(GIVEN_NAME))
        self.name = f"{family} {middle} {given}"
        local = _ascii(self.name).lower().replace(" ", "")
        if domain:
            self.address = f"cd{i:06d}.{local}@{domain}"
        else:
            self.address = f"{local}{rng.randint(10, 9999)}@{rng.choice(DOMAINS)}"
        self.street = f"số {rng.randint(1, 250)} đường {rng.choice(STREETS)}"
        self.place = rng.choice(PLACES)
        self.id_number = "094" + "".join(str(rng.randint(0, 9)) for _ in range(9))
        self.phone = rng.choice(["09", "03", "07", "08", "05"]) + "".join(
            str(rng.randint(0, 9)) for _ in range(8))


def _fields(rng, p, where, when, style=None):
    """The citizen's details (Điều 4), in one of the ways people write them (STYLE 0: every
    field on its own labelled line)."""
    drawn = rng.randrange(4)
    style = drawn if style is None else style
    if style == 0:
        return (f"Họ và tên: {p.name}\nĐịa chỉ: {p.street}, {p.place}\nSố CCCD: {p.id_number}\n"
                f"Số điện thoại: {p.phone}\nĐịa điểm xảy ra: {where}\nThời gian: {when}\n")
    if style == 1:
        return _ascii(f"Ho ten: {p.name}\nDia chi: {p.street}, {p.place}\nCCCD: {p.id_number}\n"
                      f"SDT: {p.phone}\nDia diem: {where}\nThoi gian: {when}\n")
    if style == 2:
        return (f"Tôi tên là {p.name}, cư ngụ tại {p.street}, {p.place}, căn cước công dân số "
                f"{p.id_number}, điện thoại {p.phone[:4]}.{p.phone[4:7]}.{p.phone[7:]}. "
                f"Sự việc xảy ra tại {where}, {when}.\n")
    return (f"- Người phản ánh: {p.name}\n- Địa chỉ liên hệ: {p.street}, {p.place}\n"
            f"- CCCD: {p.id_number}\n- Điện thoại: +84 {p.phone[1:]}\n- Địa điểm: {where}\n")


def _paragraphs(rng, topic_detail, target):
    paras, size = [], 0
    while size < target:
        n = rng.randint(3, 6)
        para = " ".join(rng.choice(SENTENCES) for _ in range(n))
        if rng.random() < 0.4:
            para = f"Cụ thể, {topic_detail}. " + para
        paras.append(para)
        size += len(para.encode())
    return paras


def _html(paras, extra=""):
    body = "\n".join(f'<p style="font-family:Arial,sans-serif;font-size:14px">{p}</p>'
                     for p in paras)
    return (f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
            f'</head><body>\n<div dir="ltr">\n{body}\n{extra}</div>\n</body></html>\n')


def _headers(rng, i, person, to, subject, when, extra=()):
    dom = person.address.rsplit("@", 1)[1]
    mid = f"<{when:x}.{i:06d}.{rng.getrandbits(48):012x}@mail.{dom}>"
    h = [
        f"Return-Path: <{person.address}>",
        f"Received: from mail.{dom} (mail.{dom} [203.0.113.{rng.randint(1, 254)}])\n"
        f"\tby mx.soctrang.gov.vn (Postfix) with ESMTPS id {rng.getrandbits(40):010X}\n"
        f"\tfor <{to}>; {_date(when + 3)}",
        f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={dom}; s=2026;\n"
        f"\th=from:to:subject:date:message-id:mime-version;\n"
        f"\tbh={base64.b64encode(rng.randbytes(32)).decode()};\n"
        f"\tb={_b64_lines(rng.randbytes(256)).replace(chr(10), chr(10) + chr(9))}",
        f"Message-ID: {mid}",
        f"Date: {_date(when)}",
        f"From: {_word('From', person.name)} <{person.address}>",
        f"To: {to}",
        f"Subject: {_word('Subject', subject)}",
        "MIME-Version: 1.0",
    ]
    h += list(extra)
    name, value = rng.choice(MAILERS)
    if name:
        h.append(f"{name}: {value}")
    return h


def _alternative(rng, plain, html, boundary):
    return (f"--{boundary}\nContent-Type: text/plain; charset=\"UTF-8\"\n"
            f"Content-Transfer-Encoding: quoted-printable\n\n{_qp(plain)}\n"
            f"--{boundary}\nContent-Type: text/html; charset=\"UTF-8\"\n"
            f"Content-Transfer-Encoding: base64\n\n{_b64_lines(html.encode())}\n"
            f"--{boundary}--\n")


def _photos(rng, i):
    """1-3 photos whose sizes add up to 200 KB - 2 MB (log-uniform: most are small)."""
    total = int(200_000 * 10 ** rng.uniform(0, 1))
    n = rng.choice([1, 1, 2, 3])
    sizes = [total // n] * n
    out = []
    for k, size in enumerate(sizes):
        if rng.random() < 0.5:
            name = f"IMG_20261127_{rng.randint(60000, 235959):06d}.jpg"
        else:
            name = f"ảnh hiện trường {i}-{k + 1}.jpg"
        out.append((name, _jpeg(rng, size)))
    return out


def message(seed, i, domain=None, to=SECTION_GATEWAY, photos=None, complete=False):
    """Message number i (1-based) of corpus SEED, as bytes. DOMAIN: the senders' domain (for
    letters that must be deliverable on the test stack); PHOTOS None: every fifth has them.
    COMPLETE: a plain new report with every field of Điều 4 on labelled lines."""
    rng = random.Random(f"paht-bench:{seed}:{i}")
    p = _Person(rng, i, domain)
    title, detail = rng.choice(TOPICS)
    where = f"{rng.choice(['trước', 'gần', 'đối diện'])} {p.street.split(' đường ')[0]} " \
            f"đường {rng.choice(STREETS)}, {rng.choice(PLACES)}"
    when_text = f"khoảng {rng.randint(5, 21)} giờ ngày {rng.randint(1, 27)}/11/2026"
    when = BASE_TIME + i * 37 + rng.randint(0, 30)
    subject = f"{title} tại {where.split(', ')[-1]}"
    with_photos = (i % 5 == 2) if photos is None else photos
    u = rng.random()
    kind = ("html" if u < 0.03 else "cp1258" if u < 0.08 else "forward" if u < 0.12 else
            "reply" if u < 0.22 else "alternative")
    if complete:
        kind = "alternative"
    fields = _fields(rng, p, where, when_text, style=0 if complete else None)
    paras = _paragraphs(rng, detail, rng.randint(3500, 7000))
    text = "\n\n".join(paras[:1] + [fields] + paras[1:]) + f"\n\n{p.name}\n"
    extra = []
    if kind == "reply":
        subject = "Re: " + subject
        ref = f"<{rng.getrandbits(64):016x}@paht.soctrang.gov.vn>"
        extra = [f"In-Reply-To: {ref}", f"References: {ref}"]
        quoted = ("Kính gửi Ông/Bà,\nTrung tâm IOC đã nhận được phản ánh của Ông/Bà.\n"
                  f"Mã số theo dõi: PAHT-2026-{rng.randint(1, 999999):06d}\n\n" +
                  "\n".join(paras[-1][k:k + 70] for k in range(0, min(len(paras[-1]), 700), 70)))
        text = ("Tôi xin bổ sung thông tin như sau:\n\n" + fields + "\n" + paras[0] +
                f"\n\nVào lúc 08:{rng.randint(10, 59)} ngày 27/11/2026, Trung tâm IOC "
                f"<{SECTION_GATEWAY}> đã viết:\n" +
                "\n".join("> " + line for line in quoted.splitlines()) + "\n")
    if kind == "forward":
        subject = "Fwd: " + subject
    head = _headers(rng, i, p, to, subject, when, extra)
    html = _html(paras[:1] + [fields.replace("\n", "<br>\n")] + paras[1:])

    # the message's entities (header lines, body): one is the whole message, several go
    # into a multipart/mixed
    entities = []
    if kind == "html":
        entities.append((['Content-Type: text/html; charset="utf-8"',
                          "Content-Transfer-Encoding: quoted-printable"], _qp(html)))
    elif kind == "cp1258":
        body = quopri.encodestring(_cp1258(text)).decode("ascii").replace("\r\n", "\n")
        entities.append((['Content-Type: text/plain; charset="windows-1258"',
                          "Content-Transfer-Encoding: quoted-printable"], body))
    elif kind == "forward":
        inner_rng = random.Random(f"paht-bench-fwd:{seed}:{i}")
        q = _Person(inner_rng, i, domain)
        inner = "\n".join(_headers(inner_rng, i, q, p.address, subject[5:], when - 86400))
        inner += ('\nContent-Type: text/plain; charset="utf-8"\n'
                  "Content-Transfer-Encoding: 8bit\n\n" + text)
        outer = (f"Tôi chuyển tiếp phản ánh của người thân trong gia đình, nhờ quý cơ quan "
                 f"xem xét.\n\n{p.name}\n")
        entities.append((['Content-Type: text/plain; charset="utf-8"',
                          "Content-Transfer-Encoding: quoted-printable"], _qp(outer)))
        entities.append((["Content-Type: message/rfc822", "Content-Disposition: inline"], inner))
    else:
        b_alt = f"----=_Part_{i}_{rng.getrandbits(32)}.{when}"
        entities.append(([f'Content-Type: multipart/alternative; boundary="{b_alt}"'],
                         _alternative(rng, text, html, b_alt)))
    if with_photos:
        for name, data in _photos(rng, i):
            if name.isascii():
                lines = [f'Content-Type: image/jpeg; name="{name}"',
                         f'Content-Disposition: attachment; filename="{name}"']
            else:
                quoted = "".join(c if c.isascii() and (c.isalnum() or c in ".-_") else
                                 "".join(f"%{b:02X}" for b in c.encode()) for c in name)
                lines = ["Content-Type: image/jpeg",
                         f"Content-Disposition: attachment;\n filename*=utf-8''{quoted}"]
            entities.append((lines + ["Content-Transfer-Encoding: base64"], _b64_lines(data)))

    if len(entities) == 1:
        head += entities[0][0]
        body = entities[0][1]
    else:
        b_mix = f"----=_Mixed_{i}_{rng.getrandbits(32)}"
        head.append(f'Content-Type: multipart/mixed; boundary="{b_mix}"')
        body = "This is a multi-part message in MIME format.\n\n"
        for lines, content in entities:
            body += f"--{b_mix}\n" + "\n".join(lines) + f"\n\n{content}\n"
        body += f"--{b_mix}--\n"
    return ("\n".join(head) + "\n\n" + body).encode("utf-8")


def small_message(i, to, domain="example.test"):
    """A short plain report (about 1.5 KB) for filling folders cheaply."""
    rng = random.Random(f"paht-bench-small:{i}")
    p = _Person(rng, i, domain)
    title, detail = rng.choice(TOPICS)
    when = BASE_TIME - 86400 * 30 + i * 60
    head = _headers(rng, i, p, to, title, when)
    head += ['Content-Type: text/plain; charset="utf-8"', "Content-Transfer-Encoding: 8bit"]
    return ("\n".join(head) + f"\n\n{title}: {detail}.\n\n{p.name}\n").encode("utf-8")


def big_message(path, mib, to=SECTION_GATEWAY):
    """One report of MIB MiB (a phone video, base64), written in pieces: never all in memory
    here either. Returns (size, sha256 of the decoded attachment)."""
    rng = random.Random("paht-bench-big")
    p = _Person(rng, 1, None)
    head = _headers(rng, 1, p, to, "Phản ánh xe quá tải chạy ban đêm (video đính kèm)", BASE_TIME)
    b = f"----=_Big_{rng.getrandbits(32)}"
    head.append(f'Content-Type: multipart/mixed; boundary="{b}"')
    text = _fields(rng, p, "cầu Kênh Xáng, Phường 4, TP. Sóc Trăng", "đêm 27/11/2026")
    top = ("\n".join(head) + f"\n\n--{b}\nContent-Type: text/plain; charset=\"utf-8\"\n"
           f"Content-Transfer-Encoding: 8bit\n\nKính gửi Trung tâm IOC, xe tải chở cát chạy "
           f"suốt đêm làm nứt mặt cầu. Video đính kèm.\n\n{text}\n"
           f"--{b}\nContent-Type: video/mp4; name=\"video_cau_kenh_xang.mp4\"\n"
           f"Content-Disposition: attachment; filename=\"video_cau_kenh_xang.mp4\"\n"
           f"Content-Transfer-Encoding: base64\n\n").encode()
    tail = f"\n--{b}--\n".encode()
    target = mib * 1024 * 1024
    # 57 bytes of data make one 76-character line plus LF
    raw_len = (target - len(top) - len(tail)) // 77 * 57
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        f.write(top)
        left = raw_len
        chunk = 57 * 16384
        first = True
        while left > 0:
            n = min(chunk, left)
            data = rng.randbytes(n)
            if first:
                data = b"\x00\x00\x00\x20ftypisom" + data[12:]
                first = False
            digest.update(data)
            f.write(_b64_lines(data).encode() + b"\n")
            left -= n
        f.seek(-1, os.SEEK_CUR)  # the last line's LF belongs to the boundary delimiter
        f.write(tail)
        f.truncate()
        size = f.tell()
    return size, digest.hexdigest()


def write_corpus(folder, n, seed=1, domain=None, photos=None, prefix=""):
    """Writes messages 1..n to FOLDER (kept when complete and of the same version).
    Returns the list of paths."""
    os.makedirs(folder, exist_ok=True)
    manifest_path = os.path.join(folder, "manifest.json")
    want = {"version": VERSION, "n": n, "seed": seed, "domain": domain, "photos": photos}
    paths = [os.path.join(folder, f"{prefix}{i:05d}.eml") for i in range(1, n + 1)]
    try:
        with open(manifest_path) as f:
            if json.load(f).get("params") == want and all(os.path.exists(p) for p in paths):
                return paths
    except (OSError, ValueError):
        pass
    total = 0
    for i, path in enumerate(paths, 1):
        data = message(seed, i, domain=domain, photos=photos)
        total += len(data)
        with open(path, "wb") as f:
            f.write(data)
    with open(manifest_path, "w") as f:
        json.dump({"params": want, "bytes": total}, f)
    return paths


def corpus_bytes(folder):
    with open(os.path.join(folder, "manifest.json")) as f:
        return json.load(f)["bytes"]


def main(argv):
    if len(argv) >= 3 and argv[0] == "--big":
        size, sha = big_message(argv[1], int(argv[2]))
        print(f"{argv[1]}: {size} bytes, attachment sha256 {sha}")
        return 0
    args = [a for a in argv if not a.startswith("--")]
    opts = dict(a[2:].split("=", 1) for a in argv if a.startswith("--") and "=" in a)
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    paths = write_corpus(args[0], int(args[1]), seed=int(opts.get("seed", 1)),
                         domain=opts.get("domain"))
    print(f"{len(paths)} messages, {corpus_bytes(args[0]) / 1e6:.1f} MB in {args[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
