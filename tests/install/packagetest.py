"""packagetest: helpers for the tests of the Debian package and of `cmake --install` (issue 17).

Python standard library only. Under CTest, PAHT_SOURCE_DIR is the source tree and
PAHT_BUILD_DIR the build folder; the package is built from a copy of the source tree (never in
it: dpkg-buildpackage writes into the tree and into its parent) and kept in the build folder
under the digest of the sources, so that the tests of one run share one package and a changed
source makes a new one.

    debs = package()                       # {"paht-mail": path, ...}
    with Overlay() as host:                # this machine's root, writes kept aside
        host.run("dpkg", "-i", host.copy_in(debs["paht-mail"]))
"""

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile

__all__ = ["SetupError", "source_files", "source_copy", "package", "Overlay"]


class SetupError(RuntimeError):
    """The test environment is incomplete: never a silent pass."""


def _env(name):
    value = os.environ.get(name)
    if not value:
        raise SetupError(f"{name} is not set: run the tests through CTest")
    return value


def _git_files(source):
    """The files of the working tree git would commit (tracked or new, not ignored), or None
    outside a git checkout."""
    try:
        out = subprocess.run(["git", "-C", source, "ls-files", "-z", "-co", "--exclude-standard"],
                             capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    names = [n for n in out.decode("utf-8", "surrogateescape").split("\0") if n]
    return sorted(n for n in names if os.path.isfile(os.path.join(source, n)))


def source_files(source=None):
    """Relative paths of the source tree's files: git's view of the working tree, or every
    file outside build folders in a tree that is not a checkout."""
    source = source or _env("PAHT_SOURCE_DIR")
    names = _git_files(source)
    if names is not None:
        return names
    names = []
    for top, dirs, files in os.walk(source):
        rel = os.path.relpath(top, source)
        dirs[:] = [d for d in dirs if not (rel == "." and (d.startswith(("build", "obj-"))
                                                           or d in (".git", "demo")))]
        names += [os.path.normpath(os.path.join(rel, f)) for f in files]
    return sorted(names)


def source_copy(dest, source=None):
    """Copy the source tree's files into DEST (modes kept); returns DEST."""
    source = source or _env("PAHT_SOURCE_DIR")
    for name in source_files(source):
        target = os.path.join(dest, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(source, name), target, follow_symlinks=False)
    return dest


def _digest(source):
    h = hashlib.sha256()
    for name in source_files(source):
        path = os.path.join(source, name)
        h.update(name.encode("utf-8", "surrogateescape") + b"\0")
        h.update(oct(os.lstat(path).st_mode).encode() + b"\0")
        with open(path, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()[:16]


def package():
    """The Debian packages built by `dpkg-buildpackage -us -uc -b` from a copy of the source
    tree (DEB_BUILD_OPTIONS=nocheck: the suite runs the tests itself), as {name: .deb path},
    plus "changes" (the .changes file) and "log" (the build's output)."""
    source = _env("PAHT_SOURCE_DIR")
    root = os.path.join(_env("PAHT_BUILD_DIR"), "package-test")
    os.makedirs(root, exist_ok=True)
    out = os.path.join(root, _digest(source))
    with open(os.path.join(root, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; the others take its result
        done = os.path.join(out, "built")
        if not os.path.exists(done):
            for old in os.listdir(root):  # the packages of sources that changed since
                if old != "lock":
                    shutil.rmtree(os.path.join(root, old), ignore_errors=True)
            tree = source_copy(os.path.join(out, "paht-mail"), source)
            env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck parallel=2")
            log = os.path.join(out, "build.log")
            with open(log, "wb") as f:
                p = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=tree, env=env,
                                   stdout=f, stderr=subprocess.STDOUT, timeout=1800)
            if p.returncode != 0:
                with open(log, encoding="utf-8", errors="replace") as f:
                    tail = f.read()[-4000:]
                raise AssertionError(f"dpkg-buildpackage failed ({p.returncode}):\n{tail}")
            shutil.rmtree(tree)  # the build folder is large; the packages are beside it
            open(done, "w").close()
    found = {"log": os.path.join(out, "build.log")}
    for name in os.listdir(out):
        if name.endswith(".deb"):
            found[name.split("_")[0]] = os.path.join(out, name)
        elif name.endswith(".changes"):
            found["changes"] = os.path.join(out, name)
    if "paht-mail" not in found:
        raise AssertionError(f"no paht-mail_*.deb in {out}: {sorted(os.listdir(out))}")
    return found


class Overlay:
    """This machine's root file system with every write kept aside (an overlay mount in a
    private mount namespace, over a temporary folder): packages are installed, users made and
    files deleted in it for real, and the machine itself is left as it was. Commands run in it
    through chroot; its /proc and /dev are the machine's. Needs root and overlayfs.

    Services are never started in it (policy-rc.d says no), and the machine's systemd, if any,
    is not reachable from it (its /run is the root file system's, empty)."""

    def __init__(self):
        if os.geteuid() != 0:
            raise SetupError("the package install tests need root (they mount an overlay)")
        for tool in ("unshare", "chroot", "mount"):
            if not shutil.which(tool):
                raise SetupError(f"{tool} is not installed")
        self.dir = tempfile.mkdtemp(prefix="paht-overlay-")
        self.root = os.path.join(self.dir, "root")
        self._holder = None

    def __enter__(self):
        layers = os.path.join(self.dir, "layers")
        for d in (layers, self.root):
            os.mkdir(d)
        upper, work = os.path.join(layers, "upper"), os.path.join(layers, "work")
        # A process that holds the namespace: commands enter it with nsenter. The mounts
        # vanish with it, whatever happens to the test. The writes go to a tmpfs: an overlay's
        # upper layer may not itself be on overlayfs, as / is in many containers.
        script = (
            "set -e\n"
            f"mount -t tmpfs -o mode=0700 tmpfs {layers}\n"
            f"mkdir {upper} {work}\n"
            f"mount -t overlay overlay -o lowerdir=/,upperdir={upper},workdir={work} {self.root}\n"
            f"mount --rbind /proc {self.root}/proc\n"
            f"mount --rbind /dev {self.root}/dev\n"
            f"mount -t tmpfs -o mode=0755 tmpfs {self.root}/run\n"
            "echo ready\n"
            "exec sleep infinity\n"
        )
        self._holder = subprocess.Popen(["unshare", "--mount", "--propagation", "private",
                                         "sh", "-c", script], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        line = self._holder.stdout.readline().strip()
        if line != "ready":
            self._holder.kill()
            err = self._holder.stderr.read()
            self._holder.wait()
            shutil.rmtree(self.dir, ignore_errors=True)
            raise SetupError(f"cannot mount an overlay of / (overlayfs, mount namespaces): {err}")
        # never start a daemon from a package script in here
        self.write("/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0o755)
        return self

    def __exit__(self, *exc):
        if self._holder:
            self._holder.kill()
            self._holder.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def path(self, inside):
        """Where INSIDE (an absolute path in the overlay) is, seen from the test (through the
        namespace's root, /proc/PID/root)."""
        return f"/proc/{self._holder.pid}/root{self.root}{inside}"

    def run(self, *argv, env=None, input=None, check=False, timeout=600):
        """Run ARGV chrooted in the overlay (text, output captured)."""
        command = ["nsenter", f"--mount=/proc/{self._holder.pid}/ns/mnt", "chroot", self.root,
                   *map(str, argv)]
        full_env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}
        full_env.update(env or {})
        p = subprocess.run(command, env=full_env, input=input, capture_output=True, text=True,
                           timeout=timeout, stdin=None if input is not None else subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(map(str, argv))} exited {p.returncode}:\n"
                                 f"{p.stdout}\n{p.stderr}")
        return p

    def sh(self, script, **kw):
        """Run SCRIPT with sh -e in the overlay, as an administrator types it."""
        return self.run("sh", "-ec", script, **kw)

    def write(self, inside, text, mode=0o644):
        with open(self.path(inside), "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(self.path(inside), mode)

    def read(self, inside):
        with open(self.path(inside), encoding="utf-8") as f:
            return f.read()

    def copy_in(self, path, inside_dir="/tmp"):
        """Copy the file at PATH into the overlay; returns its path inside."""
        inside = os.path.join(inside_dir, os.path.basename(path))
        shutil.copy2(path, self.path(inside))
        return inside
