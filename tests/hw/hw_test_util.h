// Shared by the hw tests: survey a recorded machine under tests/data/sysfs/<machine>/.
#pragma once
#include <string>

#include "hw/survey.h"
#include "test_util.h"

namespace hearth::test {

inline hw::survey_options tree_options(const std::string& machine, const hw::user_info& user) {
  hw::survey_options o;
  o.paths = hw::hw_paths::recorded_tree(data_path("sysfs/" + machine), data_path("sysfs/pci.ids"));
  o.user = user;
  o.hip_build_targets = {"gfx1030", "gfx1100", "gfx90a"};
  return o;
}

inline hw::user_info make_user(std::string name, uint32_t uid, std::vector<std::string> groups) {
  hw::user_info u;
  u.name = std::move(name);
  u.uid = uid;
  u.groups = std::move(groups);
  return u;
}

// The recorded users: who was logged in on each machine, with the groups of that session.
inline hw::user_info tree_user(const std::string& machine) {
  if (machine == "desktop-rx7900xtx") return make_user("alice", 1000, {"alice", "sudo", "render"});
  if (machine == "laptop-780m") return make_user("bob", 1000, {"bob", "wheel"});  // render added after login
  if (machine == "desktop-rx6800xt-igpu") return make_user("carol", 1000, {"carol", "wheel", "render", "video"});
  if (machine == "server-mi210") return make_user("dave", 1000, {"dave", "render", "video"});
  if (machine == "server-h100") return make_user("erin", 1000, {"erin", "video"});
  return make_user("root", 0, {"root"});
}

// Survey with the build-dependent facts fixed, so results do not depend on how the test was built.
inline hw::hw_survey survey_tree(const std::string& machine) {
  auto s = hw::run_survey(tree_options(machine, tree_user(machine)));
  s.software.module_vulkan = s.software.module_cuda = s.software.module_hip = true;
  return s;
}

}  // namespace hearth::test
