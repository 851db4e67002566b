/* edgert C ABI: a text-queried audio separator for firmware. See runtime/src/capi.rs. */

#ifndef EDGERT_H
#define EDGERT_H

/* Generated from runtime/src/capi.rs by cbindgen; do not edit. */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/**
 * `EdgertOptions::backend`: tract (pure Rust, CPU).
 */
#define EDGERT_BACKEND_TRACT 0

/**
 * `EdgertOptions::backend`: ONNX Runtime on the CPU.
 */
#define EDGERT_BACKEND_ORT_CPU 1

/**
 * `EdgertOptions::backend`: ONNX Runtime with CUDA.
 */
#define EDGERT_BACKEND_ORT_CUDA 2

/**
 * `EdgertOptions::backend`: ONNX Runtime with TensorRT.
 */
#define EDGERT_BACKEND_ORT_TENSORRT 3

/**
 * `EdgertOptions::backend`: the best that can be had.
 */
#define EDGERT_BACKEND_AUTO 4

/**
 * `EdgertOptions::text_encoder`: what the package carries (its full text encoder when it has
 * one, else its small one).
 */
#define EDGERT_TEXT_ENCODER_PACKAGE 0

/**
 * `EdgertOptions::text_encoder`: the package's full text encoder (tss-small: MiniLM, 23 MB).
 */
#define EDGERT_TEXT_ENCODER_FULL 1

/**
 * `EdgertOptions::text_encoder`: the package's small text encoder (tss-small: 3.4 MB; what
 * firmware embeds). The full one is then neither loaded nor counted in the memory estimate.
 */
#define EDGERT_TEXT_ENCODER_SMALL 2

/**
 * What a call did. 0 is success.
 */
typedef enum EdgertStatus {
  EDGERT_OK = 0,
  /**
   * A pointer argument was NULL.
   */
  EDGERT_NULL_POINTER = 1,
  /**
   * An argument's value is wrong (a query that says nothing, an unknown backend, bad UTF-8).
   */
  EDGERT_INVALID_ARGUMENT = 2,
  /**
   * A buffer's length is not the separator's frame size.
   */
  EDGERT_BUFFER_SIZE = 3,
  /**
   * A file could not be read.
   */
  EDGERT_IO = 4,
  /**
   * A graph is not valid ONNX.
   */
  EDGERT_INVALID_MODEL = 5,
  /**
   * A model package is inconsistent or is not a separation model.
   */
  EDGERT_INVALID_PACKAGE = 6,
  /**
   * The backend cannot run an operator of the model.
   */
  EDGERT_UNSUPPORTED_OPERATOR = 7,
  /**
   * The backend asked for is not compiled into this library.
   */
  EDGERT_NOT_COMPILED = 8,
  /**
   * The ONNX Runtime library could not be loaded.
   */
  EDGERT_RUNTIME_LIBRARY = 9,
  /**
   * The execution provider asked for cannot be had here.
   */
  EDGERT_PROVIDER_UNAVAILABLE = 10,
  /**
   * The backend failed while loading or running the model.
   */
  EDGERT_BACKEND = 11,
  /**
   * The separator would exceed `max_memory_bytes`.
   */
  EDGERT_MEMORY_BUDGET = 12,
  /**
   * The separator was destroyed (debug builds detect it).
   */
  EDGERT_DESTROYED = 13,
  /**
   * edgert panicked; the separator should be destroyed.
   */
  EDGERT_PANIC = 14,
  /**
   * Anything else.
   */
  EDGERT_OTHER = 15,
} EdgertStatus;

/**
 * An opaque separator: a model package, a query, and the state of the stream.
 */
typedef struct EdgertSeparator EdgertSeparator;

/**
 * How to build a separator. Fill with `edgert_options_default`, then change fields.
 */
typedef struct EdgertOptions {
  /**
   * One of the `EDGERT_BACKEND_*` values.
   */
  uint32_t backend;
  /**
   * Intra-op threads per model session (ONNX Runtime); 0 lets the backend decide.
   */
  uint32_t threads;
  /**
   * Refuse to build a separator estimated to need more resident memory than this; 0: no
   * limit.
   */
  uint64_t max_memory_bytes;
  /**
   * A text-queried package's query encoder: one of the `EDGERT_TEXT_ENCODER_*` values.
   * Speech enhancers have none and ignore it.
   */
  uint32_t text_encoder;
} EdgertOptions;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * edgert's version, e.g. "0.1.0". Static; never NULL.
 *
 * Thread safety: any thread, at any time.
 */
const char *edgert_version(void);

/**
 * The message of this thread's last failed call ("" after a success). Valid until the next
 * edgert call on this thread. Never NULL.
 *
 * Thread safety: per thread: each thread reads its own last error.
 */
const char *edgert_last_error(void);

/**
 * Fills `options` with the defaults: tract, one thread, no memory limit.
 *
 * Thread safety: any thread, at any time.
 *
 * # Safety
 * `options` is NULL or points to writable memory for an `EdgertOptions`.
 */
enum EdgertStatus edgert_options_default(struct EdgertOptions *options);

/**
 * Builds a separator from a model package folder. `query` says what to keep or remove ("remove
 * the siren"); NULL for a speech enhancer means "extract the speech". `options` may be NULL
 * (defaults). On success `*out` is the new separator; on failure it is set to NULL.
 *
 * Thread safety: any thread, concurrently with any call on other separators.
 *
 * # Safety
 * Strings are NULL or NUL-terminated; `options` is NULL or valid; `out` is NULL or writable.
 */
enum EdgertStatus edgert_separator_new(const char *package_dir,
                                       const char *query,
                                       const struct EdgertOptions *options,
                                       struct EdgertSeparator **out);

/**
 * Builds a separator from a model package held in memory: an uncompressed tar archive of the
 * package folder (`tar cf pkg.tar -C models/tss-small .`), e.g. from a flash partition. The
 * bytes are copied; the caller may free them on return. Otherwise as `edgert_separator_new`.
 *
 * Thread safety: any thread, concurrently with any call on other separators.
 *
 * # Safety
 * `data` is NULL or points to `len` readable bytes; the rest as `edgert_separator_new`.
 */
enum EdgertStatus edgert_separator_new_from_bytes(const uint8_t *data,
                                                  size_t len,
                                                  const char *query,
                                                  const struct EdgertOptions *options,
                                                  struct EdgertSeparator **out);

#if defined(EDGERT_EMBED_MODEL)
/**
 * Builds a separator from the package compiled into the library (built with the
 * `embed-model` feature). Otherwise as `edgert_separator_new`.
 *
 * Thread safety: any thread, concurrently with any call on other separators.
 *
 * # Safety
 * As `edgert_separator_new`.
 */
enum EdgertStatus edgert_separator_new_embedded(const char *query,
                                                const struct EdgertOptions *options,
                                                struct EdgertSeparator **out);
#endif

/**
 * Replaces the query. The new processor is built before the old one is dropped: on failure
 * the separator keeps its old query and state. Its stream state starts afresh.
 *
 * Thread safety: one thread at a time per separator (there is no internal lock); other
 * separators may be used on other threads meanwhile.
 *
 * # Safety
 * `sep` is NULL or a separator handle; `query` is NULL or NUL-terminated.
 */
enum EdgertStatus edgert_separator_set_query(struct EdgertSeparator *sep, const char *query);

/**
 * Samples per frame (one hop): the length `edgert_separator_process` takes and gives.
 *
 * Thread safety: one thread at a time per separator (there is no internal lock); other
 * separators may be used on other threads meanwhile.
 *
 * # Safety
 * `sep` is NULL or a separator handle; `out` is NULL or writable.
 */
enum EdgertStatus edgert_separator_frame_size(struct EdgertSeparator *sep, size_t *out);

/**
 * Samples by which the output lags the input. To line a file up, drop this many output
 * samples at the start and feed as many zeros at the end.
 *
 * Thread safety: one thread at a time per separator (there is no internal lock); other
 * separators may be used on other threads meanwhile.
 *
 * # Safety
 * As `edgert_separator_frame_size`.
 */
enum EdgertStatus edgert_separator_delay(struct EdgertSeparator *sep, size_t *out);

/**
 * The sample rate (Hz) the separator runs at: input must be at this rate, mono.
 *
 * Thread safety: one thread at a time per separator (there is no internal lock); other
 * separators may be used on other threads meanwhile.
 *
 * # Safety
 * `sep` is NULL or a separator handle; `out` is NULL or writable.
 */
enum EdgertStatus edgert_separator_sample_rate(struct EdgertSeparator *sep, uint32_t *out);

/**
 * Processes one frame: `input_len` and `output_len` must equal the frame size. NaN and
 * infinite input samples are replaced by 0. The separator's own code allocates nothing here
 * (what the backend does inside a model run is the backend's).
 *
 * Thread safety: one thread at a time per separator (there is no internal lock); other
 * separators may be used on other threads meanwhile.
 *
 * # Safety
 * `input` points to `input_len` readable floats, `output` to `output_len` writable floats,
 * not overlapping; either may be NULL (an error).
 */
enum EdgertStatus edgert_separator_process(struct EdgertSeparator *sep,
                                           const float *input,
                                           size_t input_len,
                                           float *output,
                                           size_t output_len);

/**
 * Frames per block that `edgert_separator_process_block` takes at most, and is fastest with
 * (1: the model runs a frame per call either way).
 *
 * Thread safety: one thread at a time per separator (there is no internal lock); other
 * separators may be used on other threads meanwhile.
 *
 * # Safety
 * `sep` is NULL or a separator handle; `out` is NULL or writable.
 */
enum EdgertStatus edgert_separator_block_frames(struct EdgertSeparator *sep, size_t *out);

/**
 * Processes several frames in one call, for files: `input_len` and `output_len` must be the
 * same whole number of frames, 1 to `edgert_separator_block_frames` of them. Where the model
 * runs a block per call (tss-small: several times faster than frame by frame), the output may
 * differ from `edgert_separator_process` frame by frame by what the model's dynamic
 * quantization of a block changes; to match `edgert separate` sample for sample, hand it
 * whole blocks from the first frame on, the last padded with zeros. NaN and infinite input
 * samples are replaced by 0. The separator's own code allocates nothing here (what the
 * backend does inside a model run is the backend's; the first block loads the model's block
 * sessions).
 *
 * Thread safety: one thread at a time per separator (there is no internal lock); other
 * separators may be used on other threads meanwhile.
 *
 * # Safety
 * `input` points to `input_len` readable floats, `output` to `output_len` writable floats,
 * not overlapping; either may be NULL (an error).
 */
enum EdgertStatus edgert_separator_process_block(struct EdgertSeparator *sep,
                                                 const float *input,
                                                 size_t input_len,
                                                 float *output,
                                                 size_t output_len);

/**
 * Forgets the stream state, as if newly built (same query).
 *
 * Thread safety: one thread at a time per separator (there is no internal lock); other
 * separators may be used on other threads meanwhile.
 *
 * # Safety
 * `sep` is NULL or a separator handle.
 */
enum EdgertStatus edgert_separator_reset(struct EdgertSeparator *sep);

/**
 * The estimated peak resident memory (bytes) of a separator for this package and query,
 * without building it.
 *
 * Thread safety: any thread, concurrently with any call on other separators.
 *
 * # Safety
 * As `edgert_separator_new`; `out` is NULL or writable.
 */
enum EdgertStatus edgert_memory_estimate(const char *package_dir,
                                         const char *query,
                                         const struct EdgertOptions *options,
                                         uint64_t *out);

/**
 * Destroys a separator. NULL is ignored. The handle must not be used afterwards (debug builds
 * answer `EDGERT_DESTROYED` if it is; release builds free it).
 *
 * Thread safety: on the thread that uses the separator, with no other call on it in progress.
 *
 * # Safety
 * `sep` is NULL or a separator handle not yet destroyed (debug builds tolerate a second call).
 */
void edgert_separator_destroy(struct EdgertSeparator *sep);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* EDGERT_H */
