// Where Hearth keeps models (and where LM Studio and Ollama keep theirs), and the rules that make a
// name received from the network safe to use as a path.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace hearth::hub {

// The library root: $HEARTH_MODELS, else $XDG_DATA_HOME/hearth/models, else ~/.local/share/hearth/models.
std::string models_root();

// Model folders of other tools, existing or not. $HEARTH_LMSTUDIO_MODELS / $HEARTH_OLLAMA_MODELS
// (colon-separated) replace the defaults, so tests and unusual setups can point anywhere.
// LM Studio: ~/.lmstudio/models, ~/.cache/lm-studio/models.
// Ollama: $OLLAMA_MODELS, else ~/.ollama/models and /usr/share/ollama/.ollama/models.
std::vector<std::string> lmstudio_roots();
std::vector<std::string> ollama_roots();

// The user's home directory ($HOME, else the password database).
std::string home_dir();

// True if s is usable as one path component: not empty, not "." or "..", no '/', '\\' or control
// characters, not starting with '.', and at most 255 bytes.
bool is_safe_component(std::string_view s);
// Checks a relative path received from a hub ("dir/file.gguf"): every component must be safe and the
// path must not be absolute. Throws hearth::error naming the offending path otherwise.
void check_safe_relative_path(std::string_view path);
bool is_safe_relative_path(std::string_view path);

// A repository id "owner/name" whose two parts use only letters, digits, '-', '_' and '.', and are
// not "." or "..". Throws hearth::error otherwise.
void check_repo_id(std::string_view repo);

}  // namespace hearth::hub
