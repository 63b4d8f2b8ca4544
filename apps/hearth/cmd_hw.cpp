// `hearth hw`: the hardware survey (CPU, RAM, GPUs, GPU software) and what Hearth will use each device for.
#include <cstdio>

#include "apps/hearth/command.h"
#include "hw/report.h"
#include "hw/survey.h"

namespace {

class hw_command : public hearth::cli::command {
 public:
  const char* name() const override { return "hw"; }
  const char* help() const override { return "Show the hardware Hearth sees and what it will use each device for"; }
  void setup(CLI::App& app) override {
    app.add_flag("--json", json_, "Print the survey as JSON (for scripts)");
    app.footer(
        "Reads /sys, /proc and /dev; HEARTH_SYSFS_ROOT, HEARTH_PROC_ROOT, HEARTH_DEV_ROOT, HEARTH_ETC_ROOT and\n"
        "HEARTH_PCI_IDS point it at other trees (recorded machines). See also: hearth doctor.");
  }
  int run() override {
    auto survey = hearth::hw::run_survey(hearth::hw::default_survey_options());
    if (json_) std::printf("%s\n", hearth::hw::to_json(survey).dump(2).c_str());
    else std::fputs(hearth::hw::format_survey(survey).c_str(), stdout);
    return 0;
  }

 private:
  bool json_ = false;
};

}  // namespace

HEARTH_COMMAND(hw_command);
