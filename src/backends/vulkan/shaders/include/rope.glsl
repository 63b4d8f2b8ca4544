// Rotary embedding angles, shared by rope.comp and the products that rope their own output
// (matvec_dp.comp): the angle is advanced by repeated float multiplication as the reference does.
// sin and cos of x to about one ulp: reduction by pi/2 in three exact parts (Cody-Waite), then
// minimax polynomials on [-pi/4, pi/4] (the drivers' sin/cos are much less accurate).
void sincos_accurate(float x, out float s, out float c) {
  const float k = roundEven(x * 0.636619772367581343);
  float r = fma(-k, 1.5703125, x);
  r = fma(-k, 4.837512969970703125e-4, r);
  r = fma(-k, 7.54978995489188216e-8, r);
  const float z = r * r;
  const float sr = r + r * z * (-1.6666654611e-1 + z * (8.3321608736e-3 + z * -1.9515295891e-4));
  const float cr = 1.0 - 0.5 * z + z * z * (4.166664568298827e-2 + z * (-1.388731625493765e-3 + z * 2.443315711809948e-5));
  const int q = int(k) & 3;
  if (q == 0) { s = sr; c = cr; }
  else if (q == 1) { s = cr; c = -sr; }
  else if (q == 2) { s = -sr; c = -cr; }
  else { s = -cr; c = sr; }
}

// cos and sin (times mscale) of pair ip's angle at position pos: theta_scale, the frequency factor
// f of the pair (1 without factors), freq_scale, ext_factor and the YaRN corrections low / high.
void rope_cs(int pos, uint ip, float theta_scale, float f, float freq_scale, float ext_factor, float low, float high,
             float mscale, out float c, out float s) {
  float theta_base = float(pos);
  for (uint k = 0u; k < ip; ++k) theta_base *= theta_scale;
  const float theta_extrap = f == 1.0 ? theta_base : div_rn(theta_base, f);
  const float theta_interp = freq_scale * theta_extrap;
  float theta = theta_interp;
  if (ext_factor != 0.0) {
    const float yv = (float(ip) - low) / max(0.001, high - low);
    const float mix_ = (1.0 - min(1.0, max(0.0, yv))) * ext_factor;
    theta = theta_interp * (1.0 - mix_) + theta_extrap * mix_;
  }
  float sn, cs;
  sincos_accurate(theta, sn, cs);
  c = cs * mscale;
  s = sn * mscale;
}
