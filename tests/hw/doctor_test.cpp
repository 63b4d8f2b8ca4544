// `hearth doctor`'s findings on the recorded machines, and the kernel-log reader.
#include "hw/doctor.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "hw_test_util.h"

using namespace hearth;
using namespace hearth::hw;

namespace {

struct doctor_run {
  hw_survey survey;
  kernel_log log;
  std::vector<finding> findings;
};

doctor_run doctor_on(const std::string& machine, doctor_options opts = {}) {
  doctor_run r;
  r.survey = test::survey_tree(machine);
  r.log = read_kernel_log(test::tree_options(machine, test::tree_user(machine)).paths);
  r.findings = run_doctor(r.survey, r.log, opts);
  return r;
}

// The finding with this id (and device, when given); fails the test when there is none or several.
const finding& get(const doctor_run& r, const std::string& id, const std::string& device = "") {
  const finding* hit = nullptr;
  int n = 0;
  for (auto& f : r.findings)
    if (f.id == id && (device.empty() || f.device == device)) {
      hit = &f;
      ++n;
    }
  if (n != 1) {
    ADD_FAILURE() << n << " findings with id " << id << " device '" << device << "'";
    static finding none;
    return none;
  }
  return *hit;
}

bool has(const doctor_run& r, const std::string& id) {
  for (auto& f : r.findings)
    if (f.id == id) return true;
  return false;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST(Doctor, DesktopRx7900Xtx) {
  auto r = doctor_on("desktop-rx7900xtx");
  EXPECT_EQ(get(r, "gpu.found").status, check_status::pass);
  EXPECT_EQ(get(r, "gpu.driver").status, check_status::pass);
  EXPECT_EQ(get(r, "amdgpu.module").status, check_status::pass);
  EXPECT_EQ(get(r, "vulkan.loader").status, check_status::pass);
  EXPECT_EQ(get(r, "vulkan.icd").status, check_status::pass);
  EXPECT_TRUE(contains(get(r, "vulkan.icd").title, "RADV"));
  EXPECT_EQ(get(r, "vulkan.software_only").status, check_status::pass);
  // AMDVLK in /etc/vulkan/icd.d beside RADV.
  const finding& amdvlk = get(r, "vulkan.amdvlk");
  EXPECT_EQ(amdvlk.status, check_status::warn);
  EXPECT_TRUE(contains(amdvlk.title, "beside RADV"));
  EXPECT_EQ(amdvlk.fix.debian, "sudo apt remove amdvlk");
  EXPECT_EQ(amdvlk.fix.fedora, "sudo dnf remove amdvlk");
  EXPECT_EQ(amdvlk.fix.arch, "sudo pacman -Rns amdvlk");
  EXPECT_EQ(get(r, "access.render").status, check_status::pass);
  EXPECT_EQ(get(r, "access.kfd").status, check_status::pass);
  EXPECT_EQ(get(r, "rocm.runtime").status, check_status::pass);
  EXPECT_EQ(get(r, "rocm.target").status, check_status::pass);
  EXPECT_FALSE(has(r, "rocm.build"));  // gfx1100 is in the test's HIP target list
  EXPECT_EQ(get(r, "pci.rebar").status, check_status::pass);
  EXPECT_FALSE(has(r, "igpu.memory"));
  EXPECT_TRUE(r.log.readable);
  EXPECT_EQ(r.log.n_lines, 8u);
  EXPECT_EQ(get(r, "kernel.log").status, check_status::pass);
  EXPECT_EQ(get(r, "cpu.isa").status, check_status::pass);
  EXPECT_EQ(doctor_exit_code(r.findings), 0);
}

TEST(Doctor, HipBuildWithoutTheTarget) {
  auto r = doctor_on("desktop-rx7900xtx");
  r.survey.software.hip_build_targets = {"gfx1030", "gfx90a"};
  r.findings = run_doctor(r.survey, r.log);
  const finding& f = get(r, "rocm.build");
  EXPECT_EQ(f.status, check_status::warn);
  EXPECT_EQ(f.fix.any, "rebuild with -DHEARTH_HIP_TARGETS=\"gfx1030;gfx90a;gfx1100\"");
}

TEST(Doctor, Laptop780m) {
  auto r = doctor_on("laptop-780m");
  const std::string gpu = "0000:c4:00.0";
  EXPECT_EQ(get(r, "vulkan.icd", gpu).status, check_status::pass);
  EXPECT_FALSE(has(r, "vulkan.amdvlk"));
  // Render node: bob is in render in /etc/group but this session started before: log out and in.
  const finding& render = get(r, "access.render", gpu);
  EXPECT_EQ(render.status, check_status::fail);
  EXPECT_TRUE(contains(render.title, "/dev/dri/renderD128"));
  EXPECT_TRUE(contains(render.fix.any, "log out and back in"));
  EXPECT_TRUE(contains(render.fix.any, "newgrp render"));
  // ROCm is only an alternative here: its absence is information, /dev/kfd access a warning.
  EXPECT_EQ(get(r, "access.kfd").status, check_status::warn);
  const finding& rt = get(r, "rocm.runtime", gpu);
  EXPECT_EQ(rt.status, check_status::info);
  EXPECT_EQ(rt.fix.fedora, "sudo dnf install rocm-hip rocminfo");
  const finding& target = get(r, "rocm.target", gpu);
  EXPECT_EQ(target.status, check_status::info);
  EXPECT_TRUE(contains(target.title, "HSA_OVERRIDE_GFX_VERSION=11.0.0"));
  EXPECT_TRUE(contains(target.title, "gfx1100"));
  EXPECT_EQ(target.fix.any.substr(0, 39), "export HSA_OVERRIDE_GFX_VERSION=11.0.0 ");
  // Small carve-out, large GTT: explained, with the kernel parameters for 3/4 of RAM.
  const finding& mem = get(r, "igpu.memory", gpu);
  EXPECT_EQ(mem.status, check_status::info);
  EXPECT_TRUE(contains(mem.title, "small VRAM carve-out 512 MiB"));
  uint64_t pages = 31988448ull * 1024 * 3 / 4 / 4096;
  std::string params = "ttm.pages_limit=" + std::to_string(pages) + " ttm.page_pool_size=" + std::to_string(pages);
  EXPECT_EQ(mem.fix.fedora, "sudo grubby --update-kernel=ALL --args=\"" + params + "\", then reboot");
  EXPECT_TRUE(contains(mem.fix.debian, "update-grub"));
  EXPECT_TRUE(contains(mem.fix.debian, params));
  EXPECT_TRUE(contains(mem.fix.arch, "grub-mkconfig"));
  EXPECT_TRUE(contains(mem.fix.any, "amdgpu.gttsize=" + std::to_string(pages * 4096 >> 20)));
  EXPECT_FALSE(has(r, "pci.rebar"));  // integrated: no BAR question
  // The recorded page fault and ring timeout.
  const finding& log = get(r, "kernel.log");
  EXPECT_EQ(log.status, check_status::warn);
  EXPECT_EQ(r.log.n_gpu_errors, 4u);
  EXPECT_TRUE(contains(log.detail, "ring gfx_0.0.0 timeout"));
  EXPECT_EQ(doctor_exit_code(r.findings), 1);
}

TEST(Doctor, Laptop780mWithOverrideSetAndUserNotInGroupAtAll) {
  auto r = doctor_on("laptop-780m", doctor_options{"11.0.0"});
  EXPECT_EQ(get(r, "rocm.target").status, check_status::pass);
  r.survey.user.configured_groups = {"bob", "wheel"};
  r.findings = run_doctor(r.survey, r.log);
  EXPECT_EQ(get(r, "access.render").fix.any, "sudo usermod -aG render,video bob, then log out and back in");
}

TEST(Doctor, SmallGttWarns) {
  auto r = doctor_on("laptop-780m");
  r.survey.gpus[0].memory.gtt_total = 3ull << 30;  // e.g. amdgpu.gttsize=3072 left on the command line
  r.findings = run_doctor(r.survey, r.log);
  const finding& mem = get(r, "igpu.memory");
  EXPECT_EQ(mem.status, check_status::warn);
  EXPECT_TRUE(contains(mem.title, "GTT is only 3.0 GiB"));
}

TEST(Doctor, DesktopRx6800XtWithIgpu) {
  auto r = doctor_on("desktop-rx6800xt-igpu");
  const std::string d = "0000:03:00.0", i = "0000:13:00.0";
  EXPECT_EQ(get(r, "gpu.found").status, check_status::pass);
  EXPECT_TRUE(contains(get(r, "gpu.found").title, "2 GPUs"));
  EXPECT_EQ(get(r, "gpu.driver", d).status, check_status::pass);
  EXPECT_EQ(get(r, "gpu.driver", i).status, check_status::pass);
  const finding& rebar = get(r, "pci.rebar", d);
  EXPECT_EQ(rebar.status, check_status::warn);
  EXPECT_TRUE(contains(rebar.title, "256 MiB of 16.0 GiB"));
  EXPECT_TRUE(contains(rebar.fix.any, "Above 4G Decoding"));
  EXPECT_EQ(get(r, "rocm.target", d).status, check_status::pass);
  // The idle iGPU gets no Vulkan/ROCm/GTT advice, only driver and access checks.
  for (auto& f : r.findings)
    if (f.device == i) {
      EXPECT_TRUE(f.id == "gpu.driver" || f.id == "access.render") << f.id;
    }
  EXPECT_EQ(get(r, "access.render", i).status, check_status::pass);
  // No /dev/kmsg in this recording (dmesg_restrict): skipped with a hint, not failed.
  EXPECT_FALSE(r.log.readable);
  const finding& log = get(r, "kernel.log");
  EXPECT_EQ(log.status, check_status::skip);
  EXPECT_TRUE(contains(log.fix.any, "sudo dmesg"));
  EXPECT_EQ(doctor_exit_code(r.findings), 0);
}

TEST(Doctor, ServerMi210) {
  auto r = doctor_on("server-mi210");
  const std::string gpu = "0000:83:00.0";
  EXPECT_TRUE(contains(get(r, "gpu.found").title, "1 GPU found"));  // the BMC's VGA does not count
  EXPECT_FALSE(has(r, "vulkan.loader"));  // CDNA: nobody needs Vulkan here
  EXPECT_FALSE(has(r, "vulkan.icd"));
  EXPECT_FALSE(has(r, "vulkan.software_only"));
  EXPECT_EQ(get(r, "rocm.runtime", gpu).status, check_status::pass);
  EXPECT_TRUE(contains(get(r, "rocm.runtime", gpu).title, "6.2.2"));
  EXPECT_EQ(get(r, "rocm.target", gpu).status, check_status::pass);
  EXPECT_EQ(get(r, "access.kfd").status, check_status::pass);
  EXPECT_EQ(get(r, "pci.rebar", gpu).status, check_status::pass);
  EXPECT_EQ(get(r, "kernel.log").status, check_status::pass);
  EXPECT_EQ(doctor_exit_code(r.findings), 0);

  // Without ROCm the MI210 is unusable: FAIL, with each distribution's install command.
  r.survey.software.hip_runtime.found = false;
  decide_verdicts(r.survey);
  r.findings = run_doctor(r.survey, r.log);
  const finding& rt = get(r, "rocm.runtime", gpu);
  EXPECT_EQ(rt.status, check_status::fail);
  EXPECT_TRUE(contains(rt.fix.debian, "libamdhip64-dev"));
  EXPECT_EQ(rt.fix.arch, "sudo pacman -S rocm-hip-runtime rocminfo");
  EXPECT_EQ(doctor_exit_code(r.findings), 1);

  // And without the kfd node's permission.
  r = doctor_on("server-mi210");
  r.survey.user.groups = {"dave"};
  for (auto& n : r.survey.dev_nodes) n.accessible = n.mode & 06;
  r.findings = run_doctor(r.survey, r.log);
  EXPECT_EQ(get(r, "access.kfd").status, check_status::fail);
}

TEST(Doctor, ServerH100) {
  auto r = doctor_on("server-h100");
  const std::string gpu = "0000:4a:00.0";
  EXPECT_EQ(get(r, "gpu.driver", gpu).status, check_status::pass);
  EXPECT_FALSE(has(r, "amdgpu.module"));
  EXPECT_EQ(get(r, "cuda.driver", gpu).status, check_status::pass);
  EXPECT_TRUE(contains(get(r, "cuda.driver", gpu).title, "550.90.07"));
  EXPECT_EQ(get(r, "access.nvidia", gpu).status, check_status::pass);
  EXPECT_EQ(get(r, "vulkan.icd", gpu).status, check_status::pass);
  EXPECT_FALSE(has(r, "access.render"));  // no nvidia-drm, no render node
  EXPECT_EQ(get(r, "pci.rebar", gpu).status, check_status::pass);
  const finding& log = get(r, "kernel.log");
  EXPECT_EQ(log.status, check_status::warn);
  EXPECT_TRUE(contains(log.detail, "Xid"));
  EXPECT_EQ(get(r, "cpu.isa").status, check_status::pass);
  EXPECT_EQ(doctor_exit_code(r.findings), 0);

  // libcuda missing: CUDA fails with the per-distribution package, the GPU still runs on Vulkan.
  r.survey.software.cuda_driver.found = false;
  decide_verdicts(r.survey);
  r.findings = run_doctor(r.survey, r.log);
  const finding& cuda = get(r, "cuda.driver", gpu);
  EXPECT_EQ(cuda.status, check_status::warn);
  EXPECT_EQ(cuda.fix.arch, "sudo pacman -S nvidia-utils");
  // No driver bound at all.
  r.survey.gpus[0].driver.clear();
  for (auto& g : r.survey.gpus)
    if (g.vendor == gpu_vendor::nvidia) g.driver.clear();
  decide_verdicts(r.survey);
  r.findings = run_doctor(r.survey, r.log);
  const finding& drv = get(r, "gpu.driver", gpu);
  EXPECT_EQ(drv.status, check_status::fail);
  EXPECT_TRUE(contains(drv.fix.fedora, "akmod-nvidia"));
  EXPECT_EQ(doctor_exit_code(r.findings), 1);
}

TEST(Doctor, NoGpu) {
  auto r = doctor_on("no-gpu");
  EXPECT_EQ(get(r, "gpu.found").status, check_status::warn);
  EXPECT_EQ(get(r, "vulkan.loader").status, check_status::pass);
  const finding& sw = get(r, "vulkan.software_only");
  EXPECT_EQ(sw.status, check_status::warn);
  EXPECT_TRUE(contains(sw.title, "lavapipe"));
  EXPECT_FALSE(has(r, "rocm.runtime"));
  EXPECT_FALSE(has(r, "access.render"));
  EXPECT_EQ(get(r, "kernel.log").status, check_status::pass);
  EXPECT_EQ(doctor_exit_code(r.findings), 0);
  auto text = format_doctor(r.findings, r.survey);
  EXPECT_TRUE(contains(text, "WARN  vulkan.software_only"));
  EXPECT_TRUE(contains(text, "exit code 0"));
  auto j = doctor_to_json(r.findings, r.survey);
  EXPECT_EQ(j["exit_code"], 0);
  EXPECT_EQ(j["distro"]["family"], "debian");
  EXPECT_GE(j["findings"].size(), 5u);
}

TEST(Doctor, AmdGpuWithoutDriverOrModule) {
  auto r = doctor_on("desktop-rx7900xtx");
  r.survey.gpus[0].driver.clear();
  r.survey.software.gpu_modules.clear();
  decide_verdicts(r.survey);
  r.findings = run_doctor(r.survey, r.log);
  const finding& drv = get(r, "gpu.driver");
  EXPECT_EQ(drv.status, check_status::fail);
  EXPECT_TRUE(contains(drv.fix.debian, "firmware-amd-graphics"));
  EXPECT_EQ(drv.fix.fedora, "sudo dnf install amd-gpu-firmware");
  EXPECT_EQ(get(r, "amdgpu.module").status, check_status::fail);
  EXPECT_TRUE(contains(format_doctor(r.findings, r.survey), "fix (Debian/Ubuntu, this system)"));
}

TEST(Doctor, MissingVulkanPieces) {
  auto r = doctor_on("desktop-rx7900xtx");
  r.survey.software.vulkan_loader.found = false;
  r.survey.software.vulkan_icds.erase(
      std::remove_if(r.survey.software.vulkan_icds.begin(), r.survey.software.vulkan_icds.end(),
                     [](const icd_manifest& m) { return !m.software; }),
      r.survey.software.vulkan_icds.end());
  decide_verdicts(r.survey);
  r.findings = run_doctor(r.survey, r.log);
  // ROCm is installed, so Hearth falls back to it, and the missing Vulkan pieces are warnings.
  EXPECT_EQ(r.survey.gpus[0].verdict.primary, backend_kind::rocm);
  EXPECT_TRUE(r.survey.gpus[0].verdict.used);
  EXPECT_EQ(get(r, "vulkan.loader").status, check_status::warn);
  EXPECT_EQ(get(r, "vulkan.icd").status, check_status::warn);
  EXPECT_EQ(get(r, "vulkan.software_only").status, check_status::warn);  // only lavapipe left
  EXPECT_EQ(doctor_exit_code(r.findings), 0);
  // Without ROCm too, the GPU is unusable and the Vulkan pieces fail.
  r.survey.software.hip_runtime.found = false;
  decide_verdicts(r.survey);
  r.findings = run_doctor(r.survey, r.log);
  EXPECT_FALSE(r.survey.gpus[0].verdict.used);
  const finding& loader = get(r, "vulkan.loader");
  EXPECT_EQ(loader.status, check_status::fail);
  EXPECT_EQ(loader.fix.debian, "sudo apt install libvulkan1");
  EXPECT_EQ(loader.fix.fedora, "sudo dnf install vulkan-loader");
  EXPECT_EQ(loader.fix.arch, "sudo pacman -S vulkan-icd-loader");
  const finding& icd = get(r, "vulkan.icd");
  EXPECT_EQ(icd.status, check_status::fail);
  EXPECT_EQ(icd.fix.debian, "sudo apt install mesa-vulkan-drivers");
  EXPECT_EQ(icd.fix.arch, "sudo pacman -S vulkan-radeon");
  EXPECT_EQ(doctor_exit_code(r.findings), 1);
}

TEST(KernelLog, ParsesRecordsAndPlainLines) {
  auto k = scan_kernel_log(
      "6,1,100,-;amdgpu 0000:03:00.0: amdgpu: SMU is initialized successfully!\n"
      " SUBSYSTEM=pci\n"
      " DEVICE=+pci:0000:03:00.0\n"
      "3,2,200,-;amdgpu 0000:03:00.0: amdgpu: failed to load firmware \"amdgpu/gc_11_0_0_pfp.bin\"\n"
      "[   12.345678] [drm:amdgpu_job_timedout [amdgpu]] *ERROR* ring sdma0 timeout\n"
      "[   13.000000] usb 1-1: new high-speed USB device\n",
      "test");
  EXPECT_TRUE(k.readable);
  EXPECT_EQ(k.n_lines, 4u);
  EXPECT_EQ(k.n_gpu_errors, 2u);
  ASSERT_EQ(k.gpu_errors.size(), 2u);
  EXPECT_EQ(k.gpu_errors[0].substr(0, 6), "amdgpu");  // the record prefix is gone
  EXPECT_TRUE(contains(k.gpu_errors[1], "ring sdma0 timeout"));
}

TEST(KernelLog, KeepsOnlyTheLastFew) {
  std::string text;
  for (int i = 0; i < 50; ++i) text += "amdgpu: page fault " + std::to_string(i) + "\n";
  auto k = scan_kernel_log(text, "test");
  EXPECT_EQ(k.n_gpu_errors, 50u);
  ASSERT_EQ(k.gpu_errors.size(), 8u);
  EXPECT_EQ(k.gpu_errors.back(), "amdgpu: page fault 49");
}

TEST(KernelLog, UnreadableIsReported) {
  hw_paths p = hw_paths::recorded_tree("/nonexistent/tree", "");
  auto k = read_kernel_log(p);
  EXPECT_FALSE(k.readable);
  EXPECT_TRUE(contains(k.error, "/nonexistent/tree/dev/kmsg"));
}

// The real binary on a recorded machine: `hearth hw --json` and `hearth doctor` with the documented
// environment variables, and doctor's exit code.
TEST(Cli, HwAndDoctorOnRecordedTree) {
  std::string bin = test::binary_path("bin/hearth");
  if (!std::filesystem::exists(bin)) GTEST_SKIP() << "hearth binary not built";
  auto run = [&](const std::string& machine, const std::string& args, int* code) {
    std::string root = test::data_path("sysfs/" + machine);
    std::string cmd = "HEARTH_SYSFS_ROOT=" + root + "/sys HEARTH_PROC_ROOT=" + root + "/proc HEARTH_DEV_ROOT=" + root +
                      "/dev HEARTH_ETC_ROOT=" + root + "/etc HEARTH_ROCM_ROOT=" + root + "/opt/rocm HEARTH_PCI_IDS=" +
                      test::data_path("sysfs/pci.ids") + " HEARTH_VULKAN_ICD_DIRS=" + root + "/usr/share/vulkan/icd.d:" +
                      root + "/etc/vulkan/icd.d HEARTH_LIB_DIRS=" + root + "/usr/lib/x86_64-linux-gnu:" + root +
                      "/usr/lib64 HEARTH_HW_NO_DLOPEN=1 " + bin + " " + args + " 2>&1";
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int st = pclose(p);
    *code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
  };
  int code = -1;
  auto out = run("laptop-780m", "hw --json", &code);
  EXPECT_EQ(code, 0);
  auto j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_EQ(j["gpus"][0]["amd"]["gfx_target"], "gfx1103");
  EXPECT_EQ(j["gpus"][0]["verdict"]["backend"], "Vulkan");
  out = run("server-mi210", "hw", &code);
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(contains(out, "ROCm/HIP")) << out;
  // The laptop's real user is whoever runs the test, so only the exit-code contract is checked here:
  // 0 without FAIL, 1 with. The H100 server has no FAIL for any user (its nodes are 0666)...
  out = run("server-h100", "doctor", &code);
  EXPECT_TRUE(contains(out, "PASS  cuda.driver")) << out;
  EXPECT_TRUE(code == 0 || contains(out, "FAIL")) << out;
  // ...and an unbound AMD GPU fails: the no-driver check is independent of the user.
  out = run("server-mi210", "doctor --json", &code);
  j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_EQ(j["exit_code"], code);
  out = run("no-gpu", "doctor", &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_TRUE(contains(out, "WARN  vulkan.software_only")) << out;
}
