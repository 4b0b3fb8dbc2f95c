/* device_info.c - mlx_device_info: key/value facts about a device.
 *
 * An info handle's ctx is a `device_info` table owned by the handle: a short
 * list of keys, each with either a string or a size value. For the CPU it
 * holds "device_name" (from /proc/cpuinfo), "architecture" (uname) and
 * "memory_size" (total RAM, bytes). GPUs have no info provider yet; asking
 * about one fails with the reason (in builds without CUDA, there is none).
 * As in mlx-c, looking up a key that is absent or of the other type returns
 * 2 without reporting an error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "api/api.h"
#include "backend/gpu.h"
#include "mlx/c/device.h"

typedef struct info_entry {
  char* key;
  char* text;  /* the value when it is a string; NULL for a size */
  size_t size; /* the value when text == NULL */
} info_entry;

/* Invariant: entries[0, count) are owned, with distinct keys. */
typedef struct device_info {
  size_t count;
  size_t cap;
  info_entry* entries;
} device_info;

static char* copy_text(const char* s) {
  size_t n = strlen(s) + 1;
  char* p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

static void info_free(device_info* info) {
  if (!info) return;
  for (size_t i = 0; i < info->count; i++) {
    free(info->entries[i].key);
    free(info->entries[i].text);
  }
  free(info->entries);
  free(info);
}

/* Adds key with a string value (text != NULL) or a size value. */
static int info_add(device_info* info, const char* key, const char* text,
                    size_t size) {
  if (info->count == info->cap) {
    size_t cap = info->cap ? info->cap * 2 : 4;
    info_entry* e = realloc(info->entries, cap * sizeof *e);
    if (!e) return error_set("[device_info] Out of memory.");
    info->entries = e;
    info->cap = cap;
  }
  info_entry e = {copy_text(key), text ? copy_text(text) : NULL, size};
  if (!e.key || (text && !e.text)) {
    free(e.key);
    free(e.text);
    return error_set("[device_info] Out of memory.");
  }
  info->entries[info->count++] = e;
  return 0;
}

static const info_entry* info_find(const device_info* info, const char* key) {
  for (size_t i = 0; i < info->count; i++)
    if (strcmp(info->entries[i].key, key) == 0) return &info->entries[i];
  return NULL;
}

/* ---- what the CPU says about itself ---- */

/* The value of the first /proc/cpuinfo line whose key is exactly `key`
 * ("model name	: AMD EPYC ..."), into buf; false if there is none. */
static bool cpuinfo_value(const char* key, char* buf, size_t n) {
  FILE* f = fopen("/proc/cpuinfo", "r");
  if (!f) return false;
  char line[512];
  bool found = false;
  size_t key_len = strlen(key);
  while (!found && fgets(line, sizeof line, f)) {
    if (strncmp(line, key, key_len) != 0) continue;
    const char* p = line + key_len;
    while (*p == ' ' || *p == '\t') p++;
    if (*p != ':') continue; /* "cpu family" when looking for "cpu" */
    p++;
    while (*p == ' ' || *p == '\t') p++;
    size_t len = strcspn(p, "\r\n");
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
    if (len == 0) continue;
    snprintf(buf, n, "%.*s", (int)len, p);
    found = true;
  }
  fclose(f);
  return found;
}

static int cpu_info(device_info* info) {
  struct utsname u;
  const char* arch = uname(&u) == 0 ? u.machine : "unknown";
  char name[256];
  if (!cpuinfo_value("model name", name, sizeof name) &&
      !cpuinfo_value("cpu", name, sizeof name))
    snprintf(name, sizeof name, "%s", arch);
  long pages = sysconf(_SC_PHYS_PAGES);
  long page_size = sysconf(_SC_PAGESIZE);
  size_t memory = pages > 0 && page_size > 0 ? (size_t)pages * (size_t)page_size : 0;
  if (info_add(info, "device_name", name, 0) ||
      info_add(info, "architecture", arch, 0) ||
      info_add(info, "memory_size", NULL, memory))
    return 1;
  return 0;
}

/* Fills info for d, or fails saying why there is nothing to tell. */
static int info_gather(device_info* info, device d) {
  if (d.type == MLX_CPU) {
    if (d.index != 0)
      return error_set("[device_info] Device cpu %d is not available: there is "
                       "one CPU device, with index 0.", d.index);
    return cpu_info(info);
  }
  int count = device_gpu_count();
  if (count == 0)
    return error_set("[device_info] Device gpu %d is not available: %s.",
                     d.index, gpu_device_count_reason());
  if (d.index < 0 || d.index >= count)
    return error_set("[device_info] Device gpu %d is not available: there are "
                     "%d GPUs.", d.index, count);
  return error_set("[device_info] Device info for GPUs is not implemented yet.");
}

/* ---- entry points ---- */

static const device_info* info_of(mlx_device_info h, const char* op) {
  if (!h.ctx) error_set("[%s] The device info handle is empty.", op);
  return h.ctx;
}

/* Common checks of the lookups: the output pointer, the handle, the key. */
static const device_info* lookup_args(const void* out, mlx_device_info h,
                                      const char* key, const char* op) {
  if (!out) {
    error_set("[%s] The result pointer is NULL.", op);
    return NULL;
  }
  const device_info* info = info_of(h, op);
  if (info && !key) {
    error_set("[%s] The key is NULL.", op);
    return NULL;
  }
  return info;
}

mlx_device_info mlx_device_info_new(void) {
  mlx_device_info h = {calloc(1, sizeof(device_info))};
  if (!h.ctx) {
    error_set("[device_info_new] Out of memory.");
    api_fail();
  }
  return h;
}

int mlx_device_info_get(mlx_device_info* info, mlx_device dev) {
  API_CHECK_RES(info, "device_info");
  if (!dev.ctx) {
    error_set("[device_info] The device handle is empty.");
    return api_fail();
  }
  device_info* fresh = calloc(1, sizeof *fresh);
  if (!fresh) {
    error_set("[device_info] Out of memory.");
    return api_fail();
  }
  if (info_gather(fresh, *(const device*)dev.ctx)) {
    info_free(fresh);
    return api_fail();
  }
  /* Replace the contents in place so that copies of the handle agree. */
  device_info* dst = info->ctx;
  if (!dst) {
    info->ctx = fresh;
    return 0;
  }
  device_info old = *dst;
  *dst = *fresh;
  *fresh = old;
  info_free(fresh);
  return 0;
}

int mlx_device_info_free(mlx_device_info info) {
  info_free(info.ctx);
  return 0;
}

int mlx_device_info_has_key(bool* exists, mlx_device_info info,
                            const char* key) {
  const device_info* d = lookup_args(exists, info, key, "device_info_has_key");
  if (!d) return api_fail();
  *exists = info_find(d, key) != NULL;
  return 0;
}

int mlx_device_info_is_string(bool* is_string, mlx_device_info info,
                              const char* key) {
  const device_info* d =
      lookup_args(is_string, info, key, "device_info_is_string");
  if (!d) return api_fail();
  const info_entry* e = info_find(d, key);
  if (!e) return 2;
  *is_string = e->text != NULL;
  return 0;
}

int mlx_device_info_get_string(const char** value, mlx_device_info info,
                               const char* key) {
  const device_info* d =
      lookup_args(value, info, key, "device_info_get_string");
  if (!d) return api_fail();
  const info_entry* e = info_find(d, key);
  if (!e || !e->text) return 2;
  *value = e->text;
  return 0;
}

int mlx_device_info_get_size(size_t* value, mlx_device_info info,
                             const char* key) {
  const device_info* d = lookup_args(value, info, key, "device_info_get_size");
  if (!d) return api_fail();
  const info_entry* e = info_find(d, key);
  if (!e || e->text) return 2;
  *value = e->size;
  return 0;
}

int mlx_device_info_get_keys(mlx_vector_string* keys, mlx_device_info info) {
  API_CHECK_RES(keys, "device_info_get_keys");
  const device_info* d = info_of(info, "device_info_get_keys");
  if (!d) return api_fail();
  const char** names = malloc((d->count ? d->count : 1) * sizeof *names);
  if (!names) {
    error_set("[device_info_get_keys] Out of memory.");
    return api_fail();
  }
  for (size_t i = 0; i < d->count; i++) names[i] = d->entries[i].key;
  int rc = mlx_vector_string_set_data(keys, names, d->count);
  free(names);
  return rc;
}
