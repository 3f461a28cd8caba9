"""Bad input to the image commands: each is one line on stderr saying what to do, the exit
status of DESIGN §5, and nothing half-written left behind.

Exit statuses are also checked against tiny PVH kernels assembled here (a few instructions:
write a value to isa-debug-exit, triple-fault, or use SSE in ring 0 — an "emulation
failure" KVM internal error under this machine's kvm_pvm, which QEMU answers by pausing the
VM: only the QMP watcher turns that into 125).
"""

import os
import shutil
import subprocess
import time
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from ethox_uk.cli import image as cli_image
from ethox_uk.qemu import kvm

REPO = Path(__file__).resolve().parents[2]
KVM = "kvm" if kvm.usable() else "tcg"
KVM_PVM = os.path.isdir("/sys/module/kvm_pvm")  # ring-0 SSE is an emulation failure there
T_CMD = 120

KERNEL_S = r"""
        .section .note.pvh, "a", @note
        .align 4
        .long 4, 8, 18
        .asciz "Xen"
        .align 4
        .quad _start
        .text
        .code32
        .globl _start
_start:
#ifdef SSE
        mov %cr0, %eax
        and $~4, %eax
        or $2, %eax
        mov %eax, %cr0
        mov %cr4, %eax
        or $0x600, %eax
        mov %eax, %cr4
        pxor %xmm0, %xmm0
#endif
#ifdef TRIPLE
        lidt idt0
        int3
#endif
#ifdef HANG
2:      cli
        hlt
        jmp 2b
#endif
        mov $0xf4, %dx
        mov $VALUE, %al
        out %al, %dx
1:      hlt
        jmp 1b
idt0:   .word 0
        .long 0
"""


def eu():
    return [sys.executable, "-m", "ethox_uk.cli"]


def run_eu(*args, cwd=REPO, timeout=T_CMD, env=None):
    return subprocess.run(eu() + [str(a) for a in args], cwd=cwd, capture_output=True,
                          timeout=timeout, env=env, stdin=subprocess.DEVNULL)


def one_line(r, *words):
    """stderr is exactly one line and mentions every word."""
    err = r.stderr.decode()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    d = tmp_path_factory.mktemp("kernels")
    (d / "k.S").write_text(KERNEL_S)
    out = {}
    for name, flags in (("exit5", ["-DVALUE=0x15"]), ("triple", ["-DVALUE=0x15", "-DTRIPLE"]),
                        ("sse", ["-DVALUE=0x15", "-DSSE"]), ("hang", ["-DVALUE=0x15", "-DHANG"])):
        subprocess.run(["gcc", "-c", *flags, "-o", str(d / (name + ".o")), str(d / "k.S")],
                       check=True, timeout=60)
        subprocess.run(["ld", "-m", "elf_x86_64", "-Ttext=0x100000", "-e", "_start", "-o",
                        str(d / (name + ".elf")), str(d / (name + ".o"))], check=True,
                       timeout=60)
        out[name] = d / (name + ".elf")
    return out


# -- statuses from real guests ----------------------------------------------------------

@pytest.mark.parametrize("accel", sorted({KVM, "tcg"}))
def test_guest_exit_value(kernels, accel):
    r = run_eu("run", kernels["exit5"], "--accel", accel)
    assert r.returncode == 5, r.stderr.decode()
    r = run_eu("exec", kernels["exit5"], "pass", "--accel", accel)  # ends before any REPL
    assert r.returncode == 5, r.stderr.decode()
    assert b"ended before its REPL" in r.stderr


def test_no_ready_line_within_timeout_is_124(kernels):
    t0 = time.monotonic()
    r = run_eu("run", kernels["hang"], "--timeout", "2", "--accel", "tcg")
    assert r.returncode == 124, r.stderr.decode()
    assert b"no ready line within 2 s" in r.stderr
    assert time.monotonic() - t0 < 30


def test_triple_fault_is_125(kernels):
    r = run_eu("run", kernels["triple"], "--accel", "tcg")
    assert r.returncode == 125, r.stderr.decode()


def test_kvm_internal_error_is_125(kernels):
    # Under kvm_pvm ring-0 SSE stops the VM with a KVM internal error: QEMU pauses instead of
    # exiting, and only QMP notices. Elsewhere (hardware KVM, TCG) the kernel just exits 5.
    r = run_eu("run", kernels["sse"], "--accel", KVM, "--timeout", "30")
    if KVM == "kvm" and KVM_PVM:
        assert r.returncode == 125, r.stderr.decode()
        assert b"internal-error" in r.stderr
    else:
        assert r.returncode == 5, r.stderr.decode()


# -- invalid images: 126 ----------------------------------------------------------------

def test_missing_image(tmp_path):
    missing = tmp_path / "nope.elf"
    for cmd in (["run"], ["exec"], ["repl"], ["inspect"]):
        args = cmd + [missing] + (["pass"] if cmd == ["exec"] else [])
        r = run_eu(*args)
        assert r.returncode == 126, (cmd, r.stderr.decode())
        one_line(r, "no such image", "ethox-uk build")


def test_foreign_and_truncated_images(tmp_path, kernels):
    text = tmp_path / "text.elf"
    text.write_text("not an image\n")
    r = run_eu("run", text)
    assert r.returncode == 126
    one_line(r, "not an ELF file")

    r = run_eu("exec", "/bin/true", "pass")  # an ELF, but no PVH note
    assert r.returncode == 126
    one_line(r, "no PVH note")

    elf32 = tmp_path / "elf32.elf"
    data = bytearray(kernels["exit5"].read_bytes())
    data[4] = 1  # ELFCLASS32
    elf32.write_bytes(bytes(data))
    r = run_eu("inspect", elf32)
    assert r.returncode == 126
    one_line(r, "another machine")

    for cut in (40, 300, len(data) - 8):
        short = tmp_path / ("short%d.elf" % cut)
        short.write_bytes(kernels["exit5"].read_bytes()[:cut])
        r = run_eu("run", short)
        assert r.returncode == 126, (cut, r.stderr.decode())
        one_line(r, "truncated")


# -- QEMU and KVM missing: 120 ----------------------------------------------------------

def test_missing_qemu(tmp_path, kernels):
    env = dict(os.environ, PATH=str(tmp_path))  # no qemu-system-x86_64 on PATH
    for args in (["run", kernels["exit5"]], ["exec", kernels["exit5"], "pass"]):
        r = run_eu(*args, env=env)
        assert r.returncode == 120, r.stderr.decode()
        one_line(r, "qemu-system-x86_64 not found", "qemu-system-x86")


def test_kvm_unusable(monkeypatch, kernels):
    monkeypatch.setattr(kvm, "probe", lambda device=kvm.KVM_DEVICE: "cannot open /dev/kvm: "
                        "Permission denied")
    runner = CliRunner()
    r = runner.invoke(cli_image.run, [str(kernels["exit5"]), "--accel", "kvm"])
    assert r.exit_code == 120
    assert "KVM is not usable" in r.output and "--accel tcg" in r.output
    r = runner.invoke(cli_image.run, [str(kernels["exit5"])])  # auto: TCG with a notice
    assert r.exit_code == 5
    assert "running under TCG" in r.output


# -- usage errors: 2 --------------------------------------------------------------------

def test_usage_errors(kernels):
    img = kernels["exit5"]
    cases = [
        (["run", img, "--serial", "pty", "--timeout", "3"], "needs --serial stdio"),
        (["run", img, "--serial", "tcp:1234"], "expected stdio, pty or unix:PATH"),
        (["run", img, "--pcap", "/tmp/x.pcap"], "give --net as well"),
        (["run", img, "--mem", "64"], "is not a size"),
        (["exec", img], "expected IMAGE|NAME (CODE | -f FILE)"),
        (["exec", "--attach", "unix:/tmp/x.sock", "--accel", "tcg", "pass"], "running image"),
        (["exec", "--attach", "tcp:1", "pass"], "expected unix:PATH"),
    ]
    for args, words in cases:
        r = run_eu(*args)
        assert r.returncode == 2, (args, r.stderr.decode())
        one_line(r, words)


def test_attach_without_image(tmp_path):
    r = run_eu("exec", "--attach", "unix:%s" % (tmp_path / "none.sock"), "pass")
    assert r.returncode == 120
    one_line(r, "cannot connect", "--serial unix:")


# -- build errors -----------------------------------------------------------------------

def _recipe(tmp_path, app_text, toml='name = "bad"\n'):
    d = tmp_path / "recipe"
    d.mkdir()
    (d / "recipe.toml").write_text(toml)
    (d / "app.py").write_text(app_text)
    return d


def _no_leftovers(out_dir):
    """Nothing at all: no image, no temporary file, no work folder (that is in the cache)."""
    left = sorted(p.name for p in out_dir.iterdir()) if out_dir.exists() else []
    assert left == [], left


def test_recipe_error(tmp_path):
    d = _recipe(tmp_path, "def main(net):\n    pass\n", 'name = "bad"\nmemory = "64"\n')
    r = run_eu("build", d, "-o", tmp_path / "out" / "bad.elf")
    assert r.returncode == 2
    one_line(r, "recipe.toml", "memory", "64M")
    _no_leftovers(tmp_path / "out")
    r = run_eu("build", tmp_path / "nowhere")
    assert r.returncode == 2
    one_line(r, "no such recipe")


def test_checksum_mismatch(tmp_path):
    bad = tmp_path / "micropython_1.25.0+ds.orig.tar.xz"
    bad.write_bytes(b"not the pinned tarball")
    env = dict(os.environ, ETHOX_UK_CACHE=str(tmp_path / "cache"),
               ETHOX_UK_MICROPYTHON_SRC=str(bad))
    r = run_eu("build", "-o", tmp_path / "out" / "echo.elf", env=env)
    assert r.returncode == 1
    one_line(r, "checksum mismatch", "ETHOX_UK_MICROPYTHON_SRC")
    assert bad.exists()  # the user's own file is left where it is
    _no_leftovers(tmp_path / "out")


def test_failed_compile(tmp_path):
    d = _recipe(tmp_path, "def main(net):\n    pass\ndef broken(:\n")
    out = tmp_path / "out"
    r = run_eu("build", d, "-o", out / "bad.elf", timeout=600)
    assert r.returncode == 1
    err = r.stderr.decode()
    first = [ln for ln in err.splitlines() if "error:" in ln][0]
    # the user's file and line first (mpy-cross runs on the recipe's files before make),
    # not a make log of the freezer's temporary copy
    assert first.endswith("%s:3: SyntaxError: invalid syntax" % (d / "app.py")), err
    assert "def broken(:" in err  # the failing line is shown
    _no_leftovers(out)


def test_disk_full(tmp_path):
    """A full disk under the output folder: one line, no image. Real ENOSPC on a tiny
    tmpfs in a private mount namespace (as root, like CI)."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.fail("this test needs root and unshare(1), as CI has")
    mnt = Path(tempfile.mkdtemp(prefix="eunospc", dir="/tmp"))
    try:
        script = ('m=$1; cd "$2"; shift 2; mount -t tmpfs -o size=300k none "$m" || exit 99; '
                  '"$@"; rc=$?; ls -A "$m"; exit $rc')
        cmd = ["unshare", "-m", "sh", "-c", script, "sh", str(mnt), str(REPO)]
        r = subprocess.run(cmd + eu() + ["build", "-o", str(mnt / "echo.elf")],
                           capture_output=True, timeout=600)
        assert r.returncode == 1, r.stderr.decode()
        lines = [ln for ln in r.stderr.decode().splitlines() if ln.strip()
                 and "building" not in ln]
        assert len(lines) == 1 and "no space left on device" in lines[0], r.stderr.decode()
        assert r.stdout.split() == []  # `ls -A` of the full folder: no image, no work folder
    finally:
        shutil.rmtree(mnt, ignore_errors=True)


def test_build_work_folder_is_private_in_the_cache_never_beside_the_output(tmp_path):
    """Issue 11 item 10: `build -o DIR/x.elf` used to build in DIR/.work/<name>, following a
    symlink planted there (and running the manifest.py found there). Now make's work folder
    is in the cache, 0700, and DIR holds the image alone."""
    from ethox_uk.build import image as image_mod
    from ethox_uk.build import recipe as recipe_mod

    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    os.symlink(elsewhere, out / ".work")
    r = run_eu("build", "-q", "-o", out / "echo.elf", timeout=900)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    assert sorted(os.listdir(out)) == [".work", "echo.elf"] and (out / ".work").is_symlink()
    assert os.listdir(elsewhere) == []
    work = image_mod.work_dir(recipe_mod.load("images/echo"))
    assert (work / "manifest.py").is_file() and (work / "vm" / "ethox.elf").is_file()
    for d in (work, work.parent):
        st = os.lstat(d)
        assert st.st_uid == os.geteuid() and st.st_mode & 0o777 == 0o700, (d, oct(st.st_mode))


def test_build_refuses_a_work_folder_that_is_not_private(tmp_path):
    cache, elsewhere = tmp_path / "cache", tmp_path / "elsewhere"
    cache.mkdir()
    elsewhere.mkdir()
    os.symlink(elsewhere, cache / "work")
    env = dict(os.environ, ETHOX_UK_CACHE=str(cache))
    r = run_eu("build", "-q", "-o", tmp_path / "out" / "echo.elf", env=env)
    assert r.returncode == 1
    one_line(r, str(cache / "work"), "not a private folder", "ETHOX_UK_CACHE")
    assert os.listdir(elsewhere) == []
