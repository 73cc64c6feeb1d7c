// activation: element-wise activation, one element per invocation.
// x: any shape, flat; y: same shape. A dispatch covers `count` elements starting at global
// element `first`; x and y are bound as windows whose first element is global element `base`.

//#include "lib/activate.wgsl"

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  // Workgroups that carry work in this dispatch; the grid may hold more.
  tile_count: u32,
  // Elements this dispatch processes.
  count: u32,
  // Global index of the first element this dispatch processes.
  first: u32,
  // Global index of the first element of the bound x and y windows.
  base: u32,
  // ACTIVATION_CODES value.
  act_code: u32,
  // leakyRelu slope or elu scale.
  act_alpha: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn activation(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) grid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let tile = wid.x + wid.y * grid.x;
  if (tile >= params.tile_count) {
    return;
  }

  let local_index = tile * WORKGROUP_SIZE + lid;
  if (local_index < params.count) {
    let at = params.first + local_index - params.base;
    y[at] = activate(params.act_code, params.act_alpha, x[at]);
  }
}
