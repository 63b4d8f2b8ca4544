// `hearth doctor`: checks drivers, Vulkan/ROCm/CUDA installs, device permissions, BAR and GTT settings
// and the kernel log, and prints the exact fix for each problem.
#include <cstdio>
#include <cstdlib>

#include "apps/hearth/command.h"
#include "hw/doctor.h"
#include "hw/survey.h"

namespace {

class doctor_command : public hearth::cli::command {
 public:
  const char* name() const override { return "doctor"; }
  const char* help() const override { return "Check GPU drivers, runtimes and permissions, with the fix for each problem"; }
  void setup(CLI::App& app) override {
    app.add_flag("--json", json_, "Print the findings as JSON (for scripts)");
    app.footer(
        "Each check is PASS, INFO (an explanation), WARN (works, but not as well as it could), FAIL (a device\n"
        "Hearth should use cannot be used) or SKIP (cannot be checked here), with fixes for Debian/Ubuntu,\n"
        "Fedora and Arch.\n"
        "Exit status: 0 when no check FAILed (warnings allowed), 1 when at least one did, 2 on a usage error.");
  }
  int run() override {
    auto opts = hearth::hw::default_survey_options();
    auto survey = hearth::hw::run_survey(opts);
    auto log = hearth::hw::read_kernel_log(opts.paths);
    hearth::hw::doctor_options dopts;
    if (const char* v = std::getenv("HSA_OVERRIDE_GFX_VERSION"); v && *v) dopts.hsa_override = v;
    auto findings = hearth::hw::run_doctor(survey, log, dopts);
    if (json_) std::printf("%s\n", hearth::hw::doctor_to_json(findings, survey).dump(2).c_str());
    else std::fputs(hearth::hw::format_doctor(findings, survey).c_str(), stdout);
    return hearth::hw::doctor_exit_code(findings);
  }

 private:
  bool json_ = false;
};

}  // namespace

HEARTH_COMMAND(doctor_command);
