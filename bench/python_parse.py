#!/usr/bin/python3
"""The "parse" figure's baseline: what a scripted ingester does with Python's standard library.

For every file: email.message_from_binary_file(policy=email.policy.default), the Subject and
From headers decoded (RFC 2047), then every leaf part decoded with get_content() (transfer
encoding, then charset for text). Single process, as bench_parse_files and bench_gmime_walk.

    python_parse.py FILE... | @LIST
Prints one line: files, failures, decoded characters and bytes, seconds (own clock).
Run it with Debian's /usr/bin/python3 (bench/run does): the pyenv build first on PATH here is
about a third slower and would flatter the gateway.
"""
import email
import email.policy
import sys
import time


def paths(args):
    for a in args:
        if a.startswith("@"):
            with open(a[1:], encoding="utf-8") as f:
                yield from (line.strip() for line in f if line.strip())
        else:
            yield a


def main(args):
    files = failures = decoded = 0
    t0 = time.monotonic()
    for path in paths(args):
        files += 1
        try:
            with open(path, "rb") as f:
                msg = email.message_from_binary_file(f, policy=email.policy.default)
            decoded += len(str(msg["subject"] or "")) + len(str(msg["from"] or ""))
            for part in msg.walk():
                if part.is_multipart():
                    continue
                content = part.get_content()
                decoded += len(content) if isinstance(content, (str, bytes)) else 0
        except Exception as e:  # a baseline that skips a file must say so
            print(f"python_parse: {path}: {e!r}", file=sys.stderr)
            failures += 1
    seconds = time.monotonic() - t0
    print(f"files {files} failures {failures} decoded {decoded} seconds {seconds:.3f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
