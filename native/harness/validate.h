/*
 * Validation: a list of cases that hit each kernel's specialisations (channel blocks, tile
 * edges, odd sizes, dilation lattices, stride, groups, both GEMM tiles, label histogram
 * variants, copy widths), the comparison |got - ref| <= atol + rtol * |ref| that prints the
 * first mismatches by index, and the CPU reference's own known-answer checks.
 */
#pragma once

#include <string>
#include <vector>

#include "case.h"

namespace harness {

struct Tolerance {
  double atol;
  double rtol;
};

struct ValidationCase {
  std::string name;
  Case c;
  Tolerance tolerance;
};

/** Every validation case; `large` adds GPU-sized ones (too slow for the CPU emulator). */
std::vector<ValidationCase> validation_cases(bool large);

/**
 * Compare every output of `ref` with `got`; prints the first mismatches of each output.
 * @returns the number of outputs that differ.
 */
int compare_results(const Results& got, const Results& ref, Tolerance tolerance,
                    const std::string& name);

/** Run every case on the kernels and the CPU reference and compare; returns failures (builds
 * with kernels only). */
int validate_kernels(void* stream, bool large);

/** Known answers and invariants of the CPU reference alone; prints a summary, returns failures. */
int check_reference();

}  // namespace harness
