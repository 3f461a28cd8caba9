"""What an image is: validation (status 126) and `ethox-uk inspect` (host side, CPython).

    check(path)  -> ImageInfo, or ImageError (one line: what is wrong, what to do)
    info.as_dict() -> the `inspect --json` object (DESIGN §5 keys, plus `memory`, `cmdline`)

An image is an ELF64 x86-64 file whose PT_NOTE segment holds the PVH note (name "Xen", type
18 = XEN_ELFNOTE_PHYS32_ENTRY, a 4- or 8-byte entry address) and whose loadable bytes lie
inside the file. Build metadata is the JSON in the `.ethox_meta` section that `ethox-uk
build` passes to `make -C vm` as META; when a key is absent (an image built by hand), the
frozen module names come from the `mp_frozen_names` symbol instead.
"""

import json
import os
import struct

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

PVH_NOTE_NAME = b"Xen"
PVH_NOTE_TYPE = 18
META_SECTION = ".ethox_meta"
FROZEN_NAMES_SYMBOL = "mp_frozen_names"
BUILD_HINT = "build one with `ethox-uk build` (it writes build/<recipe>.elf)"


class ImageError(Exception):
    """Not a bootable ethox-uk image; str() is one line. The CLI exits 126."""


class ImageInfo:
    def __init__(self, path, size, entry, pvh_entry, sections, meta, frozen_modules,
                 load_end=0):
        self.path = path
        # the guest-physical end of the loaded image (code, data, bss: the filesystem's RAM
        # area among them); the interpreter's heap is the RAM above it
        self.load_end = load_end
        self.size = size
        self.entry = entry
        self.pvh_entry = pvh_entry
        self.sections = sections  # [{"name", "addr", "size"}]
        self.meta = meta  # dict (empty when the image has no .ethox_meta)
        self.frozen_modules = frozen_modules

    def get(self, key, default=None):
        v = self.meta.get(key)
        return default if v is None else v

    def as_dict(self):
        return {
            "entry": self.entry,
            "pvh_entry": self.pvh_entry,
            "size": self.size,
            "sections": self.sections,
            "frozen_modules": self.frozen_modules,
            "micropython_version": self.meta.get("micropython_version"),
            "source_sha256": self.meta.get("source_sha256"),
            "recipe": self.meta.get("recipe"),
            "revision": self.meta.get("revision"),
            "memory": self.meta.get("memory"),
            "cmdline": self.meta.get("cmdline"),
        }


def _notes(data):
    """(name, type, desc) of each note in a PT_NOTE segment's bytes (4-byte aligned)."""
    off = 0
    while off + 12 <= len(data):
        namesz, descsz, ntype = struct.unpack_from("<III", data, off)
        off += 12
        name = data[off:off + namesz].rstrip(b"\0")
        off += (namesz + 3) & ~3
        desc = data[off:off + descsz]
        off += (descsz + 3) & ~3
        if len(desc) < descsz:
            return
        yield name, ntype, desc


def module_name(frozen_path):
    """'ethox_uk/stack/wire/ipv4.py' -> 'ethox_uk.stack.wire.ipv4' (packages lose __init__)."""
    p = frozen_path
    for ext in (".py", ".mpy"):
        if p.endswith(ext):
            p = p[:-len(ext)]
    if p.endswith("/__init__"):
        p = p[:-len("/__init__")]
    return p.replace("/", ".")


def _frozen_from_symbol(elf, f):
    symtab = elf.get_section_by_name(".symtab")
    if symtab is None:
        return []
    syms = symtab.get_symbol_by_name(FROZEN_NAMES_SYMBOL)
    if not syms:
        return []
    addr = syms[0]["st_value"]
    for sec in elf.iter_sections():
        if sec["sh_type"] == "SHT_PROGBITS" and sec["sh_addr"] <= addr < sec["sh_addr"] + sec["sh_size"]:
            f.seek(sec["sh_offset"] + addr - sec["sh_addr"])
            raw = f.read(sec["sh_addr"] + sec["sh_size"] - addr)
            end = raw.find(b"\0\0")
            names = raw[:end if end >= 0 else len(raw)].split(b"\0")
            return [module_name(n.decode(errors="replace")) for n in names if n]
    return []


def check(path):
    """Validate an image and read what `inspect` shows; ImageError when QEMU cannot boot it."""
    shown = str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ImageError("%s: no such image: %s" % (shown, BUILD_HINT)) from None
    except OSError as e:
        raise ImageError("%s: cannot read the image: %s" % (shown, e.strerror or e)) from None
    if not os.path.isfile(path):
        raise ImageError("%s is not a file: give the path of an image (%s)" % (shown, BUILD_HINT))
    size = st.st_size
    try:
        f = open(path, "rb")
    except OSError as e:
        raise ImageError("%s: cannot read the image: %s" % (shown, e.strerror or e)) from None
    with f:
        head = f.read(64)
        if head[:4] != b"\x7fELF":
            raise ImageError("%s is not an ELF file: not an ethox-uk image; %s" % (shown, BUILD_HINT))
        if len(head) < 64:
            raise ImageError("%s is truncated (%d bytes, shorter than an ELF header): rebuild it "
                             "with `ethox-uk build`" % (shown, size))
        if head[4] != 2 or struct.unpack_from("<H", head, 18)[0] != 62:
            raise ImageError("%s is an ELF file for another machine (not ELF64 x86-64): not an "
                             "ethox-uk image; %s" % (shown, BUILD_HINT))
        try:
            elf = ELFFile(f)
            return _read(elf, f, shown, size)
        except (ELFError, struct.error, ValueError, EOFError) as e:
            raise ImageError("%s is truncated or damaged (%s): rebuild it with `ethox-uk build`"
                             % (shown, str(e).strip() or type(e).__name__)) from None


def _read(elf, f, shown, size):
    # Every byte the loader or a reader needs must be inside the file.
    need = elf["e_phoff"] + elf["e_phnum"] * elf["e_phentsize"]
    need = max(need, elf["e_shoff"] + elf["e_shnum"] * elf["e_shentsize"])
    segments = list(elf.iter_segments())
    for seg in segments:
        need = max(need, seg["p_offset"] + seg["p_filesz"])
    if need > size:
        raise ImageError("%s is truncated (%d bytes, needs %d): rebuild it with `ethox-uk build`"
                         % (shown, size, need))
    if not any(s["p_type"] == "PT_LOAD" for s in segments):
        raise ImageError("%s has no loadable segment: not an ethox-uk image; %s" % (shown, BUILD_HINT))

    pvh = None
    for seg in segments:
        if seg["p_type"] != "PT_NOTE":
            continue
        for name, ntype, desc in _notes(seg.data()):
            if name == PVH_NOTE_NAME and ntype == PVH_NOTE_TYPE and len(desc) in (4, 8):
                pvh = int.from_bytes(desc, "little")
    if pvh is None:
        raise ImageError("%s has no PVH note (\"Xen\", type 18), so QEMU cannot boot it with "
                         "-kernel: not an ethox-uk image; %s" % (shown, BUILD_HINT))

    sections = []
    meta = {}
    for sec in elf.iter_sections():
        if not sec.name:
            continue
        sections.append({"name": sec.name, "addr": sec["sh_addr"], "size": sec["sh_size"]})
        if sec.name == META_SECTION and sec["sh_type"] != "SHT_NOBITS":
            raw = sec.data().rstrip(b"\0").strip()
            try:
                meta = json.loads(raw.decode()) if raw else {}
            except (UnicodeDecodeError, ValueError):
                meta = {}
            if not isinstance(meta, dict):
                meta = {}
    frozen = meta.get("frozen_modules")
    if not isinstance(frozen, list):
        frozen = _frozen_from_symbol(elf, f)
    load_end = max(s["p_paddr"] + s["p_memsz"] for s in segments if s["p_type"] == "PT_LOAD")
    return ImageInfo(shown, size, elf["e_entry"], pvh, sections, meta, frozen, load_end)


def format_text(info):
    """The human-readable `inspect` output."""
    lines = [
        "image               %s" % info.path,
        "size                %d bytes" % info.size,
        "entry               0x%x" % info.entry,
        "pvh_entry           0x%x" % info.pvh_entry,
    ]
    for key in ("recipe", "revision", "micropython_version", "source_sha256", "memory", "cmdline"):
        v = info.meta.get(key)
        lines.append("%-19s %s" % (key, "-" if v is None else v))
    lines.append("sections")
    for s in info.sections:
        lines.append("  %-18s 0x%08x %8d" % (s["name"], s["addr"], s["size"]))
    lines.append("frozen_modules (%d)" % len(info.frozen_modules))
    for m in info.frozen_modules:
        lines.append("  " + m)
    return "\n".join(lines)
