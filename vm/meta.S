/* ethox-uk runtime: build metadata (JSON written by the Makefile), in a
 * section that is not loaded.  `ethox-uk inspect` reads it. */
        .section .ethox_meta, "", @progbits
        .incbin "ethox_meta.json"
        .section .note.GNU-stack, "", @progbits
