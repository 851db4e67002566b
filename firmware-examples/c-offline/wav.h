/* Minimal WAV reading and writing for the c-offline example: PCM 16/24/32-bit integer and
 * 32-bit float, any channel count, read as float samples mixed to mono. */
#ifndef C_OFFLINE_WAV_H
#define C_OFFLINE_WAV_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t sample_rate;
    uint16_t channels;
    size_t frames;
    float *mono; /* frames samples, channels averaged; free() it */
} wav_audio;

/* Reads `path`. Returns 0 on success; otherwise writes a message to `err` (size `err_len`). */
int wav_read_mono(const char *path, wav_audio *out, char *err, size_t err_len);

/* Writes mono 32-bit float samples to `path` through `path`.partial renamed on success, so a
 * failed run leaves no partial file. Returns 0 on success. */
int wav_write_float(const char *path, const float *samples, size_t frames, uint32_t rate, char *err, size_t err_len);

#endif
