// No native code compiler at run time: the image's frozen modules carry their
// x64 code already (mpy-cross made it), and nothing typed at the REPL or sent
// by `exec` needs one, so the emitter (py/emitnx64.c + py/asmx64.c, ~19 KiB)
// is left out to keep the image within its 512 KiB (DESIGN §4). MICROPY_EMIT_X64
// stays on: it is what lets the runtime call frozen native functions.
// compile.c still names the emitter's entry points; these stand in for them.
#include "py/emit.h"
#include "py/runtime.h"

emit_t *emit_native_x64_new(mp_emit_common_t *emit_common, mp_obj_t *error_slot,
    uint *label_slot, mp_uint_t max_num_labels) {
    (void)emit_common;
    (void)error_slot;
    (void)label_slot;
    (void)max_num_labels;
    mp_raise_msg(&mp_type_NotImplementedError, MP_ERROR_TEXT(
        "@micropython.native/viper: this image compiles no native code at run time; "
        "put the function in a module of the recipe (frozen modules keep theirs)"));
}

void emit_native_x64_free(emit_t *emit) {
    (void)emit;
}

// never used: emit_native_x64_new raises before the compiler reaches it
const emit_method_table_t emit_native_x64_method_table;
