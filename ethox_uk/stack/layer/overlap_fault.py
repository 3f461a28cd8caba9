# Test-only (the negative control frag_accept_overlap, see ../faults.py):
# reassembly that keeps overlapping fragments -- the data already held wins --
# where RFC 791 practice and RFC 5722 drop the datagram, so the conformance
# suite can show that its overlap checks fail. Images never set a fault and
# leave this file out (build/image.py HOST_ONLY); a table imports it only when
# the switch is on.
from .reassembly import MAX_RANGES, NO_MEMORY


def store_overlapping(table, i, view, p, off, end, mf):
    """ReassemblyTable._store for table's slot i, but the fragment's data at
    view[p:] for [off, end) is stored only where nothing is held yet, and the
    ranges merged; returns as _store. Allocates (it never runs in an image)."""
    nr = table.nranges[i]
    rs = table.rs[i]
    re = table.re[i]
    v = table.views[i]
    q = table.data
    held = [(rs[k], re[k]) for k in range(nr)]
    pos = off
    for a, b in held:  # copy the gaps between held ranges
        if a > pos and pos < end:
            e = a if a < end else end
            v[q + pos:q + e] = view[p + pos - off:p + e - off]
        if b > pos:
            pos = b
    if pos < end:
        v[q + pos:q + end] = view[p + pos - off:p + end - off]
    held.append((off, end))
    held.sort()
    nr = 0
    for a, b in held:  # the union, as sorted disjoint ranges
        if nr and a <= re[nr - 1]:
            if b > re[nr - 1]:
                re[nr - 1] = b
        else:
            if nr >= MAX_RANGES:
                table._kill(i, table.reasons[NO_MEMORY])
                return -1
            rs[nr] = a
            re[nr] = b
            nr += 1
    table.nranges[i] = nr
    t = table.total[i]
    if not mf:
        table.total[i] = t = end
    if off == 0:
        table.first[i] = 1
    return 1 if t >= 0 and nr == 1 and rs[0] == 0 and re[0] == t else 0
