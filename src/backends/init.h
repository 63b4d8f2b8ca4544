// Start-up of the backends: registers the built-in CPU backend and loads the shared backend modules.
#pragma once

namespace hearth {

// Idempotent and thread-safe. load_modules=false keeps to the CPU (tests, --backend cpu).
void init_backends(bool load_modules = true);

}  // namespace hearth
