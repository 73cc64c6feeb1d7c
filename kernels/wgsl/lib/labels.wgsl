// Label maps live on the GPU as their host bytes, packed little-endian into u32 words:
// dtype code 0 = int32 (one label per word), 1 = uint16 (two), 2 = uint8 (four).
// A label's word is (index - base) >> code, where base (the first label of the bound window)
// always lies on a word boundary.

// The label at global element `index` inside `word`, widened to i32.
fn label_in_word(word: u32, index: u32, code: u32) -> i32 {
  if (code == 0u) {
    return bitcast<i32>(word);
  }
  let bits = 32u >> code;
  let slot = index & ((1u << code) - 1u);
  return i32((word >> (slot * bits)) & ((1u << bits) - 1u));
}
