/* binary_list.h - the binary elementwise family, as one list.
 *
 * Every member of the family is one line of BINARY_OP_LIST:
 *   X(ID, name, "Primitive", rule, complex_error)
 * - ID:   the enum value is BINARY_<ID> (op_binary's first argument);
 * - name: MLX's op name, used in messages and for the mlx_<name> entry point;
 * - "Primitive": the primitive's name (MLX's class name);
 * - rule: how the front-end picks dtypes (BINARY_RULE_* below);
 * - complex_error: the message MLX gives when the promoted type is
 *   complex64, or NULL when complex64 is supported.
 * The front-end (ops/binary.c), the CPU kernels (backend/cpu/binary.c) and
 * the mlx-c layer (api/ops_binary.c) are all generated from this list. */
#ifndef CMLX_OPS_BINARY_LIST_H
#define CMLX_OPS_BINARY_LIST_H

/* How an op's dtypes are chosen (t = promote_types(a, b)):
 * PROMOTE  compute and output in t;
 * FLOAT    compute and output in at_least_float(t) (integers -> float32);
 * COMPARE  compute in t, output bool;
 * LOGICAL  inputs cast to bool, output bool;
 * BITWISE  t, which must be an integer or bool type;
 * SHIFT    t with bool -> uint8, which must be an integer type. */
typedef enum binary_rule {
  BINARY_RULE_PROMOTE,
  BINARY_RULE_FLOAT,
  BINARY_RULE_COMPARE,
  BINARY_RULE_LOGICAL,
  BINARY_RULE_BITWISE,
  BINARY_RULE_SHIFT,
} binary_rule;

#define BINARY_OP_LIST(X)                                                   \
  X(ADD, add, "Add", BINARY_RULE_PROMOTE, NULL)                             \
  X(SUBTRACT, subtract, "Subtract", BINARY_RULE_PROMOTE, NULL)              \
  X(MULTIPLY, multiply, "Multiply", BINARY_RULE_PROMOTE, NULL)              \
  X(DIVIDE, divide, "Divide", BINARY_RULE_FLOAT, NULL)                      \
  X(FLOOR_DIVIDE, floor_divide, "FloorDivide", BINARY_RULE_PROMOTE,         \
    "[floor] Not supported for complex64.")                                 \
  X(REMAINDER, remainder, "Remainder", BINARY_RULE_PROMOTE,                 \
    "[remainder] Complex type not supported.")                              \
  X(POWER, power, "Power", BINARY_RULE_PROMOTE, NULL)                       \
  X(MAXIMUM, maximum, "Maximum", BINARY_RULE_PROMOTE, NULL)                 \
  X(MINIMUM, minimum, "Minimum", BINARY_RULE_PROMOTE, NULL)                 \
  X(LOGADDEXP, logaddexp, "LogAddExp", BINARY_RULE_FLOAT, NULL)             \
  X(ARCTAN2, arctan2, "ArcTan2", BINARY_RULE_FLOAT,                         \
    "[arctan2] Not supported for complex64.")                               \
  X(EQUAL, equal, "Equal", BINARY_RULE_COMPARE, NULL)                       \
  X(NOT_EQUAL, not_equal, "NotEqual", BINARY_RULE_COMPARE, NULL)            \
  X(LESS, less, "Less", BINARY_RULE_COMPARE, NULL)                          \
  X(LESS_EQUAL, less_equal, "LessEqual", BINARY_RULE_COMPARE, NULL)         \
  X(GREATER, greater, "Greater", BINARY_RULE_COMPARE, NULL)                 \
  X(GREATER_EQUAL, greater_equal, "GreaterEqual", BINARY_RULE_COMPARE,      \
    NULL)                                                                   \
  X(LOGICAL_AND, logical_and, "LogicalAnd", BINARY_RULE_LOGICAL, NULL)      \
  X(LOGICAL_OR, logical_or, "LogicalOr", BINARY_RULE_LOGICAL, NULL)         \
  X(BITWISE_AND, bitwise_and, "BitwiseAnd", BINARY_RULE_BITWISE, NULL)      \
  X(BITWISE_OR, bitwise_or, "BitwiseOr", BINARY_RULE_BITWISE, NULL)         \
  X(BITWISE_XOR, bitwise_xor, "BitwiseXor", BINARY_RULE_BITWISE, NULL)      \
  X(LEFT_SHIFT, left_shift, "LeftShift", BINARY_RULE_SHIFT, NULL)           \
  X(RIGHT_SHIFT, right_shift, "RightShift", BINARY_RULE_SHIFT, NULL)

typedef enum binary_op {
#define BINARY_ENUM_ENTRY(ID, name, prim, rule, cerr) BINARY_##ID,
  BINARY_OP_LIST(BINARY_ENUM_ENTRY)
#undef BINARY_ENUM_ENTRY
  BINARY_OP_COUNT
} binary_op;

#endif
