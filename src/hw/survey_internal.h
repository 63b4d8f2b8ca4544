// The survey's stages, shared between the files of src/hw. Internal.
#pragma once
#include "hw/pci_ids.h"
#include "hw/survey.h"

namespace hearth::hw::detail {

void survey_cpu_memory(const hw_paths& paths, hw_survey& s);
void survey_gpus(const hw_paths& paths, const pci_id_db& ids, hw_survey& s);
void survey_software(const hw_paths& paths, hw_survey& s);
void survey_access(const hw_paths& paths, const std::optional<user_info>& user_override, hw_survey& s);
void attach_views(const std::vector<view_provider>& providers, hw_survey& s);

}  // namespace hearth::hw::detail
