#!/usr/bin/env python3
"""Writes the recorded machine trees under tests/data/sysfs/<machine>/ (see README.md for the sources).

Each tree holds only the files Hearth's hardware survey reads, laid out as on the real machine:
sys/ (PCI devices, DRM, KFD topology, modules), proc/ (cpuinfo, meminfo, NVIDIA procfs), dev/ (device
nodes as empty files, their recorded ownership in dev/.nodes, kernel messages in dev/kmsg), etc/
(group, os-release), usr/ (Vulkan ICD manifests, library placeholders) and opt/rocm. Re-run after
editing; the output is committed so tests never need this script.
"""
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- CPU flag sets as /proc/cpuinfo prints them --------------------------------------------------
ZEN3 = ("fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall "
        "nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid aperfmperf rapl "
        "pni pclmulqdq monitor ssse3 fma cx16 sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand lahf_lm "
        "cmp_legacy svm extapic cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw ibs skinit wdt tce topoext "
        "perfctr_core perfctr_nb bpext perfctr_llc mwaitx cpb cat_l3 cdp_l3 hw_pstate ssbd mba ibrs ibpb stibp vmmcall "
        "fsgsbase bmi1 avx2 smep bmi2 erms invpcid cqm rdt_a rdseed adx smap clflushopt clwb sha_ni xsaveopt xsavec "
        "xgetbv1 xsaves cqm_llc cqm_occup_llc cqm_mbm_total cqm_mbm_local clzero irperf xsaveerptr rdpru wbnoinvd arat "
        "npt lbrv svm_lock nrip_save tsc_scale vmcb_clean flushbyasid decodeassists pausefilter pfthreshold avic "
        "v_vmsave_vmload vgif v_spec_ctrl umip pku ospke vaes vpclmulqdq rdpid overflow_recov succor smca fsrm")
ZEN4 = ZEN3.replace("fsgsbase bmi1 avx2 smep bmi2 erms invpcid cqm rdt_a rdseed adx smap clflushopt clwb sha_ni",
                    "fsgsbase bmi1 avx2 smep bmi2 erms invpcid cqm rdt_a avx512f avx512dq rdseed adx smap avx512ifma "
                    "clflushopt clwb avx512cd sha_ni avx512bw avx512vl") \
           .replace("cqm_mbm_local clzero", "cqm_mbm_local avx512_bf16 clzero") \
           .replace("umip pku ospke vaes vpclmulqdq rdpid",
                    "avx512vbmi umip pku ospke avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni avx512_bitalg "
                    "avx512_vpopcntdq rdpid") + " flush_l1d"
ZEN2 = ZEN3.replace(" pku ospke vaes vpclmulqdq", "").replace(" fsrm", "").replace(" invpcid cqm", " cqm")
SAPPHIRE_RAPIDS = (
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht "
    "tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc art arch_perfmon pebs bts rep_good nopl xtopology nonstop_tsc "
    "cpuid aperfmperf tsc_known_freq pni pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 sdbg fma cx16 xtpr "
    "pdcm pcid dca sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand lahf_lm abm "
    "3dnowprefetch cpuid_fault epb cat_l3 cat_l2 cdp_l3 invpcid_single intel_ppin cdp_l2 ssbd mba ibrs ibpb stibp "
    "ibrs_enhanced tpr_shadow flexpriority ept vpid ept_ad fsgsbase tsc_adjust bmi1 hle avx2 smep bmi2 erms invpcid "
    "rtm cqm rdt_a avx512f avx512dq rdseed adx smap avx512ifma clflushopt clwb intel_pt avx512cd sha_ni avx512bw "
    "avx512vl xsaveopt xsavec xgetbv1 xsaves cqm_llc cqm_occup_llc cqm_mbm_total cqm_mbm_local split_lock_detect "
    "avx_vnni avx512_bf16 wbnoinvd dtherm ida arat pln pts hfi vnmi avx512vbmi umip pku ospke waitpkg avx512_vbmi2 "
    "gfni vaes vpclmulqdq avx512_vnni avx512_bitalg tme avx512_vpopcntdq la57 rdpid bus_lock_detect cldemote "
    "movdiri movdir64b enqcmd fsrm md_clear serialize tsxldtrk pconfig arch_lbr ibt amx_bf16 avx512_fp16 amx_tile "
    "amx_int8 flush_l1d arch_capabilities")

# ---- Linux resource flags (include/linux/ioport.h) as sysfs prints them --------------------------
MEM64_PREF = 0x14220C   # 64-bit prefetchable memory BAR
MEM32 = 0x40200         # 32-bit non-prefetchable memory BAR
IO = 0x40101            # I/O port BAR
ROM = 0x46200           # expansion ROM


class Tree:
    def __init__(self, name):
        self.root = os.path.join(HERE, name)
        if os.path.isdir(self.root):
            shutil.rmtree(self.root)
        os.makedirs(self.root)
        self.nodes = []

    def write(self, rel, text):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def link(self, rel, target):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(target, path)

    def mkdir(self, rel):
        os.makedirs(os.path.join(self.root, rel), exist_ok=True)

    # /proc
    def cpuinfo(self, vendor, family, model, name, cores, threads, flags, mhz, sockets=1):
        blocks = []
        per_socket = threads // sockets
        for i in range(threads):
            sock = i // per_socket
            j = i % per_socket
            core = j % cores
            blocks.append(
                f"processor\t: {i}\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: {model}\n"
                f"model name\t: {name}\nstepping\t: 2\ncpu MHz\t\t: {mhz:.3f}\ncache size\t: 1024 KB\n"
                f"physical id\t: {sock}\nsiblings\t: {per_socket}\ncore id\t\t: {core}\ncpu cores\t: {cores}\n"
                f"apicid\t\t: {i}\nfpu\t\t: yes\nflags\t\t: {flags}\nbogomips\t: {mhz * 2:.2f}\n"
                f"clflush size\t: 64\ncache_alignment\t: 64\naddress sizes\t: 48 bits physical, 48 bits virtual\n")
        self.write("proc/cpuinfo", "\n".join(blocks) + "\n")

    def meminfo(self, total_kb, free_kb, avail_kb, swap_kb=0):
        self.write("proc/meminfo",
                   f"MemTotal:       {total_kb:>8} kB\nMemFree:        {free_kb:>8} kB\n"
                   f"MemAvailable:   {avail_kb:>8} kB\nBuffers:          123456 kB\nCached:          4567890 kB\n"
                   f"SwapCached:            0 kB\nSwapTotal:      {swap_kb:>8} kB\nSwapFree:       {swap_kb:>8} kB\n")

    def kernel(self, release, cmdline):
        self.write("proc/sys/kernel/osrelease", release + "\n")
        self.write("proc/cmdline", cmdline + "\n")

    def modules(self, names, ttm_pages=None, gttsize=None):
        for n in names:
            self.mkdir(f"sys/module/{n}")
        if ttm_pages is not None:
            self.write("sys/module/ttm/parameters/pages_limit", f"{ttm_pages}\n")
            self.write("sys/module/ttm/parameters/page_pool_size", f"{ttm_pages}\n")
        if gttsize is not None:
            self.write("sys/module/amdgpu/parameters/gttsize", f"{gttsize}\n")

    # /sys/bus/pci
    def pci(self, addr, cls, vendor, device, subv, subd, rev, driver, bars, boot_vga=None, numa=-1,
            link=("16.0 GT/s PCIe", "16"), drm=(), extra=None):
        d = f"sys/bus/pci/devices/{addr}"
        self.write(f"{d}/class", f"0x{cls:06x}\n")
        self.write(f"{d}/vendor", f"0x{vendor:04x}\n")
        self.write(f"{d}/device", f"0x{device:04x}\n")
        self.write(f"{d}/subsystem_vendor", f"0x{subv:04x}\n")
        self.write(f"{d}/subsystem_device", f"0x{subd:04x}\n")
        self.write(f"{d}/revision", f"0x{rev:02x}\n")
        self.write(f"{d}/numa_node", f"{numa}\n")
        self.write(f"{d}/enable", "1\n")
        if link:
            self.write(f"{d}/current_link_speed", link[0] + "\n")
            self.write(f"{d}/current_link_width", link[1] + "\n")
        if boot_vga is not None:
            self.write(f"{d}/boot_vga", f"{boot_vga}\n")
        # 13 lines: BAR0-5, ROM, then SR-IOV BARs (unused here).
        lines = []
        table = {i: (0, 0, 0) for i in range(13)}
        for idx, start, size, flags in bars:
            table[idx] = (start, start + size - 1, flags)
        for i in range(13):
            s, e, f = table[i]
            lines.append(f"0x{s:016x} 0x{e:016x} 0x{f:016x}")
        self.write(f"{d}/resource", "\n".join(lines) + "\n")
        if driver:
            self.mkdir(f"sys/bus/pci/drivers/{driver}")
            self.link(f"{d}/driver", f"../../drivers/{driver}")
        for node in drm:
            self.mkdir(f"{d}/drm/{node}")
            self.write(f"{d}/drm/{node}/dev", "226:%d\n" % (int(node[7:]) if node.startswith("renderD") else int(node[4:])))
            if node.startswith("card"):
                self.link(f"{d}/drm/{node}/device", "../..")
                self.link(f"sys/class/drm/{node}", f"../../bus/pci/devices/{addr}/drm/{node}")
        for k, v in (extra or {}).items():
            self.write(f"{d}/{k}", v)

    def amdgpu_mem(self, addr, vram, vram_used, vis, gtt, gtt_used):
        d = f"sys/bus/pci/devices/{addr}"
        for k, v in (("mem_info_vram_total", vram), ("mem_info_vram_used", vram_used), ("mem_info_vis_vram_total", vis),
                     ("mem_info_vis_vram_used", min(vis, vram_used)), ("mem_info_gtt_total", gtt),
                     ("mem_info_gtt_used", gtt_used)):
            self.write(f"{d}/{k}", f"{v}\n")

    def kfd_cpu(self, node, cores, cpu_mhz):
        self.write(f"sys/class/kfd/kfd/topology/nodes/{node}/gpu_id", "0\n")
        self.write(f"sys/class/kfd/kfd/topology/nodes/{node}/name", "\n")
        props = [("cpu_cores_count", cores), ("simd_count", 0), ("mem_banks_count", 1), ("caches_count", 0),
                 ("io_links_count", 1), ("p2p_links_count", 0), ("cpu_core_id_base", 0), ("simd_id_base", 0),
                 ("max_waves_per_simd", 0), ("lds_size_in_kb", 0), ("gds_size_in_kb", 0), ("num_gws", 0),
                 ("wave_front_size", 0), ("array_count", 0), ("simd_arrays_per_engine", 0), ("cu_per_simd_array", 0),
                 ("simd_per_cu", 0), ("max_slots_scratch_cu", 0), ("gfx_target_version", 0), ("vendor_id", 0),
                 ("device_id", 0), ("location_id", 0), ("domain", 0), ("drm_render_minor", 0), ("hive_id", 0),
                 ("num_sdma_engines", 0), ("num_sdma_xgmi_engines", 0), ("num_sdma_queues_per_engine", 0),
                 ("num_cp_queues", 0), ("max_engine_clk_ccompute", cpu_mhz)]
        self.write(f"sys/class/kfd/kfd/topology/nodes/{node}/properties", "".join(f"{k} {v}\n" for k, v in props))

    def kfd_gpu(self, node, gpu_id, gfx_version, simd, simd_per_cu, wave, device_id, bus, render_minor, clk, domain=0):
        self.write(f"sys/class/kfd/kfd/topology/nodes/{node}/gpu_id", f"{gpu_id}\n")
        self.write(f"sys/class/kfd/kfd/topology/nodes/{node}/name", "ip discovery\n")
        props = [("cpu_cores_count", 0), ("simd_count", simd), ("mem_banks_count", 1), ("caches_count", 120),
                 ("io_links_count", 1), ("p2p_links_count", 0), ("cpu_core_id_base", 0),
                 ("simd_id_base", 2147487744 + 1024 * node), ("max_waves_per_simd", 16 if wave == 32 else 8),
                 ("lds_size_in_kb", 64), ("gds_size_in_kb", 0), ("num_gws", 64), ("wave_front_size", wave),
                 ("array_count", 8), ("simd_arrays_per_engine", 2), ("cu_per_simd_array", 8),
                 ("simd_per_cu", simd_per_cu), ("max_slots_scratch_cu", 32), ("gfx_target_version", gfx_version),
                 ("vendor_id", 4098), ("device_id", device_id), ("location_id", bus << 8), ("domain", domain),
                 ("drm_render_minor", render_minor), ("hive_id", 0), ("num_sdma_engines", 2),
                 ("num_sdma_xgmi_engines", 0), ("num_sdma_queues_per_engine", 6), ("num_cp_queues", 8),
                 ("max_engine_clk_fcompute", clk), ("local_mem_size", 0), ("fw_version", 2030),
                 ("capability", 671588992), ("debug_prop", 1495), ("sdma_fw_version", 21),
                 ("unique_id", 0), ("num_xcc", 1), ("max_engine_clk_ccompute", 3400)]
        self.write(f"sys/class/kfd/kfd/topology/nodes/{node}/properties", "".join(f"{k} {v}\n" for k, v in props))
        self.write("sys/class/kfd/kfd/topology/generation_id", "1\n")

    # /dev, /etc, /usr
    def dev(self, rel, owner, group, mode):
        self.write(f"dev/{rel}", "")
        self.nodes.append(f"{rel} {owner} {group} {mode}")

    def finish(self):
        if self.nodes:
            self.write("dev/.nodes", "# path-under-/dev owner group mode, as `ls -l` showed them\n" +
                       "\n".join(self.nodes) + "\n")

    def groups(self, lines):
        base = ["root:x:0:", "daemon:x:1:", "bin:x:2:", "sys:x:3:", "adm:x:4:syslog", "tty:x:5:", "disk:x:6:",
                "kmem:x:15:", "video:x:44:", "users:x:100:"]
        self.write("etc/group", "\n".join(base + lines) + "\n")

    def os_release(self, pretty, id_, id_like="", version=""):
        s = f'PRETTY_NAME="{pretty}"\nNAME="{pretty.split(" ")[0]}"\nID={id_}\n'
        if id_like:
            s += f"ID_LIKE={id_like}\n"
        if version:
            s += f'VERSION_ID="{version}"\n'
        self.write("etc/os-release", s)

    def icd(self, dirrel, file, lib, api):
        self.write(f"{dirrel}/{file}",
                   '{\n    "ICD": {\n        "api_version": "%s",\n        "library_path": "%s"\n    },\n'
                   '    "file_format_version": "1.0.0"\n}\n' % (api, lib))

    def lib(self, rel):
        self.write(rel, "")


def kmsg(records):
    """Kernel messages in /dev/kmsg's record format: "priority,sequence,microseconds,flags;text"."""
    out = []
    for i, (prio, usec, text) in enumerate(records):
        out.append(f"{prio},{i + 1},{usec},-;{text}")
    return "\n".join(out) + "\n"


GiB = 1 << 30
MiB = 1 << 20


def desktop_rx7900xtx():
    t = Tree("desktop-rx7900xtx")
    t.cpuinfo("AuthenticAMD", 25, 33, "AMD Ryzen 7 5800X3D 8-Core Processor", 8, 16, ZEN3, 3400.0)
    t.meminfo(65761364, 55012300, 58213440, 2097148)
    t.kernel("6.8.0-45-generic", "BOOT_IMAGE=/boot/vmlinuz-6.8.0-45-generic root=UUID=3f1c0c2e ro quiet splash")
    t.modules(["amdgpu", "ttm", "drm"], ttm_pages=8220170, gttsize=-1)
    gpu = "0000:03:00.0"
    t.pci(gpu, 0x030000, 0x1002, 0x744C, 0x1DA2, 0xE471, 0xC8, "amdgpu",
          [(0, 0x7800000000, 32 * GiB, MEM64_PREF), (2, 0x8000000000, 2 * MiB, MEM64_PREF), (4, 0xE000, 256, IO),
           (5, 0xFCA00000, 1 * MiB, MEM32), (6, 0xFCB00000, 128 << 10, ROM)],
          boot_vga=1, drm=("card1", "renderD128"))
    t.amdgpu_mem(gpu, 25753026560, 1103630336, 25753026560, 33669818368, 38682624)
    t.kfd_cpu(0, 16, 3400)
    t.kfd_gpu(1, 52462, 110000, 192, 2, 32, 0x744C, 0x03, 128, 2526)
    t.dev("dri/card1", "root", "video", "0660")
    t.dev("dri/renderD128", "root", "render", "0660")
    t.dev("kfd", "root", "render", "0660")
    t.write("dev/kmsg", kmsg([
        (6, 2103001, "[drm] amdgpu kernel modesetting enabled."),
        (6, 2240112, "amdgpu 0000:03:00.0: amdgpu: Fetched VBIOS from VFCT"),
        (6, 2241870, "amdgpu 0000:03:00.0: amdgpu: VRAM: 24560M 0x0000008000000000 - 0x00000085FEFFFFFF (24560M used)"),
        (6, 2241901, "amdgpu 0000:03:00.0: amdgpu: GART: 512M 0x00007FFF00000000 - 0x00007FFF1FFFFFFF"),
        (6, 2300456, "[drm] amdgpu: 24560M of VRAM memory ready"),
        (6, 2300470, "[drm] amdgpu: 32110M of GTT memory ready."),
        (6, 3112300, "kfd kfd: amdgpu: added device 1002:744c"),
        (6, 3300001, "[drm] Initialized amdgpu 3.57.0 20150101 for 0000:03:00.0 on minor 1"),
    ]))
    t.groups(["render:x:992:alice", "alice:x:1000:", "sudo:x:27:alice"])
    t.os_release("Ubuntu 24.04.1 LTS", "ubuntu", "debian", "24.04")
    icd = "usr/share/vulkan/icd.d"
    t.icd(icd, "radeon_icd.x86_64.json", "/usr/lib/x86_64-linux-gnu/libvulkan_radeon.so", "1.3.274")
    t.icd(icd, "lvp_icd.x86_64.json", "/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so", "1.3.274")
    t.icd("etc/vulkan/icd.d", "amd_icd64.json", "/usr/lib/x86_64-linux-gnu/amdvlk64.so", "1.3.293")
    t.lib("usr/lib/x86_64-linux-gnu/libvulkan.so.1")
    t.write("opt/rocm/.info/version", "6.2.0-66\n")
    t.lib("opt/rocm/lib/libamdhip64.so.6")
    t.finish()


def laptop_780m():
    t = Tree("laptop-780m")
    t.cpuinfo("AuthenticAMD", 25, 116, "AMD Ryzen 7 7840U w/ Radeon  780M Graphics", 8, 16, ZEN4, 3300.0)
    t.meminfo(31988448, 18320456, 24117340, 8388604)
    t.kernel("6.10.12-200.fc40.x86_64",
             "BOOT_IMAGE=(hd0,gpt2)/vmlinuz-6.10.12-200.fc40.x86_64 root=UUID=9b1e6f4a ro rootflags=subvol=root rhgb quiet")
    t.modules(["amdgpu", "ttm", "drm"], ttm_pages=3998556, gttsize=-1)
    gpu = "0000:c4:00.0"
    t.pci(gpu, 0x030000, 0x1002, 0x15BF, 0xF111, 0x0006, 0xC4, "amdgpu",
          [(0, 0x7C10000000, 256 * MiB, MEM64_PREF), (2, 0x7C20000000, 2 * MiB, MEM64_PREF), (4, 0x1000, 256, IO),
           (5, 0x90500000, 512 << 10, MEM32)],
          boot_vga=1, drm=("card1", "renderD128"))
    t.amdgpu_mem(gpu, 536870912, 398340096, 536870912, 16378085376, 106102784)
    t.kfd_cpu(0, 16, 3300)
    t.kfd_gpu(1, 36471, 110003, 24, 2, 32, 0x15BF, 0xC4, 128, 2700)
    t.dev("dri/card1", "root", "video", "0660")
    t.dev("dri/renderD128", "root", "render", "0660")
    t.dev("kfd", "root", "render", "0660")
    t.write("dev/kmsg", kmsg([
        (6, 1903001, "[drm] amdgpu kernel modesetting enabled."),
        (6, 2040112, "amdgpu 0000:c4:00.0: amdgpu: Fetched VBIOS from VFCT"),
        (6, 2100456, "[drm] amdgpu: 512M of VRAM memory ready"),
        (6, 2100470, "[drm] amdgpu: 15619M of GTT memory ready."),
        (3, 512330112, "amdgpu 0000:c4:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:3 pasid:32771)"),
        (3, 512330190, "amdgpu 0000:c4:00.0: amdgpu:   in process hearth pid 4242 thread hearth pid 4242"),
        (3, 522331000, "[drm:amdgpu_job_timedout [amdgpu]] *ERROR* ring gfx_0.0.0 timeout, signaled seq=1121, emitted seq=1123"),
        (4, 522331100, "amdgpu 0000:c4:00.0: amdgpu: GPU reset begin!"),
        (6, 523001000, "amdgpu 0000:c4:00.0: amdgpu: GPU reset(1) succeeded!"),
    ]))
    # bob was added to render with usermod but the recorded session predates it (see the tests).
    t.groups(["render:x:105:bob", "wheel:x:10:bob", "bob:x:1000:"])
    t.os_release("Fedora Linux 40 (Workstation Edition)", "fedora", "", "40")
    icd = "usr/share/vulkan/icd.d"
    t.icd(icd, "radeon_icd.x86_64.json", "/usr/lib64/libvulkan_radeon.so", "1.3.289")
    t.icd(icd, "lvp_icd.x86_64.json", "/usr/lib64/libvulkan_lvp.so", "1.3.289")
    t.lib("usr/lib64/libvulkan.so.1")
    t.finish()


def desktop_rx6800xt_igpu():
    t = Tree("desktop-rx6800xt-igpu")
    t.cpuinfo("AuthenticAMD", 25, 97, "AMD Ryzen 5 7600 6-Core Processor", 6, 12, ZEN4, 3800.0)
    t.meminfo(32037380, 26003200, 28870212, 0)
    t.kernel("6.11.5-arch1-1", "BOOT_IMAGE=/vmlinuz-linux root=UUID=d1f0a7c3 rw loglevel=3 quiet")
    t.modules(["amdgpu", "ttm", "drm"], ttm_pages=4004672, gttsize=-1)
    dgpu, igpu = "0000:03:00.0", "0000:13:00.0"
    # Resizable BAR off in the firmware: the VRAM window is the legacy 256 MiB below 4 GiB.
    t.pci(dgpu, 0x030000, 0x1002, 0x73BF, 0x1DA2, 0x438E, 0xC1, "amdgpu",
          [(0, 0xD0000000, 256 * MiB, MEM64_PREF), (2, 0xE0000000, 2 * MiB, MEM64_PREF), (4, 0xF000, 256, IO),
           (5, 0xFCC00000, 1 * MiB, MEM32), (6, 0xFCD00000, 128 << 10, ROM)],
          boot_vga=1, drm=("card1", "renderD128"))
    t.amdgpu_mem(dgpu, 17163091968, 612368384, 268435456, 16403136512, 17039360)
    t.pci(igpu, 0x030000, 0x1002, 0x164E, 0x1043, 0x8877, 0xC1, "amdgpu",
          [(0, 0xF800000000, 256 * MiB, MEM64_PREF), (2, 0xF810000000, 2 * MiB, MEM64_PREF), (4, 0xE000, 256, IO),
           (5, 0xFC900000, 512 << 10, MEM32)],
          boot_vga=0, drm=("card2", "renderD129"))
    t.amdgpu_mem(igpu, 536870912, 27394048, 536870912, 16403136512, 3309568)
    t.kfd_cpu(0, 12, 3800)
    t.kfd_gpu(1, 41733, 100300, 144, 2, 32, 0x73BF, 0x03, 128, 2575)
    t.kfd_gpu(2, 17416, 100306, 4, 2, 32, 0x164E, 0x13, 129, 2200)
    t.dev("dri/card1", "root", "video", "0660")
    t.dev("dri/card2", "root", "video", "0660")
    t.dev("dri/renderD128", "root", "render", "0660")
    t.dev("dri/renderD129", "root", "render", "0660")
    t.dev("kfd", "root", "render", "0660")
    # No dev/kmsg: kernel.dmesg_restrict=1 and a normal user, so the log is not readable.
    t.groups(["render:x:989:carol", "video:x:985:carol", "wheel:x:998:carol", "carol:x:1000:"])
    t.os_release("Arch Linux", "arch")
    icd = "usr/share/vulkan/icd.d"
    t.icd(icd, "radeon_icd.x86_64.json", "/usr/lib/libvulkan_radeon.so", "1.3.295")
    t.icd(icd, "lvp_icd.x86_64.json", "/usr/lib/libvulkan_lvp.so", "1.3.295")
    t.lib("usr/lib/libvulkan.so.1")
    t.write("opt/rocm/.info/version", "6.2.4\n")
    t.lib("opt/rocm/lib/libamdhip64.so.6")
    t.finish()


def server_mi210():
    t = Tree("server-mi210")
    t.cpuinfo("AuthenticAMD", 23, 49, "AMD EPYC 7232P 8-Core Processor", 8, 16, ZEN2, 3100.0)
    t.meminfo(263842260, 250113000, 255910220, 0)
    t.kernel("5.15.0-122-generic", "BOOT_IMAGE=/vmlinuz-5.15.0-122-generic root=/dev/mapper/vg0-root ro iommu=pt")
    t.modules(["amdgpu", "ttm", "drm"], ttm_pages=32980282, gttsize=-1)
    gpu, bmc = "0000:83:00.0", "0000:c2:00.0"
    t.pci(gpu, 0x038000, 0x1002, 0x740F, 0x1002, 0x0C34, 0x02, "amdgpu",
          [(0, 0x3A0000000000, 64 * GiB, MEM64_PREF), (2, 0x3A1000000000, 2 * MiB, MEM64_PREF),
           (5, 0xB8400000, 512 << 10, MEM32), (6, 0xB8480000, 128 << 10, ROM)],
          boot_vga=0, numa=0, drm=("card1", "renderD128"))
    t.amdgpu_mem(gpu, 68702699520, 11452416, 68702699520, 135087237120, 20971520)
    t.pci(bmc, 0x030000, 0x1A03, 0x2000, 0x15D9, 0x1B95, 0x52, "ast",
          [(0, 0xBE000000, 16 * MiB, MEM32), (1, 0xBF000000, 256 << 10, MEM32), (2, 0x2000, 128, IO)],
          boot_vga=1, numa=1, link=("2.5 GT/s PCIe", "1"), drm=("card0",))
    t.kfd_cpu(0, 16, 3100)
    t.kfd_gpu(1, 60341, 90010, 416, 4, 64, 0x740F, 0x83, 128, 1700)
    t.dev("dri/card0", "root", "video", "0660")
    t.dev("dri/card1", "root", "video", "0660")
    t.dev("dri/renderD128", "root", "render", "0660")
    t.dev("kfd", "root", "render", "0660")
    t.write("dev/kmsg", kmsg([
        (6, 12103001, "[drm] amdgpu kernel modesetting enabled."),
        (6, 12240112, "amdgpu 0000:83:00.0: amdgpu: VRAM: 65520M 0x0000008000000000 - 0x00000087FEFFFFFF (65520M used)"),
        (6, 12300456, "[drm] amdgpu: 65520M of VRAM memory ready"),
        (6, 12300470, "[drm] amdgpu: 128829M of GTT memory ready."),
        (6, 13112300, "kfd kfd: amdgpu: added device 1002:740f"),
        (6, 13300001, "[drm] Initialized amdgpu 3.49.0 20150101 for 0000:83:00.0 on minor 1"),
        (6, 13400001, "ast 0000:c2:00.0: [drm] Using analog VGA"),
    ]))
    t.groups(["render:x:109:dave", "video:x:44:dave", "dave:x:1000:"])
    t.os_release("Ubuntu 22.04.5 LTS", "ubuntu", "debian", "22.04")
    t.write("opt/rocm/.info/version", "6.2.2-116\n")
    t.lib("opt/rocm/lib/libamdhip64.so.6")
    t.finish()


def server_h100():
    t = Tree("server-h100")
    t.cpuinfo("GenuineIntel", 6, 143, "Intel(R) Xeon(R) Silver 4410Y", 12, 24, SAPPHIRE_RAPIDS, 2000.0)
    t.meminfo(527988136, 510023400, 518100212, 0)
    t.kernel("5.15.0-122-generic", "BOOT_IMAGE=/vmlinuz-5.15.0-122-generic root=/dev/mapper/vg0-root ro")
    t.modules(["nvidia", "nvidia_uvm", "nvidia_modeset", "drm"])
    gpu, bmc = "0000:4a:00.0", "0000:02:00.0"
    t.pci(gpu, 0x030200, 0x10DE, 0x2331, 0x10DE, 0x1626, 0xA1, "nvidia",
          [(0, 0xA8000000, 16 * MiB, MEM32), (1, 0x22000000000, 128 * GiB, MEM64_PREF),
           (3, 0x24002000000, 32 * MiB, MEM64_PREF)],
          boot_vga=0, numa=0, link=("32.0 GT/s PCIe", "16"))
    t.pci(bmc, 0x030000, 0x1A03, 0x2000, 0x1A03, 0x2000, 0x52, "ast",
          [(0, 0x94000000, 16 * MiB, MEM32), (1, 0x95000000, 256 << 10, MEM32), (2, 0x3000, 128, IO)],
          boot_vga=1, numa=0, link=("2.5 GT/s PCIe", "1"), drm=("card0",))
    t.write(f"proc/driver/nvidia/gpus/{gpu}/information",
            "Model: \t\t NVIDIA H100 PCIe\nIRQ:   \t\t 212\nGPU UUID: \t GPU-5e4c2a11-8f3d-4b1c-9a27-0c6d2e7f4b90\n"
            "Video BIOS: \t 96.00.30.00.01\nBus Type: \t PCIe\nDMA Size: \t 52 bits\nDMA Mask: \t 0xfffffffffffff\n"
            f"Bus Location: \t {gpu}\nDevice Minor: \t 0\nGPU Firmware: \t 550.90.07\nGPU Excluded:\t No\n")
    t.write("proc/driver/nvidia/version",
            "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  550.90.07  Release Build  "
            "(dvs-builder@U16-I3-B03-4-3)  Fri May 31 09:35:42 UTC 2024\n"
            "GCC version:  gcc version 12.3.0 (Ubuntu 12.3.0-1ubuntu1~22.04)\n")
    t.dev("dri/card0", "root", "video", "0660")
    t.dev("nvidiactl", "root", "root", "0666")
    t.dev("nvidia0", "root", "root", "0666")
    t.dev("nvidia-uvm", "root", "root", "0666")
    t.write("dev/kmsg", kmsg([
        (6, 9103001, "nvidia: loading out-of-tree module taints kernel."),
        (6, 9240112, "nvidia-nvlink: Nvlink Core is being initialized, major device number 511"),
        (6, 9300456, "NVRM: loading NVIDIA UNIX Open Kernel Module for x86_64  550.90.07  Release Build"),
        (4, 88123001, "NVRM: Xid (PCI:0000:4a:00): 31, pid=51234, name=python3, Ch 00000008, intr 00000000. "
                      "MMU Fault: ENGINE GRAPHICS GPCCLIENT_T1_0 faulted @ 0x7f12_3456a000. Fault is of type "
                      "FAULT_PDE ACCESS_TYPE_VIRT_READ"),
    ]))
    t.groups(["render:x:109:", "video:x:44:erin", "erin:x:1000:"])
    t.os_release("Ubuntu 22.04.5 LTS", "ubuntu", "debian", "22.04")
    t.icd("usr/share/vulkan/icd.d", "nvidia_icd.json", "libGLX_nvidia.so.0", "1.3.277")
    t.lib("usr/lib/x86_64-linux-gnu/libvulkan.so.1")
    t.lib("usr/lib/x86_64-linux-gnu/libcuda.so.1")
    t.finish()


def no_gpu():
    # Recorded from the project's 2-core build VM (Firecracker, virtio devices only, Debian 12).
    t = Tree("no-gpu")
    flags = ("fpu vme de pse tsc msr pae mce cx8 apic sep pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall "
             "nx mmxext lm constant_tsc rep_good nopl xtopology tsc_reliable nonstop_tsc cpuid extd_apicid tsc_known_freq "
             "pni pclmulqdq ssse3 fma cx16 sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand "
             "hypervisor lahf_lm cr8_legacy misalignsse 3dnowprefetch topoext pti vmmcall bmi1 avx2 bmi2 erms avx512f "
             "avx512dq adx avx512ifma clflushopt clwb avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 avx_vnni "
             "avx512_bf16 clzero xsaveerptr arat avx512vbmi avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni avx512_bitalg "
             "avx512_vpopcntdq movdiri movdir64b fsrm avx512_vp2intersect")
    t.cpuinfo("AuthenticAMD", 26, 2, "AMD EPYC", 2, 2, flags, 2096.032)
    t.meminfo(24683620, 24026032, 24299604, 0)
    t.kernel("6.18.44-fc-v782", "console=ttyS0 quiet reboot=k panic=1 nomodule")
    t.pci("0000:00:00.0", 0x060000, 0x8086, 0x0D57, 0x0000, 0x0000, 0x00, None, [], link=None)
    t.pci("0000:00:01.0", 0xFFFF00, 0x1AF4, 0x1045, 0x1AF4, 0x0000, 0x01, "virtio-pci",
          [(0, 0xC0000000, 4 << 10, MEM32)], link=None)
    t.pci("0000:00:02.0", 0x018000, 0x1AF4, 0x1042, 0x1AF4, 0x0000, 0x01, "virtio-pci",
          [(0, 0xC0001000, 4 << 10, MEM32)], link=None)
    t.pci("0000:00:03.0", 0x020000, 0x1AF4, 0x1041, 0x1AF4, 0x0000, 0x01, "virtio-pci",
          [(0, 0xC0002000, 4 << 10, MEM32)], link=None)
    t.write("dev/kmsg", kmsg([
        (6, 0, "Linux version 6.18.44-fc-v782 (gcc version 12.2.0) #1 SMP PREEMPT_DYNAMIC"),
        (6, 1000, "Command line: console=ttyS0 quiet reboot=k panic=1 nomodule"),
        (6, 52000, "virtio-pci 0000:00:02.0: enabling device (0000 -> 0002)"),
    ]))
    t.groups(["render:x:105:", "root:x:0:"])
    t.os_release("Debian GNU/Linux 12 (bookworm)", "debian", "", "12")
    icd = "usr/share/vulkan/icd.d"
    for f, lib, api in (("intel_hasvk_icd.x86_64.json", "libvulkan_intel_hasvk.so", "1.3.230"),
                        ("intel_icd.x86_64.json", "libvulkan_intel.so", "1.3.230"),
                        ("lvp_icd.x86_64.json", "libvulkan_lvp.so", "1.1.230"),
                        ("radeon_icd.x86_64.json", "libvulkan_radeon.so", "1.3.230")):
        t.icd(icd, f, "/usr/lib/x86_64-linux-gnu/" + lib, api)
    t.lib("usr/lib/x86_64-linux-gnu/libvulkan.so.1")
    t.lib("usr/lib/x86_64-linux-gnu/libamdhip64.so.5")
    t.finish()


def main():
    for make in (desktop_rx7900xtx, laptop_780m, desktop_rx6800xt_igpu, server_mi210, server_h100, no_gpu):
        make()
    print("trees written under", HERE, file=sys.stderr)


if __name__ == "__main__":
    main()
