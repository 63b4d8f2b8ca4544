// Workgroup-wide sum / max through subgroup operations and one shared slot per subgroup.
shared float red_sh[64];

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
