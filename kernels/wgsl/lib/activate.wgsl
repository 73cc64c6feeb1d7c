// Fused activations, numbered as ACTIVATION_CODES in ts/engine/activations.ts:
// 0 linear, 1 relu, 2 leakyRelu, 3 elu, 4 gelu (erf form), 5 sigmoid.
// alpha is the leakyRelu slope for x < 0 or the elu scale.

// erf(x) by Abramowitz and Stegun 7.1.26, the approximation every backend shares.
fn erf_as(x: f32) -> f32 {
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 +
    t * (-1.453152027 + t * 1.061405429))));
  return select(1.0, -1.0, x < 0.0) * (1.0 - poly * exp(-a * a));
}

fn activate(code: u32, alpha: f32, x: f32) -> f32 {
  switch code {
    case 1u: {
      return select(0.0, x, x > 0.0);
    }
    case 2u: {
      return select(alpha * x, x, x > 0.0);
    }
    case 3u: {
      return select(alpha * (exp(x) - 1.0), x, x > 0.0);
    }
    case 4u: {
      return 0.5 * x * (1.0 + erf_as(x * 0.70710678118654752));
    }
    case 5u: {
      return 1.0 / (1.0 + exp(-x));
    }
    default: {
      return x;
    }
  }
}
