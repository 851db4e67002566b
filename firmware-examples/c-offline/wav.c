#include "wav.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

int wav_read_mono(const char *path, wav_audio *out, char *err, size_t err_len) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_len, "cannot open `%s`", path);
        return -1;
    }
    unsigned char hdr[12];
    if (fread(hdr, 1, 12, f) != 12 || memcmp(hdr, "RIFF", 4) != 0 || memcmp(hdr + 8, "WAVE", 4) != 0) {
        snprintf(err, err_len, "`%s` is not a WAV file (no RIFF/WAVE header)", path);
        fclose(f);
        return -1;
    }
    uint16_t format = 0, channels = 0, bits = 0;
    uint32_t rate = 0;
    int have_fmt = 0;
    for (;;) {
        unsigned char ch[8];
        if (fread(ch, 1, 8, f) != 8) {
            snprintf(err, err_len, "`%s` has no data chunk", path);
            fclose(f);
            return -1;
        }
        uint32_t size = le32(ch + 4);
        if (memcmp(ch, "fmt ", 4) == 0) {
            unsigned char fmt[40];
            if (size < 16 || size > sizeof fmt || fread(fmt, 1, size, f) != size) {
                snprintf(err, err_len, "`%s` has a broken fmt chunk", path);
                fclose(f);
                return -1;
            }
            format = le16(fmt);
            channels = le16(fmt + 2);
            rate = le32(fmt + 4);
            bits = le16(fmt + 14);
            if (format == 0xFFFE && size >= 26) format = le16(fmt + 24); /* WAVE_FORMAT_EXTENSIBLE */
            have_fmt = 1;
            if (size & 1) fseek(f, 1, SEEK_CUR);
        } else if (memcmp(ch, "data", 4) == 0) {
            if (!have_fmt) {
                snprintf(err, err_len, "`%s`: data before fmt", path);
                fclose(f);
                return -1;
            }
            int ok = (format == 1 && (bits == 16 || bits == 24 || bits == 32)) || (format == 3 && bits == 32);
            if (!ok || channels == 0 || rate == 0) {
                snprintf(err, err_len, "`%s`: unsupported WAV (format %u, %u bits, %u channels, %u Hz)", path, format, bits, channels, rate);
                fclose(f);
                return -1;
            }
            size_t bytes_per = (size_t)bits / 8;
            size_t frame_bytes = bytes_per * channels;
            size_t frames = size / frame_bytes;
            unsigned char *raw = malloc(frames * frame_bytes + 1);
            float *mono = malloc((frames ? frames : 1) * sizeof(float));
            if (!raw || !mono) {
                free(raw);
                free(mono);
                snprintf(err, err_len, "out of memory reading `%s`", path);
                fclose(f);
                return -1;
            }
            size_t got = fread(raw, 1, frames * frame_bytes, f);
            if (got != frames * frame_bytes) {
                free(raw);
                free(mono);
                snprintf(err, err_len, "`%s` is truncated: %zu of %zu data bytes", path, got, frames * frame_bytes);
                fclose(f);
                return -1;
            }
            for (size_t i = 0; i < frames; i++) {
                double sum = 0.0;
                for (size_t c = 0; c < channels; c++) {
                    const unsigned char *p = raw + i * frame_bytes + c * bytes_per;
                    double v;
                    if (format == 3) {
                        float x;
                        memcpy(&x, p, 4);
                        v = x;
                    } else if (bits == 16) {
                        v = (int16_t)le16(p) / 32768.0;
                    } else if (bits == 24) {
                        int32_t x = (int32_t)(((uint32_t)p[0] << 8) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 24)) >> 8;
                        v = x / 8388608.0;
                    } else {
                        v = (int32_t)le32(p) / 2147483648.0;
                    }
                    sum += v;
                }
                mono[i] = (float)(sum / channels);
            }
            free(raw);
            fclose(f);
            out->sample_rate = rate;
            out->channels = channels;
            out->frames = frames;
            out->mono = mono;
            return 0;
        } else {
            if (fseek(f, (long)size + (long)(size & 1), SEEK_CUR) != 0) {
                snprintf(err, err_len, "`%s` is truncated", path);
                fclose(f);
                return -1;
            }
        }
    }
}

static void put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}
static void put16(unsigned char *p, uint16_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

int wav_write_float(const char *path, const float *samples, size_t frames, uint32_t rate, char *err, size_t err_len) {
    size_t n = strlen(path);
    char *tmp = malloc(n + 9);
    if (!tmp) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".partial", 9);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        snprintf(err, err_len, "cannot create `%s`", tmp);
        free(tmp);
        return -1;
    }
    unsigned char h[44];
    uint32_t data = (uint32_t)(frames * 4);
    memcpy(h, "RIFF", 4);
    put32(h + 4, 36 + data);
    memcpy(h + 8, "WAVEfmt ", 8);
    put32(h + 16, 16);
    put16(h + 20, 3); /* IEEE float */
    put16(h + 22, 1);
    put32(h + 24, rate);
    put32(h + 28, rate * 4);
    put16(h + 32, 4);
    put16(h + 34, 32);
    memcpy(h + 36, "data", 4);
    put32(h + 40, data);
    int ok = fwrite(h, 1, 44, f) == 44 && fwrite(samples, sizeof(float), frames, f) == frames;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        snprintf(err, err_len, "cannot write `%s`", path);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}
