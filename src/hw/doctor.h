// `hearth doctor`: the checks a user would otherwise do by hand (lspci, vulkaninfo, rocminfo, dmesg),
// each PASS / WARN / FAIL (INFO for explanations, SKIP when it cannot be checked here) with the exact
// fix for Debian/Ubuntu, Fedora and Arch. Pure functions of a survey and the kernel log, so tests run
// them on recorded machines.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hw/survey.h"

namespace hearth::hw {

enum class check_status { pass, info, warn, fail, skip };
const char* check_status_name(check_status s);  // "PASS", "INFO", "WARN", "FAIL", "SKIP"

struct fix_steps {
  std::string any;     // the same everywhere (firmware settings, usermod, an environment variable)
  std::string debian;  // Debian / Ubuntu
  std::string fedora;
  std::string arch;
  bool empty() const { return any.empty() && debian.empty() && fedora.empty() && arch.empty(); }
};

struct finding {
  std::string id;        // stable: "vulkan.loader", "access.render", ...
  check_status status = check_status::pass;
  std::string device;    // PCI address the finding is about ("" for the machine)
  std::string title;     // one line
  std::string detail;    // why it matters, what was seen
  fix_steps fix;
};

struct kernel_log {
  bool readable = false;
  std::string source;                    // "/dev/kmsg", "syslog(2)", or the file read
  std::string error;                     // why it could not be read
  size_t n_lines = 0;
  size_t n_gpu_errors = 0;
  std::vector<std::string> gpu_errors;   // the last few amdgpu / NVRM Xid error lines
};
// Reads <dev>/kmsg (non-blocking; a regular file there is read as text, for recorded trees), falling
// back to syslog(2) on the real /dev. Unreadable (dmesg_restrict) is a normal outcome, not an error.
kernel_log read_kernel_log(const hw_paths& paths);
// Filters kernel messages ("pri,seq,time,flags;text" records or plain dmesg lines).
kernel_log scan_kernel_log(std::string_view text, std::string source);

struct doctor_options {
  std::optional<std::string> hsa_override;  // HSA_OVERRIDE_GFX_VERSION in the environment, if set
};

std::vector<finding> run_doctor(const hw_survey& s, const kernel_log& log, const doctor_options& opts = {});
// 0 when no check failed, 1 otherwise (documented in `hearth doctor --help`).
int doctor_exit_code(const std::vector<finding>& findings);

std::string format_doctor(const std::vector<finding>& findings, const hw_survey& s);
nlohmann::json doctor_to_json(const std::vector<finding>& findings, const hw_survey& s);

}  // namespace hearth::hw
