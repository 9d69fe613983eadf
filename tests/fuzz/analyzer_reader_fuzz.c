/*
 * analyzer_reader_fuzz.c - libFuzzer harness for the trace reader, the
 * model, the rules and the renderers. Not built by `make`; build and run:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude -Ianalyzer \
 *       $(pkg-config --cflags json-c) tests/fuzz/analyzer_reader_fuzz.c \
 *       $(ls analyzer/*.c | grep -v main.c) $(pkg-config --libs libdw libelf json-c) -o /tmp/fuzz
 *   /tmp/fuzz -max_total_time=300 corpus/
 *
 * (any trace written by `obtrace record` or tests/lib/synth_trace is a good seed).
 */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "model.h"
#include "render.h"
#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    snprintf(path, sizeof(path), "/tmp/obt-libfuzzer-%d.obt", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    struct model m;
    char err[256];
    model_init(&m);
    if (model_load(&m, path, err, sizeof(err)) == 0) {
        struct report r;
        report_init(&r, path);
        rules_run(&m, &r);
        FILE *null = fopen("/dev/null", "w");
        struct symbolizer *sym = symbolizer_new(NULL);
        render_text(null, &r, &m, sym);
        render_json(null, &r, &m, sym);
        symbolizer_free(sym);
        fclose(null);
        report_release(&r);
    }
    model_release(&m);
    return 0;
}
