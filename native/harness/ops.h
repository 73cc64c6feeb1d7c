/*
 * The two ways to run a Case: the CPU reference (cpu_reference.cc, straightforward loops in
 * double precision, the oracle) and the kernels (device_ops.cc, through the vx_* C interface
 * on a GPU or on the CPU emulator).
 *
 * Ops, their inputs, parameters and outputs (shapes (N, C, D, H, W), labels (N, D, H, W)):
 * - conv3d: x, weight, [bias]; stride[3], padding[3], dilation[3], groups, activation, alpha,
 *   algorithm (0 auto, 1 direct, 2 implicit GEMM; the reference ignores it) -> out.
 * - activation: x; activation, alpha -> out.
 * - instance_norm: x, [scale], [shift]; eps, activation, alpha -> out.
 * - softmax: x -> out.        argmax: x -> out (int32, channel axis removed).
 * - label_confusion: pred, ref (same dtype and shape); num_labels, [ignore_label]
 *   -> tp, pred_count, ref_count (float64, num_labels), first_invalid (int64, 1; -1 if none).
 * - soft_dice: probs, target -> intersection, pred_sum, target_sum (float64, C).
 * - distance_transform: mask (N, D, H, W) labels; spacing[3] (D, H, W) mm -> out (float32,
 *   squared mm to the nearest non-zero voxel of the item; INFINITY when it has none).
 * - slice: x; axis, start, size -> out.      concat: x0, x1, ...; axis -> out.
 */
#pragma once

#include "case.h"
#include "voxseg_cuda.h"

namespace harness {

/** Run a Case with the CPU reference; throws std::runtime_error on a bad case. */
Results run_reference(const Case& c);

/** Run a Case with the kernels on `stream`; throws std::runtime_error with vx_last_error(). */
Results run_kernels(const Case& c, void* stream);

/** The conv3d sizes a Case describes (output sizes computed from the rest). */
vx_conv3d_params conv3d_params_of(const Case& c);

/** Product of the dimensions from `axis` on (the spatial size S of (N, C, S...) from 2). */
int64_t trailing_size(const std::vector<int64_t>& shape, size_t axis);

/** The vx_label_type of a label dtype name; throws for float dtypes. */
int label_type_of(const std::string& dtype);

/** Names of a concat case's inputs: x0, x1, ... in order. */
std::vector<std::string> concat_inputs(const Case& c);

}  // namespace harness
