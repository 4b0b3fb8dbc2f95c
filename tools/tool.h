/* tool.h - what the `cmlx` program's commands share (tools/cmlx.c).
 *
 * Each command is a function taking its own arguments (argv[0] is the
 * command's name) and returning the process exit status: 0 on success, 1
 * after printing one message to stderr. The library reports its errors to
 * a handler installed by main that only records the message; the command
 * then prints it once, prefixed by "cmlx <command>: ". */
#ifndef CMLX_TOOLS_TOOL_H
#define CMLX_TOOLS_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmlx/model.h"
#include "mlx/c/mlx.h"

int cmd_generate(int argc, char** argv);
int cmd_info(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_convert(int argc, char** argv);
int cmd_demo(int argc, char** argv);

/* ---- messages ---- */

/* Prints "cmlx <cmd>: <formatted>" on stderr; returns 1. */
int tool_fail(const char* cmd, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints "cmlx <cmd>: <the library's last message>" (or what, when the
 * library said nothing); returns 1. */
int tool_fail_lib(const char* cmd, const char* what);
/* Forgets the library's last message. */
void tool_clear_error(void);

/* ---- arguments ---- */

/* Matches argv[*i] against "--name VALUE" or "--name=VALUE": returns 1 and
 * sets *value (advancing *i past a separate value), 0 if argv[*i] is not
 * this option, -1 (message printed) when the value is missing. */
int opt_value(const char* cmd, int argc, char** argv, int* i,
              const char* name, const char** value);
/* Parse a whole string as a number in [lo, hi]; 1 with a message naming
 * the option otherwise. */
int parse_int(const char* cmd, const char* opt, const char* s, long lo,
              long hi, long* out);
int parse_u64(const char* cmd, const char* opt, const char* s, uint64_t* out);
/* The quantization options --q-mode M, --q-bits B, --q-group-size G at
 * argv[*i]: 1 when it is one of them (sets the value and *given), 0 when
 * not, -1 (message printed) on a missing or bad value. */
int opt_quant(const char* cmd, int argc, char** argv, int* i, const char** mode, long* bits,
              long* group, bool* given);
int parse_float(const char* cmd, const char* opt, const char* s, double lo,
                double hi, double* out);
/* --dtype's value: "float16", "bfloat16" or "float32"; 1 with a message
 * otherwise. */
int parse_float_dtype(const char* cmd, const char* s, mlx_dtype* out);
/* "1,2,3" -> ids (malloc'd); every id in [0, INT32_MAX]. */
int parse_ids(const char* cmd, const char* opt, const char* s, int32_t** ids,
              int* n);
/* The stream for "cpu" / "gpu" (gpu: refused with the library's message
 * while no CUDA backend exists). */
int tool_stream(const char* cmd, const char* device, mlx_stream* s);

/* ---- measuring ---- */

double tool_now(void);
/* Peak resident memory of the process (getrusage ru_maxrss), bytes. */
uint64_t tool_peak_rss(void);
/* "1.23 GB" style, into buf. */
const char* tool_bytes(char* buf, size_t n, uint64_t bytes);
const char* tool_dtype_name(mlx_dtype t);

/* ---- generation ---- */

typedef struct gen_stats {
  int prompt_tokens;
  double prompt_s;     /* prompt forward pass and first token */
  int gen_tokens;      /* tokens produced (the first included) */
  double decode_s;     /* from the first token to the last */
} gen_stats;

/* Called with each new token; returns true to stop after it. */
typedef bool (*token_fn)(int32_t id, void* ctx);

/* Runs the prompt through m with a fresh cache, then picks tokens (see
 * cmlx_sample) until max_tokens are made or on_token asks to stop.
 * prompt_logits (may be NULL) receives the prompt's logits [L, vocab] as
 * float32, evaluated. Returns 0, or 1 with the library's message pending. */
int tool_generate(cmlx_model* m, const int32_t* prompt, int n_prompt,
                  int max_tokens, float temp, float top_p, uint64_t seed,
                  token_fn on_token, void* ctx, mlx_array* prompt_logits,
                  gen_stats* st, const mlx_stream s);

/* Prints the model's architecture, sizes and quantization (tools/info.c);
 * with layers, also one line per kind of layer. */
void tool_print_model(const cmlx_model* m, bool layers);

/* ---- weight traffic (tools/roofline.c) ---- */

typedef struct traffic {
  uint64_t weights;       /* weight bytes one decoded token reads */
  uint64_t kv;            /* KV cache bytes read at context ctx */
  uint64_t total_weights; /* all weight bytes held */
} traffic;

/* What one decoding step at context length ctx reads: every weight once,
 * only k of E experts of an expert bank, one row of an input embedding that
 * is not also the output head, and the layers' K/V caches (sliding layers:
 * at most their window). */
int tool_traffic(const cmlx_model* m, int ctx, traffic* t);

#endif
