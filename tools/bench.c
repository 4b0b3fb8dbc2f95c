/* bench.c - `cmlx bench`: prefill and decode tokens/s of a model directory
 * or of a random-weight model built from a config (cmlx_model_random, no
 * download), against the memory roofline: the bytes one decoding step
 * reads (tool_traffic) over the read bandwidth measured in the same run
 * (bench/common.c's loop summing 1 GiB, one thread per CPU, run in a child
 * process so that its buffer does not count in the peak memory reported).
 * Readable text and one JSON line per result on stdout. */
#include <cblas.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/cpu/isa.h"
#include "common.h"
#include "tool.h"

static char* read_text(const char* path) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  char* buf = NULL;
  if (fseek(f, 0, SEEK_END) == 0) {
    long n = ftell(f);
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0) {
      buf = malloc((size_t)n + 1);
      if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
      }
      if (buf) buf[n] = 0;
    }
  }
  fclose(f);
  return buf;
}

/* bench_read_bandwidth(threads) in a child process; 0 on failure. */
static double read_bandwidth(int threads) {
  int fd[2];
  if (pipe(fd) != 0) return 0;
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    close(fd[0]);
    close(fd[1]);
    return 0;
  }
  if (pid == 0) {
    close(fd[0]);
    double bw = bench_read_bandwidth(threads);
    ssize_t w = write(fd[1], &bw, sizeof bw);
    _exit(w == (ssize_t)sizeof bw ? 0 : 1);
  }
  close(fd[1]);
  double bw = 0;
  ssize_t r;
  do {
    r = read(fd[0], &bw, sizeof bw);
  } while (r < 0 && errno == EINTR);
  if (r != (ssize_t)sizeof bw) bw = 0;
  close(fd[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return bw;
}

static bool never_stop(int32_t id, void* ctx) {
  (void)id;
  (void)ctx;
  return false;
}

static const char* base_name(const char* path) {
  const char* b = strrchr(path, '/');
  if (b && b[1] == 0) { /* trailing slash: the component before it */
    const char* p = b;
    while (p > path && p[-1] != '/') p--;
    return p;
  }
  return b ? b + 1 : path;
}

int cmd_bench(int argc, char** argv) {
  const char* cmd = "bench";
  const char *dir = NULL, *random_cfg = NULL, *q_mode = NULL,
             *dtype_name = "bfloat16", *v = NULL, *device = "cpu";
  long q_bits = 0, q_group = 0, n_prompt = 512, n_decode = 128, repeat = 1;
  double given_bw = 0; /* --read-bw: use this instead of measuring */
  uint64_t seed = 0;
  bool quant_given = false;
  for (int i = 1; i < argc; i++) {
    int r;
    if ((r = opt_value(cmd, argc, argv, &i, "--random", &v))) {
      if (r < 0) return 1;
      random_cfg = v;
    } else if ((r = opt_quant(cmd, argc, argv, &i, &q_mode, &q_bits, &q_group, &quant_given))) {
      if (r < 0) return 1;
    } else if ((r = opt_value(cmd, argc, argv, &i, "--dtype", &v))) {
      if (r < 0) return 1;
      dtype_name = v;
    } else if ((r = opt_value(cmd, argc, argv, &i, "--seed", &v))) {
      if (r < 0 || parse_u64(cmd, "--seed", v, &seed)) return 1;
    } else if ((r = opt_value(cmd, argc, argv, &i, "--prompt-tokens", &v))) {
      if (r < 0 || parse_int(cmd, "--prompt-tokens", v, 1, 1 << 20, &n_prompt))
        return 1;
    } else if ((r = opt_value(cmd, argc, argv, &i, "--decode-tokens", &v))) {
      if (r < 0 || parse_int(cmd, "--decode-tokens", v, 1, 1 << 20, &n_decode))
        return 1;
    } else if ((r = opt_value(cmd, argc, argv, &i, "--repeat", &v))) {
      if (r < 0 || parse_int(cmd, "--repeat", v, 1, 100, &repeat)) return 1;
    } else if ((r = opt_value(cmd, argc, argv, &i, "--read-bw", &v))) {
      if (r < 0 || parse_float(cmd, "--read-bw", v, 1e-3, 1e6, &given_bw))
        return 1;
    } else if ((r = opt_value(cmd, argc, argv, &i, "--device", &v))) {
      if (r < 0) return 1;
      device = v;
    } else if (argv[i][0] == '-' && argv[i][1] != 0) {
      return tool_fail(cmd, "unknown argument '%s'", argv[i]);
    } else {
      if (dir) return tool_fail(cmd, "give one model directory");
      dir = argv[i];
    }
  }
  if (!dir == !random_cfg)
    return tool_fail(cmd, "give a model directory or --random CONFIG.json");
  if (dir && quant_given)
    return tool_fail(cmd, "--q-* options apply to --random models (use "
                          "'cmlx convert -q' for a directory)");
  mlx_dtype dtype;
  if (parse_float_dtype(cmd, dtype_name, &dtype)) return 1;
  cmlx_quant_spec spec = {(int)q_group, (int)q_bits, q_mode};
  if (quant_given && cmlx_quant_spec_resolve(&spec))
    return tool_fail_lib(cmd, "bad quantization");
  if (dir) {
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
      return tool_fail(cmd, "%s is not a directory", dir);
  }
  char* config = NULL;
  if (random_cfg && !(config = read_text(random_cfg)))
    return tool_fail(cmd, "cannot read %s", random_cfg);

  int rc = 1;
  mlx_stream s = {0};
  cmlx_model* m = NULL;
  int32_t* prompt = NULL;
  double* pre = NULL;
  double* dec = NULL;
  char cpu[256];
  bench_cpu_model(cpu, sizeof cpu);
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  int threads = ncpu > 0 ? (int)ncpu : 1;
  double bw = given_bw > 0 ? given_bw : read_bandwidth(threads);
  if (bw <= 0) {
    tool_fail(cmd, "cannot measure the read bandwidth");
    goto done;
  }
  if (tool_stream(cmd, device, &s)) goto done;
  const char* name = dir ? base_name(dir) : base_name(random_cfg);
  printf("{\"bench\":\"model\",\"cpu\":\"%s\",\"isa\":\"%s\","
         "\"openblas_config\":\"%s\",\"threads\":%d,"
         "\"read_bw_before_GBps\":%.4g}\n",
         cpu, cpu_isa_name(cpu_isa()), openblas_get_config(), threads, bw);
  printf("cpu: %s (%d threads), read bandwidth %.2f GB/s\n", cpu, threads,
         bw);
  fflush(stdout);

  double t0 = tool_now();
  if (dir) {
    if (cmlx_model_load(&m, dir, s)) {
      tool_fail_lib(cmd, "cannot load the model");
      goto done;
    }
  } else if (cmlx_model_random(&m, config, quant_given ? &spec : NULL, dtype,
                               seed, s)) {
    tool_fail_lib(cmd, "cannot build the random model");
    goto done;
  }
  double t_build = tool_now() - t0;
  printf("model: %s (%s in %.1f s)\n", name, dir ? "loaded" : "built", t_build);
  tool_print_model(m, false);
  fflush(stdout);

  cmlx_model_info info;
  if (cmlx_model_get_info(&info, m)) {
    tool_fail_lib(cmd, "cannot read the model's sizes");
    goto done;
  }
  prompt = malloc((size_t)n_prompt * sizeof *prompt);
  pre = calloc((size_t)repeat, sizeof *pre);
  dec = calloc((size_t)repeat, sizeof *dec);
  if (!prompt || !pre || !dec) {
    tool_fail(cmd, "out of memory");
    goto done;
  }
  uint64_t x = seed * 6364136223846793005ull + 1442695040888963407ull;
  for (long i = 0; i < n_prompt; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    prompt[i] = (int32_t)((x >> 33) % (uint64_t)info.vocab_size);
  }
  for (long r = 0; r < repeat; r++) {
    gen_stats st;
    if (tool_generate(m, prompt, (int)n_prompt, (int)n_decode + 1, 0.0f, 1.0f,
                      0, never_stop, NULL, NULL, &st, s)) {
      tool_fail_lib(cmd, "generation failed");
      goto done;
    }
    pre[r] = (double)n_prompt / st.prompt_s;
    dec[r] = (double)(st.gen_tokens - 1) / st.decode_s;
    printf("run %ld: prefill %ld tokens %.2f tok/s, decode %ld tokens %.2f "
           "tok/s\n",
           r + 1, n_prompt, pre[r], n_decode, dec[r]);
    fflush(stdout);
  }
  /* the bandwidth again, after the runs: the mean of both is the ceiling
     (on a shared machine the two differ; both are reported) */
  double bw_after = given_bw > 0 ? given_bw : read_bandwidth(threads);
  double bw_before = bw;
  if (bw_after > 0) bw = 0.5 * (bw_before + bw_after);
  printf("read bandwidth after the runs: %.2f GB/s (before: %.2f GB/s)\n",
         bw_after, bw_before);
  double pre_tps = bench_median(pre, (int)repeat);
  double dec_tps = bench_median(dec, (int)repeat);
  traffic t;
  tool_traffic(m, (int)(n_prompt + n_decode / 2), &t);
  double bytes = (double)(t.weights + t.kv);
  double roof = bw * 1e9 / bytes;
  char b1[32], b2[32];
  printf("prefill: %.2f tokens/s (%ld tokens)\n", pre_tps, n_prompt);
  printf("decode:  %.2f tokens/s (%ld tokens), %.1f ms/token\n", dec_tps,
         n_decode, 1e3 / dec_tps);
  printf("roofline: %s of weights + %s of KV cache per token / %.2f GB/s = "
         "%.2f tokens/s; measured = %.2f of it\n",
         tool_bytes(b1, sizeof b1, t.weights), tool_bytes(b2, sizeof b2, t.kv),
         bw, roof, dec_tps / roof);
  printf("peak memory: %s (resident set)\n",
         tool_bytes(b1, sizeof b1, tool_peak_rss()));
  const char* qm = info.quantized && info.quant.mode ? info.quant.mode : "none";
  printf("{\"bench\":\"model\",\"name\":\"%s\",\"case\":\"prefill\","
         "\"model_type\":\"%s\",\"dtype\":\"%s\",\"q_mode\":\"%s\","
         "\"q_bits\":%d,\"q_group_size\":%d,\"tokens\":%ld,\"repeat\":%ld,"
         "\"tokens_per_s\":%.4g}\n",
         name, info.model_type, tool_dtype_name(info.dtype), qm,
         info.quantized ? info.quant.bits : 0,
         info.quantized ? info.quant.group_size : 0, n_prompt, repeat,
         pre_tps);
  printf("{\"bench\":\"model\",\"name\":\"%s\",\"case\":\"decode\","
         "\"model_type\":\"%s\",\"dtype\":\"%s\",\"q_mode\":\"%s\","
         "\"q_bits\":%d,\"q_group_size\":%d,\"tokens\":%ld,\"context\":%ld,"
         "\"repeat\":%ld,\"tokens_per_s\":%.4g,\"weight_bytes\":%llu,"
         "\"weight_bytes_per_token\":%llu,\"kv_bytes_per_token\":%llu,"
         "\"read_bw_GBps\":%.4g,\"read_bw_before_GBps\":%.4g,"
         "\"read_bw_after_GBps\":%.4g,\"roofline_tokens_per_s\":%.4g,"
         "\"fraction_of_roofline\":%.4g,\"peak_rss_bytes\":%llu,"
         "\"build_s\":%.3g}\n",
         name, info.model_type, tool_dtype_name(info.dtype), qm,
         info.quantized ? info.quant.bits : 0,
         info.quantized ? info.quant.group_size : 0, n_decode,
         n_prompt + n_decode / 2, repeat, dec_tps,
         (unsigned long long)t.total_weights, (unsigned long long)t.weights,
         (unsigned long long)t.kv, bw, bw_before, bw_after, roof,
         dec_tps / roof,
         (unsigned long long)tool_peak_rss(), t_build);
  rc = 0;
done:
  if (m) cmlx_model_free(m);
  if (s.ctx) mlx_stream_free(s);
  free(config);
  free(prompt);
  free(pre);
  free(dec);
  return rc;
}
