/* c-offline: separate a WAV file with a text query through libedgert's C ABI.
 *
 *   c-offline [--tar] [--small-encoder] PACKAGE IN.wav OUT.wav [QUERY]
 *
 * PACKAGE is a model package folder, or with --tar an uncompressed tar archive of one (read
 * into memory and handed over as bytes, as firmware would from a flash partition).
 * --small-encoder runs a text-queried package's small text encoder (tss-small: 3.4 MB instead
 * of the 23 MB MiniLM; EDGERT_TEXT_ENCODER_SMALL). QUERY says
 * what to keep or remove ("remove the dog barking"); a speech enhancer takes none. The input
 * must be at the model's sample rate; channels are mixed to mono. The output is a mono float
 * WAV aligned sample for sample with the input (the separator's delay is compensated), written
 * through a temporary file: a failed run leaves nothing behind. Exit status 0 on success, 1 on
 * any error, with the reason on stderr. */
#define _XOPEN_SOURCE 700
#include <edgert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wav.h"

static int fail_edgert(const char *what, EdgertStatus s) {
    fprintf(stderr, "c-offline: %s failed (status %d): %s\n", what, (int)s, edgert_last_error());
    return 1;
}

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The whole file in memory (for --tar). */
static unsigned char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 20, n = 0;
    unsigned char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        unsigned char *more = realloc(buf, cap * 2);
        if (!more) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = more;
        cap *= 2;
    }
    fclose(f);
    *len = n;
    return buf;
}

static int same_file(const char *a, const char *b) {
    char ra[PATH_MAX], rb[PATH_MAX];
    if (strcmp(a, b) == 0) return 1;
    if (!realpath(a, ra) || !realpath(b, rb)) return 0;
    return strcmp(ra, rb) == 0;
}

int main(int argc, char **argv) {
    int tar = 0, small = 0, arg = 1;
    for (; arg < argc && strncmp(argv[arg], "--", 2) == 0; arg++) {
        if (strcmp(argv[arg], "--tar") == 0) {
            tar = 1;
        } else if (strcmp(argv[arg], "--small-encoder") == 0) {
            small = 1;
        } else {
            fprintf(stderr, "c-offline: unknown option `%s`\n", argv[arg]);
            return 2;
        }
    }
    if (argc - arg < 3 || argc - arg > 4) {
        fprintf(stderr, "usage: c-offline [--tar] [--small-encoder] PACKAGE IN.wav OUT.wav [QUERY]\n");
        return 2;
    }
    const char *package = argv[arg], *in_path = argv[arg + 1], *out_path = argv[arg + 2];
    const char *query = argc - arg == 4 ? argv[arg + 3] : NULL;
    if (same_file(in_path, out_path)) {
        fprintf(stderr, "c-offline: the output `%s` is the input; refusing to overwrite it\n", out_path);
        return 1;
    }

    char err[512];
    wav_audio audio;
    if (wav_read_mono(in_path, &audio, err, sizeof err) != 0) {
        fprintf(stderr, "c-offline: %s\n", err);
        return 1;
    }

    EdgertOptions options;
    EdgertStatus s = edgert_options_default(&options);
    if (s != EDGERT_OK) return fail_edgert("edgert_options_default", s);
    if (small) options.text_encoder = EDGERT_TEXT_ENCODER_SMALL;

    double t0 = now_seconds();
    EdgertSeparator *sep = NULL;
    if (tar) {
        size_t len = 0;
        unsigned char *bytes = read_all(package, &len);
        if (!bytes) {
            fprintf(stderr, "c-offline: cannot read `%s`\n", package);
            free(audio.mono);
            return 1;
        }
        s = edgert_separator_new_from_bytes(bytes, len, query, &options, &sep);
        free(bytes); /* edgert copied what it needs */
    } else {
        s = edgert_separator_new(package, query, &options, &sep);
    }
    if (s != EDGERT_OK) {
        free(audio.mono);
        return fail_edgert("edgert_separator_new", s);
    }
    double t_built = now_seconds();

    size_t hop = 0, delay = 0, block = 1;
    uint32_t rate = 0;
    if ((s = edgert_separator_frame_size(sep, &hop)) != EDGERT_OK || (s = edgert_separator_delay(sep, &delay)) != EDGERT_OK ||
        (s = edgert_separator_sample_rate(sep, &rate)) != EDGERT_OK || (s = edgert_separator_block_frames(sep, &block)) != EDGERT_OK) {
        edgert_separator_destroy(sep);
        free(audio.mono);
        return fail_edgert("reading the separator's framing", s);
    }
    if (audio.sample_rate != rate) {
        fprintf(stderr, "c-offline: `%s` is at %u Hz; the model runs at %u Hz (resample it first)\n", in_path, audio.sample_rate, rate);
        edgert_separator_destroy(sep);
        free(audio.mono);
        return 1;
    }

    /* Frames in, frames out; `delay` output samples dropped at the start, as many zeros fed at
     * the end, so the result lines up with the input. A file goes through in blocks of the
     * size the separator prefers (one model call per block), from the first frame on, the last
     * padded with zeros: what `edgert separate` does, sample for sample. A model that runs a
     * frame per call either way takes frames. */
    size_t n = audio.frames, total = n + delay, hops = (total + hop - 1) / hop;
    if (block < 1) block = 1;
    hops = (hops + block - 1) / block * block;
    size_t span = block * hop;
    float *in_frame = malloc(span * sizeof(float));
    float *out_frame = malloc(span * sizeof(float));
    float *result = malloc((n ? n : 1) * sizeof(float));
    if (!in_frame || !out_frame || !result) {
        fprintf(stderr, "c-offline: out of memory\n");
        edgert_separator_destroy(sep);
        free(in_frame), free(out_frame), free(result), free(audio.mono);
        return 1;
    }
    size_t produced = 0;
    for (size_t h = 0; h < hops; h += block) {
        for (size_t i = 0; i < span; i++) {
            size_t at = h * hop + i;
            in_frame[i] = at < n ? audio.mono[at] : 0.0f;
        }
        s = block == 1 ? edgert_separator_process(sep, in_frame, hop, out_frame, hop)
                       : edgert_separator_process_block(sep, in_frame, span, out_frame, span);
        if (s != EDGERT_OK) {
            edgert_separator_destroy(sep);
            free(in_frame), free(out_frame), free(result), free(audio.mono);
            return fail_edgert(block == 1 ? "edgert_separator_process" : "edgert_separator_process_block", s);
        }
        for (size_t i = 0; i < span; i++) {
            size_t at = h * hop + i; /* output sample index before compensation */
            if (at >= delay && at - delay < n) result[at - delay] = out_frame[i];
        }
        produced += span;
    }
    double t_done = now_seconds();
    edgert_separator_destroy(sep);

    int rc = 0;
    if (wav_write_float(out_path, result, n, rate, err, sizeof err) != 0) {
        fprintf(stderr, "c-offline: %s\n", err);
        rc = 1;
    } else {
        double secs = (double)n / rate;
        printf("c-offline: %s -> %s: %zu samples at %u Hz, %zu frames of %zu, delay %zu compensated; built in %.1f ms, RTF %.3f\n",
               in_path, out_path, n, rate, produced / hop, hop, delay, (t_built - t0) * 1e3, secs > 0 ? (t_done - t_built) / secs : 0.0);
    }
    free(in_frame), free(out_frame), free(result), free(audio.mono);
    return rc;
}
