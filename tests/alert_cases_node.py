"""promtool cases for the node group (node-exporter): each fires on what it should detect and stays quiet
on the healthy or borderline twin. Node-exporter targets carry instance and node (the node's name)."""
from alert_cases_base import case, rising

NODE = {"instance": "n1", "node": "n1"}
N = 'instance="n1",node="n1"'
FS_LABELS = {**NODE, "mountpoint": "/var", "fstype": "xfs", "device": "/dev/nvme1n1"}
FS = f'{N},mountpoint="/var",fstype="xfs",device="/dev/nvme1n1"'
NIC = {**NODE, "device": "ens5"}


def gauge(metric, labels_sel, fire, quiet, at, labels):
    series = f"{metric}{{{labels_sel}}}"
    return case({series: fire}, {series: quiet}, at, labels)


def filesystem(kind, fire, quiet, at, steps=100):
    """kind: space or files. fire/quiet: the free series; capacity 1000; the filesystem is writable."""
    free, total = {"space": ("avail_bytes", "size_bytes"), "files": ("files_free", "files")}[kind]
    base = {f"node_filesystem_{total}{{{FS}}}": f"1000x{steps}", f"node_filesystem_readonly{{{FS}}}": f"0x{steps}"}
    return case({**base, f"node_filesystem_{free}{{{FS}}}": fire},
                {**base, f"node_filesystem_{free}{{{FS}}}": quiet}, at, FS_LABELS)


def ratio(numerator, denominator, labels_sel, fire, quiet, total, at, labels):
    return case({f"{numerator}{{{labels_sel}}}": fire, f"{denominator}{{{labels_sel}}}": total},
                {f"{numerator}{{{labels_sel}}}": quiet, f"{denominator}{{{labels_sel}}}": total}, at, labels)


def network_errors(direction):
    sel = f'{N},device="ens5"'
    return ratio(f"node_network_{direction}_errs_total", f"node_network_{direction}_packets_total", sel,
                 rising(120, 80), "0x80", rising(6000, 80), "70m", NIC)


NODE_CASES = {
    "NodeFilesystemFillingUp": filesystem("space", "100x30", "500x30", "20m", 30),
    # Falls 2 per minute from 39%: full within 4 h. The quiet twin is as full but does not move.
    "NodeFilesystemSpaceFillingUp": filesystem("space", "390-2x100", "390x100", "75m"),
    "NodeFilesystemAlmostOutOfSpace": filesystem("space", "30x40", "100x40", "35m", 40),
    "NodeFilesystemFilesFillingUp": filesystem("files", "390-2x100", "390x100", "75m"),
    "NodeFilesystemAlmostOutOfFiles": filesystem("files", "20x40", "100x40", "35m", 40),
    # Writable, then remounted read-only; the quiet twin is read-only by design (Bottlerocket's root).
    "NodeFilesystemReadOnlyRemount": gauge("node_filesystem_readonly", FS, "0x10 1x20", "1x30", "15m", FS_LABELS),
    "NodeFilesystemDeviceError": gauge("node_filesystem_device_error", FS, "1x30", "0x30", "20m", FS_LABELS),
    "NodeMemoryHigh": ratio("node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes", N, "5x30", "50x30",
                            "100x30", "20m", NODE),
    "NodeMemoryMajorPagesFaults": gauge("node_vmstat_pgmajfault", N, rising(36000), rising(600), "25m", NODE),
    "NodeMemoryPressure": gauge("node_pressure_memory_waiting_seconds_total", N, rising(12), rising(1), "25m", NODE),
    "NodeOOMKillDetected": gauge("node_vmstat_oom_kill", N, "0x5 1x20", "0x25", "8m", NODE),
    "NodeHighLoad": case({f'node_cpu_seconds_total{{{N},cpu="0",mode="idle"}}': rising(30),
                          f'node_cpu_seconds_total{{{N},cpu="1",mode="idle"}}': rising(30), f"node_load1{{{N}}}": "5x30"},
                         {f'node_cpu_seconds_total{{{N},cpu="0",mode="idle"}}': rising(30),
                          f'node_cpu_seconds_total{{{N},cpu="1",mode="idle"}}': rising(30), f"node_load1{{{N}}}": "3x30"},
                         "20m", NODE),
    # Idle 3 of 60 CPU-seconds a minute: 95% busy. Quiet: idle 54 of 60.
    "NodeCPUHighUsage": gauge("node_cpu_seconds_total", f'{N},cpu="0",mode="idle"', rising(3), rising(54), "25m", NODE),
    "NodeFileDescriptorLimit": ratio("node_filefd_allocated", "node_filefd_maximum", N, "80x30", "50x30", "100x30",
                                     "20m", NODE),
    "NodeNetworkReceiveErrs": network_errors("receive"),
    "NodeNetworkTransmitErrs": network_errors("transmit"),
    "NodeConntrackTableFilling": ratio("node_nf_conntrack_entries", "node_nf_conntrack_entries_limit", N, "80x30",
                                       "50x30", "100x30", "20m", NODE),
    "NodeNetworkInterfaceFlapping": gauge("node_network_up", f'{N},device="ens5"', " ".join("10" * 10), "1x20",
                                          "15m", NIC),
    # 12 requests queued on average; quiet: 1.
    "NodeDiskIOSaturation": gauge("node_disk_io_time_weighted_seconds_total", f'{N},device="nvme0n1"', rising(720, 50),
                                  rising(60, 50), "40m", {**NODE, "device": "nvme0n1"}),
    "NodeClockSkew": gauge("node_timex_offset_seconds", N, "0.1x20", "0.001x20", "15m", NODE),
    "NodeClockNotSynchronising": case({f"node_timex_sync_status{{{N}}}": "0x20", f"node_timex_maxerror_seconds{{{N}}}": "16x20"},
                                      {f"node_timex_sync_status{{{N}}}": "1x20", f"node_timex_maxerror_seconds{{{N}}}": "16x20"},
                                      "15m", NODE),
    "NodeRebooted": gauge("node_boot_time_seconds", N, "1000x10 5000x10", "1000x20", "12m", NODE),
}
