# Scripted tests and extra wiring for test binaries (each area keeps its own block).

# --- hub (tests/hub): the fake Hugging Face server links cpp-httplib; the CLI tests run the real
# hearth binary (kill -9 and resume, progress in a tmux pseudo-terminal, piped progress lines).
if(TARGET test_hub)
  pkg_check_modules(HEARTH_HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
  find_package(OpenSSL REQUIRED)
  target_link_libraries(test_hub PRIVATE PkgConfig::HEARTH_HTTPLIB OpenSSL::Crypto)
  if(TARGET hearth)
    add_dependencies(test_hub hearth)
    target_compile_definitions(test_hub PRIVATE HEARTH_CLI_PATH="$<TARGET_FILE:hearth>")
  endif()
endif()
# --- end hub

# --- template (tests/template): the CLI test runs the real hearth binary; the Jinja2 oracle
# (jinja_oracle.py, /usr/bin/python3 with python3-jinja2) is run by the tests themselves.
if(TARGET test_template AND TARGET hearth)
  add_dependencies(test_template hearth)
endif()
# --- end template

# --- tokenizer (tests/tokenizer): the CLI tests run the real hearth binary.
if(TARGET test_tokenizer AND TARGET hearth)
  add_dependencies(test_tokenizer hearth)
  target_compile_definitions(test_tokenizer PRIVATE HEARTH_CLI_PATH="$<TARGET_FILE:hearth>")
endif()
# --- end tokenizer

# The model references once more at the generic kernel level (llama.cpp's summation order), where
# tests/model/golden_test.cpp applies the tight tolerance.
add_test(NAME model.golden_reference_order COMMAND test_model --gtest_filter=Cpu/Golden.*)
set_tests_properties(model.golden_reference_order PROPERTIES ENVIRONMENT HEARTH_CPU_ISA=generic LABELS model TIMEOUT 600)

# --- cli (tests/cli) and runtime: the CLI tests run the real hearth binary.
if(TARGET test_cli AND TARGET hearth)
  add_dependencies(test_cli hearth)
endif()
# Layering of src/ (tests/check_layers.py).
find_package(Python3 COMPONENTS Interpreter REQUIRED)
add_test(NAME layers.check COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tests/check_layers.py ${PROJECT_SOURCE_DIR})
set_tests_properties(layers.check PROPERTIES LABELS layers)
# --- end cli

# --- web (tests/web): the web UI in headless Chromium (playwright-core from apps/server/web's npm
# packages) against the real `hearth serve`; screenshots go to <build>/test-artifacts/web. Skips
# (77) without chromium, node, those packages, `hearth serve` or the embedded UI.
if(TARGET hearth AND NOT HEARTH_SANITIZE)
  find_program(HEARTH_TEST_NODE node)
  if(HEARTH_TEST_NODE)
    add_test(NAME web.e2e
             COMMAND ${HEARTH_TEST_NODE} ${PROJECT_SOURCE_DIR}/tests/web/e2e.mjs --hearth $<TARGET_FILE:hearth>
                     --data ${PROJECT_SOURCE_DIR}/tests/data --web-dir ${PROJECT_SOURCE_DIR}/apps/server/web
                     --artifacts ${CMAKE_BINARY_DIR}/test-artifacts/web)
  else()
    add_test(NAME web.e2e COMMAND sh -c "echo 'SKIP: node is not installed'; exit 77")
  endif()
  set_tests_properties(web.e2e PROPERTIES LABELS web SKIP_RETURN_CODE 77 TIMEOUT 600)
endif()
# --- end web

# --- server (tests/server): test_server links the server library; the end-to-end tests run the real
# `hearth serve` / `hearth chat` with the official openai and @anthropic-ai/sdk npm packages
# (tests/package.json, installed by scripts/test.sh or scripts/setup-npm.sh; the server.npm fixture
# installs them when missing), curl and tmux.
if(TARGET test_server AND TARGET hearth_server)
  target_link_libraries(test_server PRIVATE hearth_server)
endif()
find_program(HEARTH_NODE_PROGRAM node)
if(TARGET hearth AND HEARTH_NODE_PROGRAM)
  add_test(NAME server.npm COMMAND ${PROJECT_SOURCE_DIR}/scripts/setup-npm.sh --if-missing tests)
  set_tests_properties(server.npm PROPERTIES FIXTURES_SETUP server_npm LABELS server TIMEOUT 600)
  foreach(t openai anthropic http native load chat_cli)
    add_test(NAME server.${t} COMMAND ${HEARTH_NODE_PROGRAM} --test ${CMAKE_CURRENT_SOURCE_DIR}/server/node/${t}.test.mjs)
    set_tests_properties(server.${t} PROPERTIES FIXTURES_REQUIRED server_npm LABELS server TIMEOUT 600
      ENVIRONMENT "HEARTH_BIN=$<TARGET_FILE:hearth>;HEARTH_TEST_MODEL=${PROJECT_SOURCE_DIR}/models/stories260K.gguf")
  endforeach()
endif()
# --- end server

# --- vulkan: the paths a device without integer dot products takes (float Q4_K/Q6_K/Q4_0... products, rope
# and KV store as two dispatches); lavapipe has the extension, so the default run tests the other path.
if(TARGET test_vulkan)
  add_test(NAME vulkan.without_integer_dot COMMAND test_vulkan
           "--gtest_filter=VulkanOps.MatrixProducts:VulkanOps.Rope:Vulkan/VulkanGolden.MatchesReference/synth_llama_q4_k_m_prompt16_*:Vulkan/VulkanGolden.MatchesReference/synth_llama_pure_q6_k_prompt16_full:Vulkan/VulkanGolden.MatchesReference/synth_llama_pure_q4_0_prompt16_full:Vulkan/VulkanGolden.MatchesReference/synth_llama_pure_q5_1_prompt16_full")
  set_tests_properties(vulkan.without_integer_dot PROPERTIES ENVIRONMENT "HEARTH_VK_DP=0;HEARTH_VK_ROPE_STORE=0" LABELS vulkan TIMEOUT 600)
  # The norm as its own dispatch before the activation rounding (HEARTH_VK_NORM_ROUND=0), the rope and the
  # KV cache store after a one-token product as their own dispatches (HEARTH_VK_ROPE_PRODUCT=0), the
  # attention output's rounding for its product too (HEARTH_VK_ATTN_ROUND=0), in whole models.
  add_test(NAME vulkan.without_norm_round_rope_product COMMAND test_vulkan
           "--gtest_filter=Vulkan/VulkanGolden.MatchesReference/synth_llama_q4_k_m_prompt16_*:Vulkan/VulkanGolden.MatchesReference/synth_llama_pure_q4_0_prompt16_full:Vulkan/VulkanGolden.MatchesReference/synth_gemma2_q4_k_m_prompt16_full")
  set_tests_properties(vulkan.without_norm_round_rope_product PROPERTIES ENVIRONMENT "HEARTH_VK_NORM_ROUND=0;HEARTH_VK_ROPE_PRODUCT=0;HEARTH_VK_ATTN_ROUND=0"
                       LABELS vulkan TIMEOUT 600)
  # Device memory the CPU cannot map (HEARTH_VK_UNMAPPED=1), as on a discrete GPU: weights, inputs and
  # results go through staging transfers, and the logits through the graph's copy to host memory.
  add_test(NAME vulkan.unmapped COMMAND test_vulkan
           "--gtest_filter=Vulkan/VulkanGolden.MatchesReference/synth_llama_q4_k_m_prompt16_*:Vulkan/VulkanGolden.MatchesReference/stories*:VulkanMoe.*:VulkanMemory*:VulkanOps.MatrixProducts")
  set_tests_properties(vulkan.unmapped PROPERTIES ENVIRONMENT "HEARTH_VK_UNMAPPED=1" LABELS vulkan TIMEOUT 600)
  # Gate and up in one dispatch that rounds their swiglu for down (opt-in HEARTH_VK_GLU_ROUND=1), in whole models.
  add_test(NAME vulkan.glu_round COMMAND test_vulkan
           "--gtest_filter=Vulkan/VulkanGolden.MatchesReference/synth_llama_q4_k_m_prompt16_*:Vulkan/VulkanGolden.MatchesReference/synth_llama_pure_q6_k_prompt16_full:Vulkan/VulkanGolden.MatchesReference/synth_qwen2_q4_k_m_prompt16_full")
  set_tests_properties(vulkan.glu_round PROPERTIES ENVIRONMENT "HEARTH_VK_GLU_ROUND=1" LABELS vulkan TIMEOUT 600)
endif()
# --- end vulkan
