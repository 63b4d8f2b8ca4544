// Workgroup-wide sum / max / unsigned min through subgroup operations and one shared slot per
// subgroup.
shared float red_sh[64];
shared uint red_u[64];

float wg_sum(float v) {
  v = subgroupAdd(v);
  barrier();
  if (subgroupElect()) red_sh[gl_SubgroupID] = v;
  barrier();
  float s = 0.0;
  for (uint i = 0u; i < gl_NumSubgroups; ++i) s += red_sh[i];
  return s;
}

float wg_max(float v) {
  v = subgroupMax(v);
  barrier();
  if (subgroupElect()) red_sh[gl_SubgroupID] = v;
  barrier();
  float s = red_sh[0];
  for (uint i = 1u; i < gl_NumSubgroups; ++i) s = max(s, red_sh[i]);
  return s;
}

uint wg_min_u(uint v) {
  v = subgroupMin(v);
  barrier();
  if (subgroupElect()) red_u[gl_SubgroupID] = v;
  barrier();
  uint s = red_u[0];
  for (uint i = 1u; i < gl_NumSubgroups; ++i) s = min(s, red_u[i]);
  return s;
}
