/* unary_list.h - the unary elementwise family, as one list.
 *
 * Every member with mlx-c's common signature
 *   int mlx_<name>(mlx_array* res, const mlx_array a, const mlx_stream s)
 * is one line of UNARY_OP_LIST:
 *   X(ID, name, "Primitive", rule)
 * - ID:   the enum value is UNARY_<ID> (op_unary's first argument);
 * - name: MLX's op name, used in messages and for the mlx_<name> entry point;
 * - "Primitive": the primitive's name (MLX's class name);
 * - rule: how the front-end picks dtypes (UNARY_RULE_* below).
 * UNARY_EXTRA_LIST holds the members whose entry points take more
 * arguments (round with decimals, nan_to_num) or that only exist inside
 * cmlx (round with decimals != 0 is one fused node here; MLX composes it
 * from multiplies). The front-end (ops/unary.c), the CPU kernels
 * (backend/cpu/unary.c) and the mlx-c layer (api/ops_unary.c) are all
 * generated from these lists. */
#ifndef CMLX_OPS_UNARY_LIST_H
#define CMLX_OPS_UNARY_LIST_H

/* How an op's dtypes are chosen (t = the input's dtype):
 * SAME         output t (abs of complex64 gives float32; the op-specific
 *              exceptions are in ops/unary.c);
 * FLOAT        input cast to at_least_float(t) (integers and bool ->
 *              float32), output in that type;
 * REAL_FLOAT   as FLOAT, but complex64 is an error;
 * ROUNDING     output t; integers and bool come back unchanged;
 * REAL_ROUNDING as ROUNDING, but complex64 is an error;
 * PREDICATE    output bool; integers and bool give a constant;
 * LOGICAL      input cast to bool, output bool;
 * INTEGER      output t, which must be an integer type (bool goes to
 *              logical_not);
 * COMPLEX_PART complex64 input; real inputs follow MLX (see ops/unary.c);
 * FUSED        internal members with parameters (nan_to_num, round). */
typedef enum unary_rule {
  UNARY_RULE_SAME,
  UNARY_RULE_FLOAT,
  UNARY_RULE_REAL_FLOAT,
  UNARY_RULE_ROUNDING,
  UNARY_RULE_REAL_ROUNDING,
  UNARY_RULE_PREDICATE,
  UNARY_RULE_LOGICAL,
  UNARY_RULE_INTEGER,
  UNARY_RULE_COMPLEX_PART,
  UNARY_RULE_FUSED,
} unary_rule;

#define UNARY_OP_LIST(X)                                                   \
  X(ABS, abs, "Abs", UNARY_RULE_SAME)                                      \
  X(NEGATIVE, negative, "Negative", UNARY_RULE_SAME)                       \
  X(SIGN, sign, "Sign", UNARY_RULE_SAME)                                   \
  X(SQUARE, square, "Square", UNARY_RULE_SAME)                             \
  X(EXP, exp, "Exp", UNARY_RULE_FLOAT)                                     \
  X(EXPM1, expm1, "Expm1", UNARY_RULE_REAL_FLOAT)                          \
  X(LOG, log, "Log", UNARY_RULE_FLOAT)                                     \
  X(LOG1P, log1p, "Log1p", UNARY_RULE_FLOAT)                               \
  X(LOG2, log2, "Log", UNARY_RULE_FLOAT)                                   \
  X(LOG10, log10, "Log", UNARY_RULE_FLOAT)                                 \
  X(SQRT, sqrt, "Sqrt", UNARY_RULE_FLOAT)                                  \
  X(RSQRT, rsqrt, "Rsqrt", UNARY_RULE_FLOAT)                               \
  X(RECIPROCAL, reciprocal, "Divide", UNARY_RULE_FLOAT)                    \
  X(SIN, sin, "Sin", UNARY_RULE_FLOAT)                                     \
  X(COS, cos, "Cos", UNARY_RULE_FLOAT)                                     \
  X(TAN, tan, "Tan", UNARY_RULE_FLOAT)                                     \
  X(ARCSIN, arcsin, "ArcSin", UNARY_RULE_FLOAT)                            \
  X(ARCCOS, arccos, "ArcCos", UNARY_RULE_FLOAT)                            \
  X(ARCTAN, arctan, "ArcTan", UNARY_RULE_FLOAT)                            \
  X(SINH, sinh, "Sinh", UNARY_RULE_FLOAT)                                  \
  X(COSH, cosh, "Cosh", UNARY_RULE_FLOAT)                                  \
  X(TANH, tanh, "Tanh", UNARY_RULE_FLOAT)                                  \
  X(ARCSINH, arcsinh, "ArcSinh", UNARY_RULE_FLOAT)                         \
  X(ARCCOSH, arccosh, "ArcCosh", UNARY_RULE_FLOAT)                         \
  X(ARCTANH, arctanh, "ArcTanh", UNARY_RULE_FLOAT)                         \
  X(SIGMOID, sigmoid, "Sigmoid", UNARY_RULE_REAL_FLOAT)                    \
  X(ERF, erf, "Erf", UNARY_RULE_REAL_FLOAT)                                \
  X(ERFINV, erfinv, "ErfInv", UNARY_RULE_REAL_FLOAT)                       \
  X(DEGREES, degrees, "Multiply", UNARY_RULE_FLOAT)                        \
  X(RADIANS, radians, "Multiply", UNARY_RULE_FLOAT)                        \
  X(FLOOR, floor, "Floor", UNARY_RULE_REAL_ROUNDING)                       \
  X(CEIL, ceil, "Ceil", UNARY_RULE_REAL_ROUNDING)                          \
  X(LOGICAL_NOT, logical_not, "LogicalNot", UNARY_RULE_LOGICAL)            \
  X(BITWISE_INVERT, bitwise_invert, "BitwiseInvert", UNARY_RULE_INTEGER)   \
  X(ISNAN, isnan, "IsNaN", UNARY_RULE_PREDICATE)                           \
  X(ISINF, isinf, "IsInf", UNARY_RULE_PREDICATE)                           \
  X(ISFINITE, isfinite, "IsFinite", UNARY_RULE_PREDICATE)                  \
  X(ISPOSINF, isposinf, "IsPosInf", UNARY_RULE_PREDICATE)                  \
  X(ISNEGINF, isneginf, "IsNegInf", UNARY_RULE_PREDICATE)                  \
  X(REAL, real, "Real", UNARY_RULE_COMPLEX_PART)                           \
  X(IMAG, imag, "Imag", UNARY_RULE_COMPLEX_PART)                           \
  X(CONJUGATE, conjugate, "Conjugate", UNARY_RULE_COMPLEX_PART)

/* Members with their own signatures. ROUND is round(a, 0) (MLX's Round
 * primitive: rint); ROUND_DECIMALS and NAN_TO_NUM carry parameters
 * (unary_params in backend/cpu/unary.h). */
#define UNARY_EXTRA_LIST(X)                                                \
  X(ROUND, round, "Round", UNARY_RULE_ROUNDING)                            \
  X(ROUND_DECIMALS, round, "Round", UNARY_RULE_FUSED)                      \
  X(NAN_TO_NUM, nan_to_num, "NanToNum", UNARY_RULE_FUSED)

typedef enum unary_op {
#define UNARY_ENUM_ENTRY(ID, name, prim, rule) UNARY_##ID,
  UNARY_OP_LIST(UNARY_ENUM_ENTRY)
  UNARY_EXTRA_LIST(UNARY_ENUM_ENTRY)
#undef UNARY_ENUM_ENTRY
  UNARY_OP_COUNT
} unary_op;

#endif
