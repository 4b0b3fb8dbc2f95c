/* test_vector_map.c - the container handles: mlx_string, the four
 * mlx_vector_* kinds, the two string-keyed maps with their iterators, and
 * mlx_device_info. Checks ownership (arrays held by reference, strings
 * copied), replace-in-place semantics of _set, and the exact errors for
 * empty handles, NULL pointers and out-of-range indices. ASan in CI proves
 * the reference counting leak-free. */
#include <stdlib.h>
#include <sys/utsname.h>

#include "api/api.h"
#include "harness.h"

/* ---- helpers ---- */

static float item_f32(mlx_array a) {
  float v = -1.0f;
  CHECK_OK(mlx_array_item_float32(&v, a));
  return v;
}

static int32_t item_i32(mlx_array a) {
  int32_t v = -1;
  CHECK_OK(mlx_array_item_int32(&v, a));
  return v;
}

/* The reference count of the array behind a handle. */
static long refs_of(mlx_array a) {
  return atomic_load(&((array*)a.ctx)->refs);
}

/* Element idx of v read as a float32 scalar. */
static float vector_f32_at(mlx_vector_array v, size_t idx) {
  mlx_array a = mlx_array_new();
  CHECK_OK(mlx_vector_array_get(&a, v, idx));
  float f = a.ctx ? item_f32(a) : -1.0f;
  mlx_array_free(a);
  return f;
}

/* Runs call and checks it returned rc without reporting any error. */
#define EXPECT_SILENT_RC(call, rc)                                       \
  do {                                                                   \
    test_error_count = 0;                                                \
    int rc2_ = (call);                                                   \
    CHECK_MSG(rc2_ == (rc) && test_error_count == 0,                     \
              "%s returned %d with %d reports, expected %d silently",    \
              #call, rc2_, test_error_count, (rc));                      \
  } while (0)

/* ---- mlx_string ---- */

static void test_string_copies_and_empty_handle_reads_empty(void) {
  mlx_string s = mlx_string_new();
  CHECK(s.ctx == NULL);
  CHECK(strcmp(mlx_string_data(s), "") == 0);

  char buf[] = "hello";
  mlx_string t = mlx_string_new_data(buf);
  buf[0] = 'J';
  CHECK(strcmp(mlx_string_data(t), "hello") == 0);

  CHECK_OK(mlx_string_set(&s, t));
  CHECK(strcmp(mlx_string_data(s), "hello") == 0);
  CHECK(mlx_string_data(s) != mlx_string_data(t));
  CHECK_OK(mlx_string_set(&s, s));
  CHECK(strcmp(mlx_string_data(s), "hello") == 0);

  mlx_string u = mlx_string_new_data("");
  CHECK(u.ctx != NULL && strcmp(mlx_string_data(u), "") == 0);
  CHECK_OK(mlx_string_set(&s, u));
  CHECK(strcmp(mlx_string_data(s), "") == 0);

  EXPECT_ERROR(mlx_string_set(&s, mlx_string_new()),
               "[string_set] The source string handle is empty.");
  EXPECT_ERROR(mlx_string_set(NULL, t),
               "[string_set] The destination pointer is NULL.");
  test_error_count = 0;
  mlx_string bad = mlx_string_new_data(NULL);
  CHECK(bad.ctx == NULL && test_error_count == 1 &&
        strcmp(test_last_error, "[string] The text pointer is NULL.") == 0);

  CHECK_OK(mlx_string_free(s));
  CHECK_OK(mlx_string_free(t));
  CHECK_OK(mlx_string_free(u));
  CHECK_OK(mlx_string_free(mlx_string_new()));
}

/* ---- mlx_vector_array ---- */

static void test_vector_array_holds_arrays_by_reference(void) {
  mlx_array a = mlx_array_new_float(1.5f);
  mlx_array b = mlx_array_new_int(7);
  mlx_vector_array v = mlx_vector_array_new();
  CHECK(v.ctx != NULL);
  CHECK(mlx_vector_array_size(v) == 0);

  CHECK_OK(mlx_vector_array_append_value(v, a));
  CHECK(refs_of(a) == 2);
  mlx_array more[2] = {b, a};
  CHECK_OK(mlx_vector_array_append_data(v, more, 2));
  CHECK(mlx_vector_array_size(v) == 3);
  CHECK(refs_of(a) == 3 && refs_of(b) == 2);

  /* _get hands out the very same array, as a new reference, and releases
   * what the result handle held before. */
  mlx_array got = mlx_array_new_int(99);
  CHECK_OK(mlx_vector_array_get(&got, v, 1));
  CHECK(got.ctx == b.ctx && item_i32(got) == 7);
  CHECK(refs_of(b) == 3);
  CHECK_OK(mlx_vector_array_get(&got, v, 1)); /* same array again */
  CHECK(refs_of(b) == 3);
  CHECK_OK(mlx_vector_array_get(&got, v, 2));
  CHECK(got.ctx == a.ctx && item_f32(got) == 1.5f);
  CHECK(refs_of(b) == 2);
  mlx_array_free(got);

  /* The vector keeps its arrays alive after the user's handles go. */
  mlx_array_free(a);
  mlx_array_free(b);
  CHECK(vector_f32_at(v, 0) == 1.5f);
  CHECK(vector_f32_at(v, 2) == 1.5f);
  mlx_array bb = mlx_array_new();
  CHECK_OK(mlx_vector_array_get(&bb, v, 1));
  CHECK(item_i32(bb) == 7);
  mlx_array_free(bb);
  CHECK_OK(mlx_vector_array_free(v));
  CHECK_OK(mlx_vector_array_free((mlx_vector_array){NULL}));
}

static void test_vector_array_constructors_and_set(void) {
  mlx_array x[3] = {mlx_array_new_float(1.0f), mlx_array_new_float(2.0f),
                    mlx_array_new_float(3.0f)};
  mlx_vector_array v = mlx_vector_array_new_data(x, 3);
  CHECK(mlx_vector_array_size(v) == 3);
  CHECK(vector_f32_at(v, 0) == 1.0f && vector_f32_at(v, 2) == 3.0f);
  mlx_vector_array one = mlx_vector_array_new_value(x[1]);
  CHECK(mlx_vector_array_size(one) == 1 && vector_f32_at(one, 0) == 2.0f);
  mlx_vector_array none = mlx_vector_array_new_data(NULL, 0);
  CHECK(none.ctx != NULL && mlx_vector_array_size(none) == 0);

  /* set_data / set_value replace the contents in place: a copy of the
   * handle struct sees the change. */
  mlx_vector_array alias = v;
  CHECK_OK(mlx_vector_array_set_data(&v, x + 1, 2));
  CHECK(v.ctx == alias.ctx);
  CHECK(mlx_vector_array_size(alias) == 2 && vector_f32_at(alias, 0) == 2.0f);
  CHECK_OK(mlx_vector_array_set_value(&v, x[2]));
  CHECK(mlx_vector_array_size(v) == 1 && vector_f32_at(v, 0) == 3.0f);
  CHECK_OK(mlx_vector_array_set_data(&v, NULL, 0));
  CHECK(mlx_vector_array_size(v) == 0);

  /* set copies: the two vectors are independent afterwards. */
  CHECK_OK(mlx_vector_array_set(&v, one));
  CHECK(mlx_vector_array_size(v) == 1 && vector_f32_at(v, 0) == 2.0f);
  CHECK_OK(mlx_vector_array_append_value(v, x[0]));
  CHECK(mlx_vector_array_size(v) == 2 && mlx_vector_array_size(one) == 1);
  CHECK_OK(mlx_vector_array_set(&v, v));
  CHECK(mlx_vector_array_size(v) == 2 && vector_f32_at(v, 1) == 1.0f);

  /* An empty destination handle is created by set, set_data and set_value. */
  mlx_vector_array fresh = {NULL};
  CHECK_OK(mlx_vector_array_set(&fresh, v));
  CHECK(fresh.ctx != NULL && mlx_vector_array_size(fresh) == 2);
  mlx_vector_array fresh2 = {NULL};
  CHECK_OK(mlx_vector_array_set_data(&fresh2, x, 3));
  CHECK(mlx_vector_array_size(fresh2) == 3);
  mlx_vector_array fresh3 = {NULL};
  CHECK_OK(mlx_vector_array_set_value(&fresh3, x[0]));
  CHECK(mlx_vector_array_size(fresh3) == 1);

  CHECK(refs_of(x[0]) == 1 + 1 /* v */ + 1 /* fresh */ + 1 /* fresh2 */ +
                             1 /* fresh3 */);
  mlx_vector_array_free(v);
  mlx_vector_array_free(one);
  mlx_vector_array_free(none);
  mlx_vector_array_free(fresh);
  mlx_vector_array_free(fresh2);
  mlx_vector_array_free(fresh3);
  CHECK(refs_of(x[0]) == 1 && refs_of(x[1]) == 1 && refs_of(x[2]) == 1);
  for (int i = 0; i < 3; i++) mlx_array_free(x[i]);
}

static void test_vector_array_errors(void) {
  mlx_array a = mlx_array_new_float(4.0f);
  mlx_array b = mlx_array_new_float(5.0f);
  mlx_vector_array v = mlx_vector_array_new();
  mlx_vector_array empty = {NULL};
  mlx_array two[2] = {a, b};
  CHECK_OK(mlx_vector_array_append_data(v, two, 2));

  mlx_array r = mlx_array_new();
  EXPECT_ERROR(mlx_vector_array_get(&r, v, 5),
               "[vector_array_get] Index 5 is out of range for a vector of size 2.");
  EXPECT_ERROR(mlx_vector_array_get(&r, v, 2),
               "[vector_array_get] Index 2 is out of range for a vector of size 2.");
  CHECK(r.ctx == NULL);
  EXPECT_ERROR(mlx_vector_array_get(NULL, v, 0),
               "[vector_array_get] The result pointer is NULL.");
  EXPECT_ERROR(mlx_vector_array_get(&r, empty, 0),
               "[vector_array_get] The vector handle is empty.");

  test_error_count = 0;
  CHECK(mlx_vector_array_size(empty) == 0);
  CHECK(test_error_count == 1 &&
        strcmp(test_last_error, "[vector_array_size] The vector handle is empty.") == 0);

  EXPECT_ERROR(mlx_vector_array_append_value(v, mlx_array_new()),
               "[vector_array_append_value] Input element 0 is an empty array handle.");
  mlx_array with_hole[3] = {a, mlx_array_new(), b};
  EXPECT_ERROR(mlx_vector_array_append_data(v, with_hole, 3),
               "[vector_array_append_data] Input element 1 is an empty array handle.");
  /* All or nothing: the failed appends added nothing and kept no references. */
  CHECK(mlx_vector_array_size(v) == 2);
  CHECK(refs_of(a) == 2 && refs_of(b) == 2);
  EXPECT_ERROR(mlx_vector_array_append_data(v, NULL, 1),
               "[vector_array_append_data] The data pointer is NULL.");
  EXPECT_ERROR(mlx_vector_array_append_value(empty, a),
               "[vector_array_append_value] The vector handle is empty.");
  EXPECT_ERROR(mlx_vector_array_append_data(empty, two, 2),
               "[vector_array_append_data] The vector handle is empty.");

  /* A failed set leaves the destination untouched. */
  EXPECT_ERROR(mlx_vector_array_set_data(&v, with_hole, 3),
               "[vector_array_set_data] Input element 1 is an empty array handle.");
  EXPECT_ERROR(mlx_vector_array_set_value(&v, mlx_array_new()),
               "[vector_array_set_value] Input element 0 is an empty array handle.");
  EXPECT_ERROR(mlx_vector_array_set_data(&v, NULL, 2),
               "[vector_array_set_data] The data pointer is NULL.");
  EXPECT_ERROR(mlx_vector_array_set(&v, empty),
               "[vector_array_set] The vector handle is empty.");
  EXPECT_ERROR(mlx_vector_array_set(NULL, v),
               "[vector_array_set] The destination pointer is NULL.");
  EXPECT_ERROR(mlx_vector_array_set_value(NULL, a),
               "[vector_array_set_value] The destination pointer is NULL.");
  CHECK(mlx_vector_array_size(v) == 2 && vector_f32_at(v, 1) == 5.0f);

  test_error_count = 0;
  mlx_vector_array bad = mlx_vector_array_new_data(with_hole, 3);
  CHECK(bad.ctx == NULL && test_error_count == 1 &&
        strcmp(test_last_error,
               "[vector_array_new_data] Input element 1 is an empty array handle.") == 0);
  test_error_count = 0;
  bad = mlx_vector_array_new_value(mlx_array_new());
  CHECK(bad.ctx == NULL && test_error_count == 1 &&
        strcmp(test_last_error,
               "[vector_array_new_value] Input element 0 is an empty array handle.") == 0);

  mlx_vector_array_free(v);
  CHECK(refs_of(a) == 1 && refs_of(b) == 1);
  mlx_array_free(a);
  mlx_array_free(b);
}

/* The internal helpers other API files use (api.h). */
static void test_vector_array_internal_helpers(void) {
  mlx_array a = mlx_array_new_float(1.0f);
  mlx_array b = mlx_array_new_float(2.0f);

  /* api_set_vector consumes its references and creates the vector. */
  array* items[2] = {api_array(a), api_array(b)};
  array_retain(items[0]);
  array_retain(items[1]);
  mlx_vector_array v = {NULL};
  CHECK(api_set_vector(&v, items, 2) == 0);
  CHECK(v.ctx != NULL && api_vector_array_size(v) == 2);
  CHECK(api_vector_array_at(v, 0) == a.ctx && api_vector_array_at(v, 1) == b.ctx);
  CHECK(api_vector_array_at(v, 2) == NULL);
  CHECK(refs_of(a) == 2 && refs_of(b) == 2);

  /* ...and replaces the contents of an existing one in place. */
  void* where = v.ctx;
  array_retain(items[1]);
  CHECK(api_set_vector(&v, items + 1, 1) == 0);
  CHECK(v.ctx == where && api_vector_array_size(v) == 1);
  CHECK(api_vector_array_at(v, 0) == b.ctx);
  CHECK(refs_of(a) == 1 && refs_of(b) == 2);
  CHECK(api_set_vector(&v, NULL, 0) == 0 && api_vector_array_size(v) == 0);
  CHECK(refs_of(b) == 1);

  /* Even a failing call consumes the references. */
  array_retain(items[0]);
  CHECK(api_set_vector(NULL, items, 1) == 1);
  CHECK(strcmp(error_message(), "[vector_array] The result pointer is NULL.") == 0);
  error_clear();
  CHECK(refs_of(a) == 1);

  CHECK(api_vector_array_size((mlx_vector_array){NULL}) == 0);
  CHECK(api_vector_array_at((mlx_vector_array){NULL}, 0) == NULL);
  mlx_vector_array_free(v);
  mlx_array_free(a);
  mlx_array_free(b);
}

/* ---- mlx_vector_vector_array ---- */

static void test_vector_vector_array_copies_inner_vectors(void) {
  mlx_array x = mlx_array_new_float(10.0f);
  mlx_array y = mlx_array_new_float(20.0f);
  mlx_vector_array inner[2] = {mlx_vector_array_new_value(x),
                               mlx_vector_array_new_data((mlx_array[]){x, y}, 2)};
  mlx_vector_vector_array vv = mlx_vector_vector_array_new_data(inner, 2);
  CHECK(mlx_vector_vector_array_size(vv) == 2);

  /* Changing the source vector afterwards does not reach the copy. */
  CHECK_OK(mlx_vector_array_append_value(inner[0], y));
  mlx_vector_array got = mlx_vector_array_new();
  CHECK_OK(mlx_vector_vector_array_get(&got, vv, 0));
  CHECK(mlx_vector_array_size(got) == 1 && vector_f32_at(got, 0) == 10.0f);
  CHECK(api_vector_array_at(got, 0) == x.ctx);
  /* _get gives a copy too, and replaces *res's contents in place. */
  void* where = got.ctx;
  CHECK_OK(mlx_vector_vector_array_get(&got, vv, 1));
  CHECK(got.ctx == where && mlx_vector_array_size(got) == 2);
  CHECK(vector_f32_at(got, 1) == 20.0f);
  CHECK_OK(mlx_vector_array_append_value(got, x));
  mlx_vector_array again = {NULL};
  CHECK_OK(mlx_vector_vector_array_get(&again, vv, 1));
  CHECK(mlx_vector_array_size(again) == 2);

  CHECK_OK(mlx_vector_vector_array_append_value(vv, inner[0]));
  CHECK_OK(mlx_vector_vector_array_append_data(vv, inner, 2));
  CHECK(mlx_vector_vector_array_size(vv) == 5);
  CHECK_OK(mlx_vector_vector_array_get(&got, vv, 2));
  CHECK(mlx_vector_array_size(got) == 2);

  mlx_vector_vector_array one = mlx_vector_vector_array_new_value(inner[1]);
  CHECK(mlx_vector_vector_array_size(one) == 1);
  CHECK_OK(mlx_vector_vector_array_set(&one, vv));
  CHECK(mlx_vector_vector_array_size(one) == 5);
  CHECK_OK(mlx_vector_vector_array_set_value(&one, inner[0]));
  CHECK(mlx_vector_vector_array_size(one) == 1);
  CHECK_OK(mlx_vector_vector_array_set_data(&one, inner, 2));
  CHECK(mlx_vector_vector_array_size(one) == 2);
  mlx_vector_vector_array made = {NULL};
  CHECK_OK(mlx_vector_vector_array_set_value(&made, inner[1]));
  CHECK(mlx_vector_vector_array_size(made) == 1);
  mlx_vector_vector_array none = mlx_vector_vector_array_new();
  CHECK(mlx_vector_vector_array_size(none) == 0);

  EXPECT_ERROR(mlx_vector_vector_array_get(&got, vv, 5),
               "[vector_vector_array_get] Index 5 is out of range for a vector of size 5.");
  EXPECT_ERROR(mlx_vector_vector_array_get(NULL, vv, 0),
               "[vector_vector_array_get] The result pointer is NULL.");
  EXPECT_ERROR(mlx_vector_vector_array_get(&got, (mlx_vector_vector_array){NULL}, 0),
               "[vector_vector_array_get] The vector handle is empty.");
  EXPECT_ERROR(mlx_vector_vector_array_append_value(vv, (mlx_vector_array){NULL}),
               "[vector_vector_array_append_value] Input element 0 is an empty vector handle.");
  mlx_vector_array holed[2] = {inner[0], {NULL}};
  EXPECT_ERROR(mlx_vector_vector_array_set_data(&one, holed, 2),
               "[vector_vector_array_set_data] Input element 1 is an empty vector handle.");
  CHECK(mlx_vector_vector_array_size(one) == 2 && mlx_vector_vector_array_size(vv) == 5);

  mlx_vector_vector_array_free(vv);
  mlx_vector_vector_array_free(one);
  mlx_vector_vector_array_free(made);
  mlx_vector_vector_array_free(none);
  mlx_vector_array_free(got);
  mlx_vector_array_free(again);
  mlx_vector_array_free(inner[0]);
  mlx_vector_array_free(inner[1]);
  CHECK(refs_of(x) == 1 && refs_of(y) == 1);
  mlx_array_free(x);
  mlx_array_free(y);
}

/* ---- mlx_vector_int ---- */

static void test_vector_int_all_functions(void) {
  int data[4] = {3, 1, 4, 1};
  mlx_vector_int v = mlx_vector_int_new_data(data, 4);
  data[0] = 100; /* copied in */
  int got = 0;
  CHECK(mlx_vector_int_size(v) == 4);
  CHECK_OK(mlx_vector_int_get(&got, v, 0));
  CHECK(got == 3);
  CHECK_OK(mlx_vector_int_append_value(v, 5));
  CHECK_OK(mlx_vector_int_append_data(v, (int[]){9, 2, 6}, 3));
  CHECK(mlx_vector_int_size(v) == 8);
  int want[8] = {3, 1, 4, 1, 5, 9, 2, 6};
  for (size_t i = 0; i < 8; i++) {
    CHECK_OK(mlx_vector_int_get(&got, v, i));
    CHECK(got == want[i]);
  }
  /* Many appends grow the storage. */
  for (int i = 0; i < 1000; i++) CHECK_OK(mlx_vector_int_append_value(v, i));
  CHECK(mlx_vector_int_size(v) == 1008);
  CHECK_OK(mlx_vector_int_get(&got, v, 1007));
  CHECK(got == 999);

  mlx_vector_int w = mlx_vector_int_new_value(-2);
  CHECK(mlx_vector_int_size(w) == 1);
  CHECK_OK(mlx_vector_int_set(&w, v));
  CHECK(mlx_vector_int_size(w) == 1008);
  CHECK_OK(mlx_vector_int_set_value(&w, 42));
  CHECK(mlx_vector_int_size(w) == 1 && mlx_vector_int_size(v) == 1008);
  CHECK_OK(mlx_vector_int_get(&got, w, 0));
  CHECK(got == 42);
  CHECK_OK(mlx_vector_int_set_data(&w, want, 2));
  CHECK_OK(mlx_vector_int_get(&got, w, 1));
  CHECK(got == 1 && mlx_vector_int_size(w) == 2);
  mlx_vector_int e = mlx_vector_int_new();
  CHECK(mlx_vector_int_size(e) == 0);
  mlx_vector_int made = {NULL};
  CHECK_OK(mlx_vector_int_set_data(&made, want, 3));
  CHECK(mlx_vector_int_size(made) == 3);

  got = 77;
  EXPECT_ERROR(mlx_vector_int_get(&got, e, 0),
               "[vector_int_get] Index 0 is out of range for a vector of size 0.");
  CHECK(got == 77);
  EXPECT_ERROR(mlx_vector_int_get(NULL, w, 0),
               "[vector_int_get] The result pointer is NULL.");
  EXPECT_ERROR(mlx_vector_int_get(&got, (mlx_vector_int){NULL}, 0),
               "[vector_int_get] The vector handle is empty.");
  EXPECT_ERROR(mlx_vector_int_append_value((mlx_vector_int){NULL}, 1),
               "[vector_int_append_value] The vector handle is empty.");
  EXPECT_ERROR(mlx_vector_int_append_data(w, NULL, 3),
               "[vector_int_append_data] The data pointer is NULL.");
  EXPECT_ERROR(mlx_vector_int_set(&w, (mlx_vector_int){NULL}),
               "[vector_int_set] The vector handle is empty.");
  CHECK(mlx_vector_int_size(w) == 2);

  mlx_vector_int_free(v);
  mlx_vector_int_free(w);
  mlx_vector_int_free(e);
  mlx_vector_int_free(made);
}

/* ---- mlx_vector_string ---- */

static void test_vector_string_owns_copies(void) {
  char a[] = "alpha";
  char b[] = "beta";
  const char* src[2] = {a, b};
  mlx_vector_string v = mlx_vector_string_new_data(src, 2);
  a[0] = 'X'; /* the vector holds copies */
  char* got = NULL;
  CHECK_OK(mlx_vector_string_get(&got, v, 0));
  CHECK(got != a && strcmp(got, "alpha") == 0);
  /* The pointer is owned by the vector and stable across appends. */
  char* first = got;
  CHECK_OK(mlx_vector_string_append_value(v, "gamma"));
  CHECK_OK(mlx_vector_string_append_data(v, (const char*[]){"", "delta"}, 2));
  CHECK(mlx_vector_string_size(v) == 5);
  CHECK_OK(mlx_vector_string_get(&got, v, 0));
  CHECK(got == first);
  CHECK_OK(mlx_vector_string_get(&got, v, 3));
  CHECK(strcmp(got, "") == 0);
  CHECK_OK(mlx_vector_string_get(&got, v, 4));
  CHECK(strcmp(got, "delta") == 0);

  /* Setting a vector from its own strings is safe (copied before freed). */
  char* own[2];
  CHECK_OK(mlx_vector_string_get(&own[0], v, 4));
  CHECK_OK(mlx_vector_string_get(&own[1], v, 1));
  CHECK_OK(mlx_vector_string_set_data(&v, (const char**)own, 2));
  CHECK(mlx_vector_string_size(v) == 2);
  CHECK_OK(mlx_vector_string_get(&got, v, 0));
  CHECK(strcmp(got, "delta") == 0);
  CHECK_OK(mlx_vector_string_get(&got, v, 1));
  CHECK(strcmp(got, "beta") == 0);

  mlx_vector_string w = mlx_vector_string_new_value("solo");
  CHECK(mlx_vector_string_size(w) == 1);
  CHECK_OK(mlx_vector_string_set(&w, v));
  CHECK_OK(mlx_vector_string_get(&got, w, 1));
  CHECK(strcmp(got, "beta") == 0);
  char* in_v = NULL;
  CHECK_OK(mlx_vector_string_get(&in_v, v, 1));
  CHECK(in_v != got);
  CHECK_OK(mlx_vector_string_set_value(&w, "one"));
  CHECK(mlx_vector_string_size(w) == 1 && mlx_vector_string_size(v) == 2);
  mlx_vector_string e = mlx_vector_string_new();
  CHECK(mlx_vector_string_size(e) == 0);

  EXPECT_ERROR(mlx_vector_string_append_value(v, NULL),
               "[vector_string_append_value] Input element 0 is a NULL string.");
  EXPECT_ERROR(mlx_vector_string_append_data(v, (const char*[]){"ok", NULL}, 2),
               "[vector_string_append_data] Input element 1 is a NULL string.");
  CHECK(mlx_vector_string_size(v) == 2);
  EXPECT_ERROR(mlx_vector_string_get(&got, v, 2),
               "[vector_string_get] Index 2 is out of range for a vector of size 2.");
  EXPECT_ERROR(mlx_vector_string_get(NULL, v, 0),
               "[vector_string_get] The result pointer is NULL.");
  EXPECT_ERROR(mlx_vector_string_set_value(NULL, "x"),
               "[vector_string_set_value] The destination pointer is NULL.");
  test_error_count = 0;
  CHECK(mlx_vector_string_size((mlx_vector_string){NULL}) == 0);
  CHECK(test_error_count == 1 &&
        strcmp(test_last_error, "[vector_string_size] The vector handle is empty.") == 0);

  mlx_vector_string_free(v);
  mlx_vector_string_free(w);
  mlx_vector_string_free(e);
}

/* ---- mlx_map_string_to_array ---- */

static void test_map_string_to_array(void) {
  mlx_array a = mlx_array_new_float(1.0f);
  mlx_array b = mlx_array_new_float(2.0f);
  mlx_array c = mlx_array_new_int(3);
  mlx_map_string_to_array m = mlx_map_string_to_array_new();
  CHECK(m.ctx != NULL);

  char key[] = "weight";
  CHECK_OK(mlx_map_string_to_array_insert(m, key, a));
  key[0] = 'h'; /* keys are copied */
  CHECK_OK(mlx_map_string_to_array_insert(m, "bias", b));
  CHECK_OK(mlx_map_string_to_array_insert(m, "scale", c));
  CHECK(refs_of(a) == 2);

  mlx_array got = mlx_array_new();
  CHECK_OK(mlx_map_string_to_array_get(&got, m, "weight"));
  CHECK(got.ctx == a.ctx && item_f32(got) == 1.0f);
  /* Replacing a value keeps the key's position and drops the old value. */
  CHECK_OK(mlx_map_string_to_array_insert(m, "weight", c));
  CHECK(refs_of(a) == 2); /* a: the user's handle and `got` */
  CHECK_OK(mlx_map_string_to_array_get(&got, m, "weight"));
  CHECK(got.ctx == c.ctx && item_i32(got) == 3);
  CHECK(refs_of(a) == 1);
  /* Re-inserting the same value is harmless. */
  CHECK_OK(mlx_map_string_to_array_insert(m, "weight", got));
  CHECK(refs_of(c) == 4); /* user, got, "weight", "scale" */

  /* An absent key: rc 2, no error, *value untouched. */
  EXPECT_SILENT_RC(mlx_map_string_to_array_get(&got, m, "heigh"), 2);
  CHECK(got.ctx == c.ctx);

  /* Iteration in insertion order, then 2 (and 2 again). */
  mlx_map_string_to_array_iterator it = mlx_map_string_to_array_iterator_new(m);
  CHECK(it.ctx != NULL && it.map_ctx == m.ctx);
  const char* k = NULL;
  const char* want_keys[3] = {"weight", "bias", "scale"};
  const void* want_vals[3] = {c.ctx, b.ctx, c.ctx};
  for (int i = 0; i < 3; i++) {
    CHECK_OK(mlx_map_string_to_array_iterator_next(&k, &got, it));
    CHECK(k && strcmp(k, want_keys[i]) == 0 && got.ctx == want_vals[i]);
  }
  EXPECT_SILENT_RC(mlx_map_string_to_array_iterator_next(&k, &got, it), 2);
  EXPECT_SILENT_RC(mlx_map_string_to_array_iterator_next(&k, &got, it), 2);
  /* A key inserted after the iterator ran out shows up next. */
  CHECK_OK(mlx_map_string_to_array_insert(m, "late", a));
  CHECK_OK(mlx_map_string_to_array_iterator_next(&k, &got, it));
  CHECK(strcmp(k, "late") == 0 && got.ctx == a.ctx);
  CHECK_OK(mlx_map_string_to_array_iterator_free(it));

  /* set copies the entries; the copy is independent. */
  mlx_map_string_to_array copy = {NULL};
  CHECK_OK(mlx_map_string_to_array_set(&copy, m));
  CHECK_OK(mlx_map_string_to_array_insert(copy, "only_in_copy", b));
  EXPECT_SILENT_RC(mlx_map_string_to_array_get(&got, m, "only_in_copy"), 2);
  CHECK_OK(mlx_map_string_to_array_get(&got, copy, "bias"));
  CHECK(got.ctx == b.ctx);
  mlx_map_string_to_array alias = copy;
  CHECK_OK(mlx_map_string_to_array_set(&copy, m)); /* in place */
  CHECK(copy.ctx == alias.ctx);
  EXPECT_SILENT_RC(mlx_map_string_to_array_get(&got, alias, "only_in_copy"), 2);
  CHECK_OK(mlx_map_string_to_array_set(&copy, copy));
  CHECK_OK(mlx_map_string_to_array_get(&got, copy, "late"));

  /* Errors. */
  mlx_map_string_to_array none = {NULL};
  EXPECT_ERROR(mlx_map_string_to_array_insert(m, "x", mlx_array_new()),
               "[map_string_to_array_insert] The value array is empty (an mlx_array_new() handle).");
  EXPECT_ERROR(mlx_map_string_to_array_insert(m, NULL, a),
               "[map_string_to_array_insert] The key is NULL.");
  EXPECT_ERROR(mlx_map_string_to_array_insert(none, "x", a),
               "[map_string_to_array_insert] The map handle is empty.");
  EXPECT_ERROR(mlx_map_string_to_array_get(&got, none, "x"),
               "[map_string_to_array_get] The map handle is empty.");
  EXPECT_ERROR(mlx_map_string_to_array_get(NULL, m, "x"),
               "[map_string_to_array_get] The result pointer is NULL.");
  EXPECT_ERROR(mlx_map_string_to_array_get(&got, m, NULL),
               "[map_string_to_array_get] The key is NULL.");
  EXPECT_ERROR(mlx_map_string_to_array_set(&copy, none),
               "[map_string_to_array_set] The map handle is empty.");
  EXPECT_ERROR(mlx_map_string_to_array_set(NULL, m),
               "[map_string_to_array_set] The destination pointer is NULL.");
  test_error_count = 0;
  mlx_map_string_to_array_iterator bad = mlx_map_string_to_array_iterator_new(none);
  CHECK(bad.ctx == NULL && bad.map_ctx == NULL && test_error_count == 1 &&
        strcmp(test_last_error,
               "[map_string_to_array_iterator_new] The map handle is empty.") == 0);
  EXPECT_ERROR(mlx_map_string_to_array_iterator_next(&k, &got, bad),
               "[map_string_to_array_iterator_next] The iterator handle is empty.");
  mlx_map_string_to_array_iterator it2 = mlx_map_string_to_array_iterator_new(m);
  EXPECT_ERROR(mlx_map_string_to_array_iterator_next(NULL, &got, it2),
               "[map_string_to_array_iterator_next] The result pointer is NULL.");
  mlx_map_string_to_array_iterator_free(it2);
  mlx_map_string_to_array_iterator_free(bad);

  mlx_array_free(got);
  mlx_map_string_to_array_free(m);
  mlx_map_string_to_array_free(copy);
  mlx_map_string_to_array_free(none);
  CHECK(refs_of(a) == 1 && refs_of(b) == 1 && refs_of(c) == 1);
  mlx_array_free(a);
  mlx_array_free(b);
  mlx_array_free(c);
}

/* Thousands of keys: the hash index grows and every key stays findable. */
static void test_map_many_keys(void) {
  enum { N = 3000 };
  mlx_map_string_to_array m = mlx_map_string_to_array_new();
  mlx_array v[4] = {mlx_array_new_int(0), mlx_array_new_int(1),
                    mlx_array_new_int(2), mlx_array_new_int(3)};
  char key[32];
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof key, "layers.%d.weight", i);
    CHECK_OK(mlx_map_string_to_array_insert(m, key, v[i % 4]));
  }
  mlx_array got = mlx_array_new();
  int wrong = 0;
  for (int i = N - 1; i >= 0; i--) {
    snprintf(key, sizeof key, "layers.%d.weight", i);
    if (mlx_map_string_to_array_get(&got, m, key) != 0 || got.ctx != v[i % 4].ctx)
      wrong++;
  }
  CHECK(wrong == 0);
  mlx_map_string_to_array_iterator it = mlx_map_string_to_array_iterator_new(m);
  const char* k;
  int n = 0, out_of_order = 0;
  while (mlx_map_string_to_array_iterator_next(&k, &got, it) == 0) {
    snprintf(key, sizeof key, "layers.%d.weight", n);
    if (strcmp(k, key) != 0) out_of_order++;
    n++;
  }
  CHECK(n == N && out_of_order == 0);
  mlx_map_string_to_array_iterator_free(it);
  mlx_array_free(got);
  mlx_map_string_to_array_free(m);
  for (int i = 0; i < 4; i++) {
    CHECK(refs_of(v[i]) == 1);
    mlx_array_free(v[i]);
  }
}

/* ---- mlx_map_string_to_string ---- */

static void test_map_string_to_string(void) {
  mlx_map_string_to_string m = mlx_map_string_to_string_new();
  char val[] = "float16";
  CHECK_OK(mlx_map_string_to_string_insert(m, "dtype", val));
  val[0] = 'X'; /* values are copied */
  CHECK_OK(mlx_map_string_to_string_insert(m, "format", "mlx"));
  const char* got = NULL;
  CHECK_OK(mlx_map_string_to_string_get(&got, m, "dtype"));
  CHECK(got && strcmp(got, "float16") == 0);
  /* Replace, including with the map's own current value. */
  CHECK_OK(mlx_map_string_to_string_insert(m, "dtype", got));
  CHECK_OK(mlx_map_string_to_string_get(&got, m, "dtype"));
  CHECK(strcmp(got, "float16") == 0);
  CHECK_OK(mlx_map_string_to_string_insert(m, "dtype", "bfloat16"));
  CHECK_OK(mlx_map_string_to_string_get(&got, m, "dtype"));
  CHECK(strcmp(got, "bfloat16") == 0);
  got = "untouched";
  EXPECT_SILENT_RC(mlx_map_string_to_string_get(&got, m, "absent"), 2);
  CHECK(strcmp(got, "untouched") == 0);

  mlx_map_string_to_string_iterator it = mlx_map_string_to_string_iterator_new(m);
  CHECK(it.map_ctx == m.ctx);
  const char* k = NULL;
  CHECK_OK(mlx_map_string_to_string_iterator_next(&k, &got, it));
  CHECK(strcmp(k, "dtype") == 0 && strcmp(got, "bfloat16") == 0);
  CHECK_OK(mlx_map_string_to_string_iterator_next(&k, &got, it));
  CHECK(strcmp(k, "format") == 0 && strcmp(got, "mlx") == 0);
  EXPECT_SILENT_RC(mlx_map_string_to_string_iterator_next(&k, &got, it), 2);
  mlx_map_string_to_string_iterator_free(it);

  /* An empty map iterates zero times. */
  mlx_map_string_to_string empty = mlx_map_string_to_string_new();
  it = mlx_map_string_to_string_iterator_new(empty);
  EXPECT_SILENT_RC(mlx_map_string_to_string_iterator_next(&k, &got, it), 2);
  mlx_map_string_to_string_iterator_free(it);
  EXPECT_SILENT_RC(mlx_map_string_to_string_get(&got, empty, "dtype"), 2);

  mlx_map_string_to_string copy = {NULL};
  CHECK_OK(mlx_map_string_to_string_set(&copy, m));
  CHECK_OK(mlx_map_string_to_string_insert(m, "format", "gguf"));
  CHECK_OK(mlx_map_string_to_string_get(&got, copy, "format"));
  CHECK(strcmp(got, "mlx") == 0);
  CHECK_OK(mlx_map_string_to_string_set(&copy, empty));
  EXPECT_SILENT_RC(mlx_map_string_to_string_get(&got, copy, "format"), 2);

  mlx_map_string_to_string none = {NULL};
  EXPECT_ERROR(mlx_map_string_to_string_insert(m, "k", NULL),
               "[map_string_to_string_insert] The value is NULL.");
  EXPECT_ERROR(mlx_map_string_to_string_insert(m, NULL, "v"),
               "[map_string_to_string_insert] The key is NULL.");
  EXPECT_ERROR(mlx_map_string_to_string_insert(none, "k", "v"),
               "[map_string_to_string_insert] The map handle is empty.");
  EXPECT_ERROR(mlx_map_string_to_string_get(&got, none, "k"),
               "[map_string_to_string_get] The map handle is empty.");
  EXPECT_ERROR(mlx_map_string_to_string_get(NULL, m, "k"),
               "[map_string_to_string_get] The result pointer is NULL.");
  EXPECT_ERROR(mlx_map_string_to_string_set(&copy, none),
               "[map_string_to_string_set] The map handle is empty.");
  test_error_count = 0;
  mlx_map_string_to_string_iterator bad = mlx_map_string_to_string_iterator_new(none);
  CHECK(bad.ctx == NULL && test_error_count == 1);
  EXPECT_ERROR(mlx_map_string_to_string_iterator_next(&k, &got, bad),
               "[map_string_to_string_iterator_next] The iterator handle is empty.");
  mlx_map_string_to_string_iterator_free(bad);

  mlx_map_string_to_string_free(m);
  mlx_map_string_to_string_free(empty);
  mlx_map_string_to_string_free(copy);
  mlx_map_string_to_string_free(none);
}

/* ---- mlx_device_info ---- */

static void test_device_info_cpu(void) {
  mlx_device cpu = mlx_device_new_type(MLX_CPU, 0);
  mlx_device_info info = mlx_device_info_new();
  CHECK(info.ctx != NULL);
  bool flag = true;
  CHECK_OK(mlx_device_info_has_key(&flag, info, "device_name"));
  CHECK(!flag); /* a new info is empty */

  CHECK_OK(mlx_device_info_get(&info, cpu));
  mlx_vector_string keys = mlx_vector_string_new_value("stale");
  CHECK_OK(mlx_device_info_get_keys(&keys, info));
  CHECK(mlx_vector_string_size(keys) == 3);
  const char* want[3] = {"device_name", "architecture", "memory_size"};
  for (size_t i = 0; i < 3; i++) {
    char* k = NULL;
    CHECK_OK(mlx_vector_string_get(&k, keys, i));
    CHECK(k && strcmp(k, want[i]) == 0);
  }

  const char* s = NULL;
  struct utsname u;
  CHECK(uname(&u) == 0);
  CHECK_OK(mlx_device_info_get_string(&s, info, "architecture"));
  CHECK_MSG(s && strcmp(s, u.machine) == 0, "architecture \"%s\"", s ? s : "");
  CHECK_OK(mlx_device_info_get_string(&s, info, "device_name"));
  CHECK(s && s[0] != 0);
  printf("device_name: %s\n", s ? s : "(null)");
  size_t mem = 0;
  CHECK_OK(mlx_device_info_get_size(&mem, info, "memory_size"));
  CHECK(mem >= ((size_t)64 << 20));
  CHECK_OK(mlx_device_info_is_string(&flag, info, "device_name"));
  CHECK(flag);
  CHECK_OK(mlx_device_info_is_string(&flag, info, "memory_size"));
  CHECK(!flag);
  CHECK_OK(mlx_device_info_has_key(&flag, info, "memory_size"));
  CHECK(flag);
  CHECK_OK(mlx_device_info_has_key(&flag, info, "absent"));
  CHECK(!flag);

  /* Absent keys and the other type: rc 2, silently, output untouched. */
  s = "untouched";
  mem = 12345;
  EXPECT_SILENT_RC(mlx_device_info_get_string(&s, info, "memory_size"), 2);
  EXPECT_SILENT_RC(mlx_device_info_get_string(&s, info, "absent"), 2);
  EXPECT_SILENT_RC(mlx_device_info_get_size(&mem, info, "device_name"), 2);
  EXPECT_SILENT_RC(mlx_device_info_get_size(&mem, info, "absent"), 2);
  EXPECT_SILENT_RC(mlx_device_info_is_string(&flag, info, "absent"), 2);
  CHECK(strcmp(s, "untouched") == 0 && mem == 12345);

  /* Getting again replaces the contents in place. */
  void* where = info.ctx;
  CHECK_OK(mlx_device_info_get(&info, cpu));
  CHECK(info.ctx == where);
  mlx_device_info made = {NULL};
  CHECK_OK(mlx_device_info_get(&made, cpu));
  CHECK(made.ctx != NULL);
  mlx_vector_string made_keys = {NULL};
  CHECK_OK(mlx_device_info_get_keys(&made_keys, made));
  CHECK(mlx_vector_string_size(made_keys) == 3);

  mlx_vector_string_free(keys);
  mlx_vector_string_free(made_keys);
  mlx_device_info_free(info);
  mlx_device_info_free(made);
  mlx_device_free(cpu);
}

static void test_device_info_errors(void) {
  mlx_device_info info = mlx_device_info_new();
  mlx_device gpu = mlx_device_new_type(MLX_GPU, 0);
  int gpus = -1;
  CHECK_OK(mlx_device_count(&gpus, MLX_GPU));
  if (gpus == 0)
    EXPECT_ERROR_PREFIX(mlx_device_info_get(&info, gpu),
                        "[device_info] Device gpu 0 is not available: ");
  mlx_device cpu1 = mlx_device_new_type(MLX_CPU, 1);
  EXPECT_ERROR(mlx_device_info_get(&info, cpu1),
               "[device_info] Device cpu 1 is not available: there is one CPU "
               "device, with index 0.");
  EXPECT_ERROR(mlx_device_info_get(&info, (mlx_device){NULL}),
               "[device_info] The device handle is empty.");
  mlx_device cpu = mlx_device_new_type(MLX_CPU, 0);
  EXPECT_ERROR(mlx_device_info_get(NULL, cpu),
               "[device_info] The result pointer is NULL.");
  bool flag = false;
  EXPECT_ERROR(mlx_device_info_has_key(&flag, info, NULL),
               "[device_info_has_key] The key is NULL.");
  EXPECT_ERROR(mlx_device_info_has_key(NULL, info, "x"),
               "[device_info_has_key] The result pointer is NULL.");
  mlx_device_info none = {NULL};
  EXPECT_ERROR(mlx_device_info_has_key(&flag, none, "x"),
               "[device_info_has_key] The device info handle is empty.");
  EXPECT_ERROR(mlx_device_info_is_string(&flag, none, "x"),
               "[device_info_is_string] The device info handle is empty.");
  const char* s;
  size_t n;
  EXPECT_ERROR(mlx_device_info_get_string(&s, none, "x"),
               "[device_info_get_string] The device info handle is empty.");
  EXPECT_ERROR(mlx_device_info_get_size(&n, none, "x"),
               "[device_info_get_size] The device info handle is empty.");
  mlx_vector_string keys = {NULL};
  EXPECT_ERROR(mlx_device_info_get_keys(&keys, none),
               "[device_info_get_keys] The device info handle is empty.");
  EXPECT_ERROR(mlx_device_info_get_keys(NULL, info),
               "[device_info_get_keys] The result pointer is NULL.");
  CHECK(keys.ctx == NULL);
  /* The failed gets left the info empty. */
  CHECK_OK(mlx_device_info_get_keys(&keys, info));
  CHECK(mlx_vector_string_size(keys) == 0);

  mlx_vector_string_free(keys);
  mlx_device_info_free(info);
  mlx_device_info_free(none);
  mlx_device_free(gpu);
  mlx_device_free(cpu1);
  mlx_device_free(cpu);
}

int main(void) {
  test_init();
  test_string_copies_and_empty_handle_reads_empty();
  test_vector_array_holds_arrays_by_reference();
  test_vector_array_constructors_and_set();
  test_vector_array_errors();
  test_vector_array_internal_helpers();
  test_vector_vector_array_copies_inner_vectors();
  test_vector_int_all_functions();
  test_vector_string_owns_copies();
  test_map_string_to_array();
  test_map_many_keys();
  test_map_string_to_string();
  test_device_info_cpu();
  test_device_info_errors();
  return test_finish("test_vector_map");
}
